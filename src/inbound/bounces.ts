// Bounces and complaints: what a DSN (RFC 3464) or an ARF report (RFC 5965) that reached one of
// our return-path addresses does to the recipient it is about.
//
// Implementation notes:
// - One report maps to one recipient of one email. At a VERP address the RCPT names it (the token
//   is unique, src/outbound/verp.ts). At postmaster@/abuse@ (feedback loops) the report's content
//   must name it: the VERP token in the returned message's Return-Path, else Original-Rcpt-To /
//   Final-Recipient together with the returned message's Message-ID, always within the
//   workspaces that own the return-path host the report came to.
// - Action: failed (RFC 3464 §2.3.3) → `bounced` with Resend's bounce detail; a 5.x.x status
//   (RFC 3463 §3.1, permanent) also suppresses the address (origin 'bounce'). A 4.x.x one marks
//   the bounce Transient and does not suppress. Action: delayed, delivered, relayed, expanded
//   change nothing: our own worker tracks delays and a later DSN will say how it ended.
// - Feedback-Type: abuse (RFC 5965 §7.3) → `complained` and a suppression (origin 'complaint').
//   Other feedback types (not-spam, auth-failure …) are logged and change nothing.
// - A report about a recipient we never contacted (suppressed, canceled, still scheduled) is a
//   forgery or a mistake: dropped with a log line.
// - A report that maps to nothing, or a message that is not a report, is accepted and dropped with
//   a log line: answering a bounce with an error helps nobody (RFC 3464 §2 notes DSNs are sent
//   with a null return path, so an error would go nowhere). A message the MIME parser cannot read
//   at all is refused with 554 5.6.0 (RFC 3463 §3.7), a clear answer in SMTP terms.
// - Every change for one message happens in one transaction, including the `email.bounced` /
//   `email.complained` and `suppression.added` events and the audit records; repeats are harmless
//   (setRecipientStatus refuses to leave a final state twice; suppressions are idempotent).
import { type Core, systemActor } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { RecipientStatus } from '../db/schema.ts';
import { setRecipientStatus } from '../outbound/recipients.ts';
import { suppressAddress } from '../outbound/suppressions.ts';
import { verpToken } from '../outbound/verp.ts';
import { type ArfReport, type DsnRecipient, type DsnReport, type Report, UnparseableMessage, bounceOf, clean, parseReport } from './reports.ts';
import type { DeliveryOutcome, InboundMessage, ReportTarget as InboundTarget } from './types.ts';

/** States in which we had handed the message to (or tried to hand it to) the recipient's server. */
const CONTACTED: ReadonlySet<RecipientStatus> = new Set(['sent', 'delivered', 'delivery_delayed', 'bounced', 'complained']);

interface RecipientRef {
  id: string;
  workspace_id: string;
  email_id: string;
  address: string;
  status: RecipientStatus;
}

export async function processReports(core: Core, message: InboundMessage, targets: InboundTarget[]): Promise<DeliveryOutcome> {
  const log = core.log.child({ part: 'inbound.reports', remote: message.remoteAddress, helo: message.heloName });
  let report: Report | null;
  try {
    report = await parseReport(message.raw);
  } catch (err) {
    if (!(err instanceof UnparseableMessage)) throw err;
    log.info({ reason: err.message, to: targets.map((t) => t.address) }, 'report refused: the message cannot be parsed as MIME');
    return { code: 554, enhanced: '5.6.0', reply: 'Message cannot be parsed as MIME; not accepted' };
  }
  if (!report) {
    log.info({ to: targets.map((t) => t.address), size: message.raw.length }, 'report dropped: neither a DSN (RFC 3464) nor an ARF report (RFC 5965)');
    return { code: 250, enhanced: '2.0.0', reply: 'OK: accepted (not a delivery or feedback report; dropped)' };
  }
  const found = report;
  const applied = await core.store.transaction(async (tx) => {
    let n = 0;
    for (const target of targets) {
      const recipient = await recipientFor(tx, target, found);
      if (!recipient) {
        log.info({ to: target.address, kind: found.kind, messageId: found.original.messageId }, 'report dropped: it maps to no recipient of ours');
        continue;
      }
      if (!CONTACTED.has(recipient.status)) {
        log.info({ to: target.address, recipientId: recipient.id, status: recipient.status }, 'report dropped: the recipient was never contacted');
        continue;
      }
      n += found.kind === 'dsn' ? await applyDsn(core, tx, recipient, found, log) : await applyArf(core, tx, recipient, found, log);
    }
    return n;
  });
  return { code: 250, enhanced: '2.0.0', reply: applied ? `OK: ${found.kind === 'dsn' ? 'delivery status' : 'feedback'} report processed` : 'OK: accepted (report matched nothing to change)' };
}

async function recipientById(db: Db, id: string): Promise<RecipientRef | undefined> {
  return db.selectFrom('email_recipients').select(['id', 'workspace_id', 'email_id', 'address', 'status']).where('id', '=', id).executeTakeFirst();
}

/** The recipient a report is about (see the notes at the top), or undefined. */
async function recipientFor(db: Db, target: InboundTarget, report: Report): Promise<RecipientRef | undefined> {
  if (target.kind === 'return_path') return recipientById(db, target.recipientId);
  const scope = target.workspaceIds;
  if (!scope.length) return undefined;
  // The returned message's Return-Path is the VERP address we sent it with.
  const token = report.original.returnPath ? verpToken(report.original.returnPath) : null;
  if (token) {
    const r = await db
      .selectFrom('email_recipients')
      .select(['id', 'workspace_id', 'email_id', 'address', 'status'])
      .where('verp_token', '=', token)
      .where('workspace_id', 'in', scope)
      .executeTakeFirst();
    if (r) return r;
  }
  const messageId = report.original.messageId;
  if (!messageId) return undefined;
  const addresses =
    report.kind === 'arf'
      ? [report.originalRcptTo]
      : report.recipients.flatMap((r) => [r.finalRecipient, r.originalRecipient]);
  const wanted = [...new Set(addresses.filter((a): a is string => !!a))];
  const candidates = await db
    .selectFrom('email_recipients')
    .innerJoin('emails', 'emails.id', 'email_recipients.email_id')
    .select(['email_recipients.id as id', 'email_recipients.workspace_id as workspace_id', 'email_recipients.email_id as email_id', 'email_recipients.address as address', 'email_recipients.status as status'])
    .where('emails.message_id', '=', messageId)
    .where('emails.workspace_id', 'in', scope)
    .limit(101)
    .execute();
  const named = candidates.filter((c) => wanted.includes(c.address));
  if (named.length === 1) return named[0];
  // A message to one recipient is unambiguous even when the report hides the address (RFC 5965
  // §3.2 lets a reporter redact Original-Rcpt-To).
  if (!wanted.length && candidates.length === 1) return candidates[0];
  return undefined;
}

/** The per-recipient group of a DSN about `address`; else the first failed one; else the first. */
function groupFor(report: DsnReport, address: string): DsnRecipient {
  return (
    report.recipients.find((r) => r.finalRecipient === address || r.originalRecipient === address) ??
    report.recipients.find((r) => r.action === 'failed') ??
    report.recipients[0]
  );
}

async function applyDsn(core: Core, tx: Db, recipient: RecipientRef, report: DsnReport, log: Core['log']): Promise<number> {
  const group = groupFor(report, recipient.address);
  if (group.action !== 'failed') {
    log.info({ recipientId: recipient.id, action: group.action, status: group.status }, 'DSN noted: not a failure, nothing changes');
    return 0;
  }
  const bounce = bounceOf(group);
  const response = clean([group.status, group.diagnostic, group.remoteMta && `(remote ${group.remoteMta})`].filter(Boolean).join(' '), 2000) ?? 'DSN: failed';
  const changed = await setRecipientStatus(core, tx, recipient.id, 'bounced', { bounce, response });
  if (bounce.type === 'Permanent') {
    await suppressAddress(core, tx, systemActor, recipient.workspace_id, recipient.address, 'bounce', `Hard bounce: ${bounce.message}`, recipient.email_id);
  }
  log.info({ recipientId: recipient.id, status: group.status, type: bounce.type, changed }, 'DSN processed');
  return 1;
}

async function applyArf(core: Core, tx: Db, recipient: RecipientRef, report: ArfReport, log: Core['log']): Promise<number> {
  if (report.feedbackType !== 'abuse') {
    log.info({ recipientId: recipient.id, feedbackType: report.feedbackType }, 'ARF report noted: not an abuse complaint, nothing changes');
    return 0;
  }
  const by = report.userAgent ?? report.reportingMta ?? 'a feedback loop';
  const changed = await setRecipientStatus(core, tx, recipient.id, 'complained', { response: clean(`Complaint (abuse) reported by ${by}`, 2000) ?? undefined });
  await suppressAddress(core, tx, systemActor, recipient.workspace_id, recipient.address, 'complaint', `Spam complaint reported by ${by}`, recipient.email_id);
  log.info({ recipientId: recipient.id, changed }, 'ARF complaint processed');
  return 1;
}
