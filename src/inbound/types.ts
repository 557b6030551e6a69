// The shapes shared by the router (route.ts) and the parts it hands messages to (deliver.ts,
// forward.ts, bounces.ts). Kept apart so that those parts do not import the router back.

/** A recipient that is a bounce or complaint for mail we sent (bounces.ts handles them). */
export type ReportTarget =
  /** The VERP return path of one recipient of one message we sent. */
  | { kind: 'return_path'; address: string; recipientId: string; workspaceId: string; emailId: string }
  /** postmaster@ / abuse@ of a return-path host: reports that must be mapped by their content. */
  | { kind: 'report_address'; address: string; host: string; workspaceIds: string[] };

export type InboundTarget =
  | ReportTarget
  /** Hosted mail: the RCPT address (lower-cased) and the mailboxes it reaches, all in one workspace. */
  | { kind: 'mailbox'; address: string; via: 'mailbox' | 'alias' | 'catch_all' | 'postmaster'; workspaceId: string; mailboxIds: string[] }
  /** A broadcast's `mailto:` unsubscribe address (src/campaigns/unsubscribe.ts): any mail unsubscribes the contact. */
  | { kind: 'unsubscribe'; address: string; workspaceId: string; contactId: string }
  /** The SRS0 address of a message we forwarded: its bounce goes on to `original`. */
  | { kind: 'srs'; address: string; original: string; domainId: string; workspaceId: string }
  /** dmarc@ of a return-path host: DMARC aggregate reports about these domains (src/deliverability/dmarc-intake.ts). */
  | DmarcTarget;

export interface DmarcTarget {
  kind: 'dmarc_report';
  address: string;
  domains: { id: string; workspace_id: string; name: string }[];
}

export type RcptDecision =
  | { accept: true; target: InboundTarget }
  | { accept: false; code: 550 | 452 | 450; enhanced: '5.1.1' | '5.7.1' | '5.1.3' | '4.2.2' | '5.2.1' | '4.2.1'; message: string };

export interface InboundMessage {
  raw: Buffer;
  /** The envelope sender; '' for the null reverse-path `<>` that DSNs use (RFC 5321 §4.5.5). */
  mailFrom: string;
  targets: InboundTarget[];
  remoteAddress: string | null;
  heloName: string | null;
  /** Optional, when the door knows them: for the Received header (RFC 5321 §4.4, RFC 3848). */
  secure?: boolean;
  /** The reverse-DNS name of the client, when the door looked it up. */
  clientHostname?: string | null;
}

/** The answer to the DATA command: 250 when taken, or a refusal with its reason. */
export interface DeliveryOutcome {
  code: 250 | 451 | 452 | 550 | 552 | 554;
  /** RFC 3463 enhanced status code, e.g. 2.0.0 or 5.6.0. */
  enhanced: string;
  reply: string;
}
