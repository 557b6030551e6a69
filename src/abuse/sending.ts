// Outbound abuse controls: sending quotas, the warm-up limit of new workspaces, and the automatic
// pause of a workspace whose hard-bounce or complaint rate passes its threshold.
//
// Implementation notes (invariants a newcomer must not break):
// - One gate for every message: `gateAccept` runs inside recordMessage's transaction (accept.ts),
//   the path the send API, the batch API, the SMTP relay and inbox replies all take. A refusal is
//   a SendingRefused: the API answers its status and name (429 daily_quota_exceeded, 403
//   sending_paused), the relay its SMTP code (452 4.5.3, 550 5.7.1). Forwards of received mail and
//   bounces passed on (null envelope sender) are not gated: refusing them would refuse inbound mail.
// - Broadcasts, automations and anything else that sends on its own schedule must ask
//   `sendingAllowed(core, workspaceId)` before each batch and stop while it says no.
// - Nothing accepted is dropped: a recipient whose delivery job runs while its workspace is paused
//   becomes `held` (held_recipients, reason 'paused'); `resumeSending` puts every such recipient
//   back on the queue. A message held for its content (reason 'content') waits for an operator.
// - Quotas count recipients accepted in the last hour / 24 hours (email_recipients.created_at).
//   A workspace's own values (`mailstack workspace limits`) replace the node's
//   (MAILSTACK_WORKSPACE_HOURLY_LIMIT / _DAILY_LIMIT); 0 is no limit.
// - Warm-up: for its first WARMUP_DAYS a workspace may send MAILSTACK_WARMUP_START recipients a
//   day plus one for every recipient delivered so far (bounces and complaints earn nothing), so a
//   new workspace with good delivery grows its own limit; `--warmup off` or
//   MAILSTACK_WARMUP_START=0 turns it off.
// - Auto-pause is decided in the transaction that records a hard bounce, a complaint, or a
//   delivery of a workspace that has bounces or complaints (recipients.ts calls `noteOutcome`), over the workspace's last MAILSTACK_PAUSE_MIN_SENDS
//   recipients that were sent since its last resume; with fewer sends than that it never pauses.
import { type Actor, type Core, CoreError, notFound, systemActor } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { ownerEmails } from '../accounts/members.ts';
import type { RecipientStatus, WorkspaceAbuseTable } from '../db/schema.ts';
import { audit } from '../audit/audit-log.ts';
import { emitEvent } from '../events/webhooks.ts';
import { queueSystemMail } from '../outbound/system-mail-queue.ts';
import { markReleased } from './content.ts';

export const WARMUP_DAYS = 30;
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A send refused by the abuse controls, with its HTTP and SMTP answers. */
export class SendingRefused extends CoreError {
  constructor(status: number, code: string, message: string, readonly smtp: { code: number; enhanced: string }, retryAfterSeconds?: number) {
    super(status, code, message, retryAfterSeconds);
  }
}

export async function abuseRow(db: Db, workspaceId: string): Promise<WorkspaceAbuseTable | undefined> {
  return db.selectFrom('workspace_abuse').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
}

async function ensureRow(core: Core, db: Db, workspaceId: string): Promise<void> {
  await db
    .insertInto('workspace_abuse')
    .values({ workspace_id: workspaceId, hourly_limit: null, daily_limit: null, warmup: null, refuse_executables: 0, paused_at: null, paused_reason: null, resumed_at: null, updated_at: core.clock.now() })
    .onConflict((oc) => oc.column('workspace_id').doNothing())
    .execute();
}

/**
 * Whether the workspace may send now. Broadcasts and automations call this before each batch and
 * stop (leaving the rest for later) while it is false.
 */
export async function sendingAllowed(core: Core, workspaceId: string, db: Db = core.db): Promise<{ allowed: true } | { allowed: false; reason: string }> {
  const row = await abuseRow(db, workspaceId);
  if (row?.paused_at) return { allowed: false, reason: row.paused_reason ?? 'Sending is paused.' };
  return { allowed: true };
}

export interface Limits {
  hourly: number;
  daily: number;
  /** The warm-up day limit, when warm-up applies to this workspace now. */
  warmup: number | null;
}

export async function limitsOf(core: Core, db: Db, workspaceId: string): Promise<Limits> {
  const row = await abuseRow(db, workspaceId);
  const hourly = row?.hourly_limit ?? core.settings.abuse.hourlyLimit;
  const daily = row?.daily_limit ?? core.settings.abuse.dailyLimit;
  let warmup: number | null = null;
  const start = core.settings.abuse.warmupStart;
  const enabled = row?.warmup === null || row?.warmup === undefined ? start > 0 : row.warmup === 1 && start > 0;
  if (enabled) {
    const ws = await db.selectFrom('workspaces').select('created_at').where('id', '=', workspaceId).executeTakeFirst();
    if (ws && core.clock.now() - Number(ws.created_at) < WARMUP_DAYS * DAY) {
      const delivered = await db.selectFrom('email_recipients').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).where('status', '=', 'delivered').executeTakeFirstOrThrow();
      warmup = start + Number(delivered.n);
    }
  }
  return { hourly, daily, warmup };
}

async function sentSince(db: Db, workspaceId: string, since: number): Promise<number> {
  const r = await db
    .selectFrom('email_recipients')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('created_at', '>', since)
    .where('status', 'not in', ['suppressed', 'canceled'])
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The gate of recordMessage (accept.ts): throws SendingRefused when the workspace may not send `recipients` more. */
export async function gateAccept(core: Core, tx: Db, input: { workspaceId: string; source: string; envelopeFrom?: string | null }, recipients: number): Promise<void> {
  if (input.source === 'forward' || input.envelopeFrom === '') return;
  const paused = await sendingAllowed(core, input.workspaceId, tx);
  if (!paused.allowed) {
    throw new SendingRefused(403, 'sending_paused', `Sending is paused for this workspace: ${paused.reason} An operator resumes it with \`mailstack workspace resume-sending\`.`, { code: 550, enhanced: '5.7.1' });
  }
  const limits = await limitsOf(core, tx, input.workspaceId);
  const now = core.clock.now();
  const checks: { limit: number; window: number; what: string }[] = [];
  if (limits.hourly > 0) checks.push({ limit: limits.hourly, window: HOUR, what: 'hourly sending quota' });
  if (limits.daily > 0) checks.push({ limit: limits.daily, window: DAY, what: 'daily sending quota' });
  if (limits.warmup !== null) checks.push({ limit: limits.warmup, window: DAY, what: 'warm-up limit of a new workspace' });
  for (const c of checks) {
    const used = await sentSince(tx, input.workspaceId, now - c.window);
    if (used + recipients > c.limit) {
      const retry = Math.ceil(c.window / 1000 / 24);
      throw new SendingRefused(
        429,
        'daily_quota_exceeded',
        `You have reached the ${c.what} of ${c.limit} recipients per ${c.window === HOUR ? 'hour' : '24 hours'} (${used} used; this message has ${recipients}).`,
        { code: 452, enhanced: '4.5.3' },
        retry,
      );
    }
  }
}

/**
 * The delivery job's check (delivery/deliver.ts): while the workspace is paused the recipient is
 * held instead of delivered. Returns true when it was held.
 */
export async function holdIfPaused(core: Core, r: { id: string; workspace_id: string; email_id: string }, setStatus: (tx: Db, id: string, status: RecipientStatus) => Promise<boolean>): Promise<boolean> {
  const allowed = await sendingAllowed(core, r.workspace_id);
  if (allowed.allowed) return false;
  await core.store.transaction(async (tx) => {
    if (!(await setStatus(tx, r.id, 'held'))) return;
    await tx
      .insertInto('held_recipients')
      .values({ recipient_id: r.id, workspace_id: r.workspace_id, email_id: r.email_id, reason: 'paused', created_at: core.clock.now() })
      .onConflict((oc) => oc.column('recipient_id').doNothing())
      .execute();
  });
  return true;
}

/** Called by setRecipientStatus for every status change, in its transaction. */
export async function noteOutcome(core: Core, tx: Db, r: { id: string; workspace_id: string; email_id: string }, status: RecipientStatus, bounceType: string | undefined): Promise<void> {
  const hard = status === 'bounced' && bounceType === 'Permanent';
  const complaint = status === 'complained';
  if (status === 'delivered') {
    // The window fills up with deliveries after the bounces: look again, but only when this
    // workspace has a bounce or complaint since its last resume (healthy ones cost one look-up).
    const row = await abuseRow(tx, r.workspace_id);
    if (row?.paused_at) return;
    const mark = await tx.selectFrom('delivery_marks').select('recipient_id').where('workspace_id', '=', r.workspace_id).where('at', '>', Number(row?.resumed_at ?? 0)).limit(1).executeTakeFirst();
    if (mark) await evaluatePause(core, tx, r.workspace_id);
    return;
  }
  if (!hard && !complaint) return;
  const email = await tx.selectFrom('emails').select('domain_id').where('id', '=', r.email_id).executeTakeFirst();
  const now = core.clock.now();
  await tx
    .insertInto('delivery_marks')
    .values({ recipient_id: r.id, workspace_id: r.workspace_id, domain_id: email?.domain_id ?? null, hard_bounce: hard ? 1 : 0, complaint: complaint ? 1 : 0, at: now })
    .onConflict((oc) => oc.column('recipient_id').doUpdateSet(complaint ? { complaint: 1, at: now } : { hard_bounce: 1, at: now }))
    .execute();
  await evaluatePause(core, tx, r.workspace_id);
}

const SENT_STATES: RecipientStatus[] = ['sent', 'delivered', 'delivery_delayed', 'bounced', 'complained', 'failed'];

/** The workspace's rates over its last MAILSTACK_PAUSE_MIN_SENDS sends since its last resume. */
export async function windowRates(core: Core, db: Db, workspaceId: string): Promise<{ sends: number; bounceRate: number; complaintRate: number }> {
  const n = core.settings.abuse.pauseMinSends;
  const row = await abuseRow(db, workspaceId);
  let q = db
    .selectFrom('email_recipients')
    .leftJoin('delivery_marks', 'delivery_marks.recipient_id', 'email_recipients.id')
    .select(['email_recipients.id', 'delivery_marks.hard_bounce', 'delivery_marks.complaint'])
    .where('email_recipients.workspace_id', '=', workspaceId)
    .where('email_recipients.status', 'in', SENT_STATES);
  if (row?.resumed_at) q = q.where('email_recipients.created_at', '>', row.resumed_at);
  const rows = await q.orderBy('email_recipients.created_at', 'desc').orderBy('email_recipients.id', 'desc').limit(n).execute();
  const sends = rows.length;
  const bounces = rows.filter((r) => Number(r.hard_bounce) === 1).length;
  const complaints = rows.filter((r) => Number(r.complaint) === 1).length;
  return { sends, bounceRate: sends ? bounces / sends : 0, complaintRate: sends ? complaints / sends : 0 };
}

async function evaluatePause(core: Core, tx: Db, workspaceId: string): Promise<void> {
  const current = await abuseRow(tx, workspaceId);
  if (current?.paused_at) return;
  const { pauseMinSends, pauseBounceRate, pauseComplaintRate } = core.settings.abuse;
  const w = await windowRates(core, tx, workspaceId);
  if (w.sends < pauseMinSends) return;
  let reason: string | null = null;
  if (w.bounceRate > pauseBounceRate) reason = `The hard-bounce rate of the last ${w.sends} messages is ${(w.bounceRate * 100).toFixed(2)}%, above the ${(pauseBounceRate * 100).toFixed(2)}% threshold.`;
  else if (w.complaintRate > pauseComplaintRate) reason = `The complaint rate of the last ${w.sends} messages is ${(w.complaintRate * 100).toFixed(3)}%, above the ${(pauseComplaintRate * 100).toFixed(3)}% threshold.`;
  if (!reason) return;
  await pauseSending(core, tx, workspaceId, reason, { bounce_rate: w.bounceRate, complaint_rate: w.complaintRate, sends: w.sends });
}

export async function pauseSending(core: Core, tx: Db, workspaceId: string, reason: string, data: Record<string, unknown> = {}): Promise<void> {
  const now = core.clock.now();
  await ensureRow(core, tx, workspaceId);
  await tx.updateTable('workspace_abuse').set({ paused_at: now, paused_reason: reason, updated_at: now }).where('workspace_id', '=', workspaceId).execute();
  await audit(core, systemActor, { workspaceId, action: 'workspace.sending_paused', targetType: 'workspace', targetId: workspaceId, data: { reason, ...data } }, tx);
  await emitEvent(core, workspaceId, 'workspace.sending_paused', { workspace_id: workspaceId, reason, paused_at: new Date(now).toISOString(), ...data }, tx);
  const owners = await ownerEmails(tx, workspaceId);
  const ws = await tx.selectFrom('workspaces').select('name').where('id', '=', workspaceId).executeTakeFirst();
  for (const o of owners) {
    await queueSystemMail(
      core,
      {
        to: o,
        subject: `Sending paused for ${ws?.name ?? 'your workspace'}`,
        text: `Mailstack paused sending for the workspace ${ws?.name ?? workspaceId} (${workspaceId}).\n\n${reason}\n\nMail already accepted is held, not dropped, and is sent once sending resumes. New sends are refused until then. Clean the list of the addresses that bounce or complain, then ask the operator to run:\n\n  mailstack workspace resume-sending ${workspaceId}\n`,
      },
      tx,
    );
  }
}

/** Resumes a paused workspace and puts every recipient held by the pause back on the queue. */
export async function resumeSending(core: Core, actor: Actor, workspaceId: string): Promise<{ resumed: boolean; released: number }> {
  const ws = await core.db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst();
  if (!ws) throw notFound('Workspace');
  return core.store.transaction(async (tx) => {
    const row = await abuseRow(tx, workspaceId);
    const now = core.clock.now();
    const wasPaused = !!row?.paused_at;
    await ensureRow(core, tx, workspaceId);
    await tx.updateTable('workspace_abuse').set({ paused_at: null, paused_reason: null, resumed_at: now, updated_at: now }).where('workspace_id', '=', workspaceId).execute();
    const released = await releaseHeld(core, tx, workspaceId, 'paused');
    await audit(core, actor, { workspaceId, action: 'workspace.sending_resumed', targetType: 'workspace', targetId: workspaceId, data: { was_paused: wasPaused, released } }, tx);
    if (wasPaused) await emitEvent(core, workspaceId, 'workspace.sending_resumed', { workspace_id: workspaceId, resumed_at: new Date(now).toISOString(), released }, tx);
    return { resumed: wasPaused, released };
  });
}

/** Puts held recipients (of one reason, optionally one email) back on the delivery queue. */
export async function releaseHeld(core: Core, tx: Db, workspaceId: string, reason: 'paused' | 'content', emailId?: string): Promise<number> {
  let q = tx.selectFrom('held_recipients').select(['recipient_id', 'email_id']).where('workspace_id', '=', workspaceId).where('reason', '=', reason);
  if (emailId) q = q.where('email_id', '=', emailId);
  const held = await q.execute();
  const now = core.clock.now();
  if (reason === 'content') await markReleased(core, tx, [...new Set(held.map((h) => h.email_id))]);
  for (const h of held) {
    // Straight back to `sent` (it was sent to the queue before): no second email.sent event.
    const r = await tx.updateTable('email_recipients').set({ status: 'sent', updated_at: now }).where('id', '=', h.recipient_id).where('status', '=', 'held').executeTakeFirst();
    if (Number(r.numUpdatedRows)) {
      await tx.updateTable('emails').set({ last_event: 'sent', updated_at: now }).where('id', '=', h.email_id).execute();
      await core.jobs.enqueue('outbound.deliver', { recipientId: h.recipient_id }, { maxAttempts: 100 }, tx);
    }
    await tx.deleteFrom('held_recipients').where('recipient_id', '=', h.recipient_id).execute();
  }
  return held.length;
}

/** `mailstack workspace limits`: sets (or, with null, resets to the node's default) a workspace's own values. */
export async function setLimits(core: Core, actor: Actor, workspaceId: string, change: { hourly?: number | null; daily?: number | null; warmup?: boolean | null; refuseExecutables?: boolean }) {
  const ws = await core.db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst();
  if (!ws) throw notFound('Workspace');
  await ensureRow(core, core.db, workspaceId);
  const set: Partial<WorkspaceAbuseTable> = { updated_at: core.clock.now() };
  if (change.hourly !== undefined) set.hourly_limit = change.hourly;
  if (change.daily !== undefined) set.daily_limit = change.daily;
  if (change.warmup !== undefined) set.warmup = change.warmup === null ? null : change.warmup ? 1 : 0;
  if (change.refuseExecutables !== undefined) set.refuse_executables = change.refuseExecutables ? 1 : 0;
  await core.db.updateTable('workspace_abuse').set(set).where('workspace_id', '=', workspaceId).execute();
  await audit(core, actor, { workspaceId, action: 'workspace.limits_set', targetType: 'workspace', targetId: workspaceId, data: change as Record<string, unknown> });
  return describeLimits(core, workspaceId);
}

export async function describeLimits(core: Core, workspaceId: string) {
  const row = await abuseRow(core.db, workspaceId);
  const limits = await limitsOf(core, core.db, workspaceId);
  return {
    workspace_id: workspaceId,
    hourly_limit: limits.hourly || null,
    daily_limit: limits.daily || null,
    warmup_limit: limits.warmup,
    refuse_executables: Number(row?.refuse_executables ?? 0) === 1,
    sending_paused: !!row?.paused_at,
    paused_reason: row?.paused_reason ?? null,
    paused_at: row?.paused_at ? new Date(Number(row.paused_at)).toISOString() : null,
  };
}
