// Inbound routing: which envelope recipients this server accepts mail for, and what becomes of a
// message once accepted. The MX door (src/smtp/mx.ts) asks `routeRecipient` at every RCPT and
// hands the accepted message to `deliverInbound`; it knows nothing else. The receiving issue adds
// target kinds here (mailbox, alias, catch-all, forward, agent inbox) without touching the door.
//
// Implementation notes:
// - Never relay (RFC 5321 §3.6.2, §7.1): an address in a domain we do not serve is refused at RCPT
//   with 550 5.7.1; an unknown user in a domain we do serve with 550 5.1.1 (RFC 3463 §3.2).
// - Today the domains we serve are the return-path hosts `<return_path>.<domain>` of the domains
//   added by any workspace. In them we accept the VERP address of a recipient we sent to
//   (`bounce+<token>@`, src/outbound/verp.ts) — only when the token's email was sent from a domain
//   with that return-path host, so a token cannot be replayed through another tenant's host — and
//   the role addresses `postmaster` (RFC 5321 §4.5.1 requires it) and `abuse` (RFC 2142), where
//   feedback loops send ARF reports.
// - `deliverInbound` runs all its changes in one transaction; the door answers 250 only after it
//   returns, so an acknowledged report is never lost.
import type { Core } from '../core/core.ts';
import { verpToken } from '../outbound/verp.ts';
import { processReports } from './bounces.ts';

export type InboundTarget =
  /** The VERP return path of one recipient of one message we sent. */
  | { kind: 'return_path'; address: string; recipientId: string; workspaceId: string; emailId: string }
  /** postmaster@ / abuse@ of a return-path host: reports that must be mapped by their content. */
  | { kind: 'report_address'; address: string; host: string; workspaceIds: string[] };

export type RcptDecision =
  | { accept: true; target: InboundTarget }
  | { accept: false; code: 550; enhanced: '5.1.1' | '5.7.1' | '5.1.3'; message: string };

const ROLE_ADDRESSES = new Set(['postmaster', 'abuse']);

function splitAddress(address: string): { local: string; host: string } | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), host: address.slice(at + 1).toLowerCase().replace(/\.$/, '') };
}

/** The domains (any workspace) whose return-path host is `host`. */
async function returnPathDomains(core: Core, host: string): Promise<{ id: string; workspace_id: string }[]> {
  const dot = host.indexOf('.');
  if (dot <= 0) return [];
  return core.db
    .selectFrom('domains')
    .select(['id', 'workspace_id'])
    .where('return_path', '=', host.slice(0, dot))
    .where('name', '=', host.slice(dot + 1))
    .execute();
}

/** Decides one RCPT TO. Never throws for bad input: every address gets an answer. */
export async function routeRecipient(core: Core, rawAddress: string): Promise<RcptDecision> {
  const address = rawAddress.trim();
  const parts = splitAddress(address);
  if (!parts || address.length > 320) return { accept: false, code: 550, enhanced: '5.1.3', message: 'Bad destination mailbox address syntax' };
  const domains = await returnPathDomains(core, parts.host);
  if (!domains.length) {
    return { accept: false, code: 550, enhanced: '5.7.1', message: `Relaying denied: this server does not accept mail for ${parts.host.slice(0, 255)}` };
  }
  const local = parts.local.toLowerCase();
  if (ROLE_ADDRESSES.has(local)) {
    return { accept: true, target: { kind: 'report_address', address: `${local}@${parts.host}`, host: parts.host, workspaceIds: [...new Set(domains.map((d) => d.workspace_id))] } };
  }
  const token = verpToken(address);
  if (token) {
    const r = await core.db
      .selectFrom('email_recipients')
      .innerJoin('emails', 'emails.id', 'email_recipients.email_id')
      .select(['email_recipients.id as id', 'email_recipients.workspace_id as workspace_id', 'emails.id as email_id', 'emails.domain_id as domain_id'])
      .where('email_recipients.verp_token', '=', token)
      .executeTakeFirst();
    if (r && domains.some((d) => d.id === r.domain_id && d.workspace_id === r.workspace_id)) {
      return { accept: true, target: { kind: 'return_path', address: address.toLowerCase(), recipientId: r.id, workspaceId: r.workspace_id, emailId: r.email_id } };
    }
  }
  return { accept: false, code: 550, enhanced: '5.1.1', message: 'No such user here' };
}

export interface InboundMessage {
  raw: Buffer;
  /** The envelope sender; '' for the null reverse-path `<>` that DSNs use (RFC 5321 §4.5.5). */
  mailFrom: string;
  targets: InboundTarget[];
  remoteAddress: string | null;
  heloName: string | null;
}

/** The answer to the DATA command: 250 when taken, or a permanent refusal with its reason. */
export interface DeliveryOutcome {
  code: 250 | 554;
  /** RFC 3463 enhanced status code, e.g. 2.0.0 or 5.6.0. */
  enhanced: string;
  reply: string;
}

/**
 * Takes an accepted message to every target. Returns once every change is committed; throws on
 * a store failure (the door answers 451 and the sender tries again later).
 */
export async function deliverInbound(core: Core, message: InboundMessage): Promise<DeliveryOutcome> {
  const reports = message.targets.filter((t) => t.kind === 'return_path' || t.kind === 'report_address');
  if (reports.length) return processReports(core, message, reports);
  return { code: 250, enhanced: '2.0.0', reply: 'OK: nothing to do' };
}
