// SPF, DKIM, DMARC and ARC checks of an inbound message (mailauth, through MAILSTACK_DNS_SERVERS),
// summed up in an Authentication-Results header (RFC 8601) that is prepended before storing.
// CONTRACT (filled by the MX helper).

export interface AuthVerdicts {
  spf: string;
  dkim: string;
  dmarc: string;
  arc: string;
  /** The DMARC policy of the From domain when DMARC failed: 'reject' | 'quarantine' | 'none' | null. */
  dmarcPolicy: string | null;
}

export interface AuthenticationResult {
  /** The full header line to prepend, `Authentication-Results: <host>; spf=… dkim=… dmarc=… arc=…\r\n`. */
  header: string;
  verdicts: AuthVerdicts;
  /** Details per check as mailauth gives them, for storing with the message (JSON-able). */
  details: unknown;
  /** DMARC failed under p=reject and MAILSTACK_DMARC_REJECT is on: refuse with 550 5.7.1. */
  reject: boolean;
}

export async function authenticateMessage(
  _core: import('../core/core.ts').Core,
  _input: { raw: Buffer; mailFrom: string; remoteAddress: string | null; heloName: string | null },
): Promise<AuthenticationResult> {
  throw new Error('not implemented yet');
}
