// Outbound delivery in development mode: nothing is sent to the internet. The MTA
// (src/outbound/delivery/deliver.ts) hands every recipient here instead of to an MX:
//   1. the message is captured (capture.ts), once per email;
//   2. Resend's test addresses behave as Resend documents them: `delivered@resend.dev` is
//      delivered, `bounced@resend.dev` bounces (550 5.1.1, a permanent bounce), `complained@resend.dev`
//      is delivered and then marked as spam, `suppressed@resend.dev` is suppressed; each with its
//      webhook, and a `+label` is allowed (`delivered+signup@resend.dev`). Like Resend, they never
//      land on the suppression list, so a test can send to them again and again;
//   3. an address hosted on this node (an inbox, alias or catch-all of a receiving domain) gets
//      the message through the same inbound path the MX uses (route, authenticate, deliver), so
//      two inboxes can write to each other with no DNS at all; an unknown user there bounces;
//   4. any other address counts as delivered: the capture is where the message went.
import type { Core } from '../core/core.ts';
import { deliverInbound, routeRecipient } from '../inbound/route.ts';
import { captureMessage } from './capture.ts';

export const TEST_DOMAIN = 'resend.dev';

export type TestAddress = 'delivered' | 'bounced' | 'complained' | 'suppressed';

/** Which of Resend's test addresses this is (`name` or `name+label` at resend.dev), or null. */
export function testAddress(address: string): TestAddress | null {
  const m = /^([a-z]+)(?:\+[^@]*)?@resend\.dev$/i.exec(address.trim());
  const name = m?.[1].toLowerCase();
  return name === 'delivered' || name === 'bounced' || name === 'complained' || name === 'suppressed' ? name : null;
}

export interface DevelopmentInput {
  from: string;
  to: string;
  raw: Buffer;
  /** What the capture is filed under; null for the platform's own mail. */
  workspaceId: string | null;
  emailId: string | null;
  rawBlob?: string | null;
  fromHeader?: string | null;
  subject?: string | null;
  /** All envelope recipients of the email, for the capture. */
  recipients?: string[];
}

export type DevelopmentOutcome =
  | { kind: 'delivered'; response: string; mxHost: string; tls: boolean; then?: 'complained' }
  | { kind: 'permanent'; response: string; mxHost: string | null }
  | { kind: 'temporary'; response: string; mxHost: string | null }
  | { kind: 'suppressed'; response: string };

const HOST = 'development';

export async function deliverInDevelopment(core: Core, input: DevelopmentInput): Promise<DevelopmentOutcome> {
  await captureMessage(core, {
    workspaceId: input.workspaceId,
    emailId: input.emailId,
    envelopeFrom: input.from,
    recipients: input.recipients ?? [input.to],
    fromHeader: input.fromHeader ?? null,
    subject: input.subject ?? null,
    raw: input.raw,
    rawBlob: input.rawBlob,
  });
  if (input.workspaceId === null) logPlatformMail(core, input);

  switch (testAddress(input.to)) {
    case 'delivered':
      return { kind: 'delivered', response: '250 2.0.0 Delivered (Resend test address, development mode)', mxHost: TEST_DOMAIN, tls: true };
    case 'complained':
      return { kind: 'delivered', response: '250 2.0.0 Delivered (Resend test address, development mode)', mxHost: TEST_DOMAIN, tls: true, then: 'complained' };
    case 'bounced':
      return { kind: 'permanent', response: '550 5.1.1 The email account that you tried to reach does not exist (Resend test address, development mode)', mxHost: TEST_DOMAIN };
    case 'suppressed':
      return { kind: 'suppressed', response: 'suppressed (Resend test address, development mode)' };
  }

  const decision = await routeRecipient(core, input.to);
  if (decision.accept) {
    const outcome = await deliverInbound(core, {
      raw: input.raw,
      mailFrom: input.from,
      targets: [decision.target],
      remoteAddress: '127.0.0.1',
      heloName: core.settings.hostname,
      secure: true,
      clientHostname: null,
    });
    const response = `${outcome.code} ${outcome.enhanced} ${outcome.reply} (delivered on this node, development mode)`;
    if (outcome.code === 250) return { kind: 'delivered', response, mxHost: core.settings.hostname, tls: true };
    return outcome.code >= 500 ? { kind: 'permanent', response, mxHost: core.settings.hostname } : { kind: 'temporary', response, mxHost: core.settings.hostname };
  }
  // A domain this node receives for, but no such user there: the bounce its MX would give.
  if (decision.enhanced === '5.1.1') return { kind: 'permanent', response: `550 5.1.1 ${decision.message}`, mxHost: core.settings.hostname };
  return { kind: 'delivered', response: '250 2.0.0 Captured by development mode, not sent (see GET /v1/captured)', mxHost: HOST, tls: false };
}

/** The platform's own mail is not listed by the API (a sign-in link is a credential): the console shows it. */
function logPlatformMail(core: Core, input: DevelopmentInput): void {
  const text = input.raw.toString('utf8');
  const subject = /^Subject: (.*)$/im.exec(text)?.[1] ?? null;
  // Quoted-printable soft breaks would cut a long link; undo them first.
  const links = [...new Set(text.replace(/=\r?\n/g, '').replace(/=3D/gi, '=').match(/https?:\/\/[^\s<>"]+/g) ?? [])];
  core.log.info({ to: input.to, subject, links }, 'development mode: captured the platform\'s mail instead of sending it');
}
