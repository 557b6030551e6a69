// Per-recipient delivery state: the one place a recipient's status changes. Each change updates
// the email's `last_event` and emits the matching `email.*` event in the same transaction, so the
// log, the API and webhooks never disagree.
//
//   scheduled ─► queued ─► sent ─► delivered
//                  │         ├──► delivery_delayed ─► (sent again) … ─► bounced | failed
//                  │         └──► bounced | failed
//                  ├──► suppressed          (never contacted)
//                  └──► canceled            (scheduled send canceled)
//   delivered ─► bounced (an asynchronous DSN) │ complained (an ARF report)
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { EmailRecipientsTable, EmailsTable, RecipientStatus } from '../db/schema.ts';
import { type EventType, emitEvent } from '../events/webhooks.ts';
import { metricsOf } from '../metrics/metrics.ts';
import { noteOutcome } from '../abuse/sending.ts';

export type Recipient = EmailRecipientsTable;
export type Email = EmailsTable;

/** States after which nothing more happens to a recipient, except a late bounce or complaint. */
export const FINAL: ReadonlySet<RecipientStatus> = new Set(['delivered', 'bounced', 'complained', 'failed', 'suppressed', 'canceled']);

const EVENT_OF: Partial<Record<RecipientStatus, EventType>> = {
  scheduled: 'email.scheduled',
  sent: 'email.sent',
  delivered: 'email.delivered',
  delivery_delayed: 'email.delivery_delayed',
  bounced: 'email.bounced',
  complained: 'email.complained',
  failed: 'email.failed',
  suppressed: 'email.suppressed',
};

export interface StatusDetail {
  /** The remote server's answer or our reason, kept as the recipient's last_response. */
  response?: string;
  mxHost?: string | null;
  /** For email.bounced: Resend's { type: 'Permanent' | 'Transient' | 'Undetermined', subType, message }. */
  bounce?: { type: string; subType: string; message: string };
  /** For email.failed. */
  failed?: { reason: string };
  /** For email.suppressed. */
  suppressed?: { type: string; message: string };
  /** Counts a delivery attempt. */
  attempted?: boolean;
  nextAttemptAt?: number | null;
}

/** Resend's BaseEmailEventData for an email, as webhooks carry it. */
export function emailEventData(email: Email, recipients: string[]) {
  const tags: Record<string, string> = {};
  for (const t of JSON.parse(email.tags_json) as { name: string; value: string }[]) tags[t.name] = t.value;
  return {
    email_id: email.id,
    message_id: email.message_id,
    created_at: new Date(email.created_at).toISOString(),
    from: email.from_header,
    to: recipients,
    subject: email.subject,
    // Resend's events of a broadcast's messages name the broadcast.
    ...(email.broadcast_id ? { broadcast_id: email.broadcast_id } : {}),
    ...(Object.keys(tags).length ? { tags } : {}),
  };
}

/**
 * Moves one recipient to `status`, updates the email's last_event, and emits the event — all in
 * `tx`. Returns false (and changes nothing) when the recipient is already in a final state that
 * this change may not leave, so a late or repeated report is harmless.
 */
export async function setRecipientStatus(core: Core, tx: Db, recipientId: string, status: RecipientStatus, detail: StatusDetail = {}): Promise<boolean> {
  const r = await tx.selectFrom('email_recipients').selectAll().where('id', '=', recipientId).executeTakeFirst();
  if (!r) return false;
  const lateReport = r.status === 'delivered' && (status === 'bounced' || status === 'complained');
  const complaintAfterBounce = r.status === 'bounced' && status === 'complained';
  if (FINAL.has(r.status) && !lateReport && !complaintAfterBounce) return false;
  const now = core.clock.now();
  await tx
    .updateTable('email_recipients')
    .set({
      status,
      updated_at: now,
      last_response: detail.response?.slice(0, 2000) ?? r.last_response,
      mx_host: detail.mxHost === undefined ? r.mx_host : detail.mxHost,
      attempts: detail.attempted ? r.attempts + 1 : r.attempts,
      last_attempt_at: detail.attempted ? now : r.last_attempt_at,
      next_attempt_at: detail.nextAttemptAt === undefined ? r.next_attempt_at : detail.nextAttemptAt,
    })
    .where('id', '=', recipientId)
    .execute();
  await tx.updateTable('emails').set({ last_event: status, updated_at: now }).where('id', '=', r.email_id).execute();
  metricsOf(core).status(r.workspace_id, status, { bounceType: detail.bounce?.type, suppressedReason: detail.suppressed?.type });
  // Hard bounces and complaints count towards the automatic pause (src/abuse/sending.ts).
  await noteOutcome(core, tx, r, status, detail.bounce?.type);
  const type = EVENT_OF[status];
  if (type) {
    const email = await tx.selectFrom('emails').selectAll().where('id', '=', r.email_id).executeTakeFirstOrThrow();
    const data: Record<string, unknown> = emailEventData(email, [r.address]);
    if (detail.bounce) data.bounce = detail.bounce;
    if (detail.failed) data.failed = detail.failed;
    if (detail.suppressed) data.suppressed = detail.suppressed;
    await emitEvent(core, r.workspace_id, type, data, tx);
  }
  return true;
}
