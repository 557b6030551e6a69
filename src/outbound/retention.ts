// Message log retention: after a workspace's retention period (MAILSTACK_RETENTION_DAYS, default
// 90, or the workspace's own `retention_days`), message bodies and delivery detail are purged and
// the API request log is cut; the metadata of each email (who, when, subject, status, tags, sizes)
// stays so the log still answers "was it sent". The audit log says how much was purged.
//
// Implementation notes:
// - Purged: emails.raw_blob and the blob it names, emails.html and emails.text, each attachment's
//   blob (its name, type and size stay in attachments_json, without `blob_id`), and each
//   recipient's remote answer (last_response) and MX host. emails.body_purged_at marks the row.
// - Blobs are content-addressed and may be shared (the same attachment sent twice is one blob; a
//   mailbox may hold the same bytes). A blob is deleted only when no row refers to it any more,
//   checked after the rows are committed. Parts that keep blob ids elsewhere register a check in
//   BLOB_REFERENCES. The check and the delete hold the blob's lock (src/mailstore/blob-lock.ts),
//   which the mail store's writers hold until their reference commits (blobs.ts `holdBlob`).
//   Writers that take no lock (emails, drafts) are covered by reading the bytes first and putting
//   them back if a reference appeared after the delete; one of those that commits later still is
//   the remaining window (they share blobs with mail-store rows only as the Sent copy, which does).
// - An email with recipients still in flight (scheduled, queued, sent, delivery_delayed) is left
//   alone, unless it is 30 days past the period too (a stuck recipient must not keep a body forever).
// - Work is done in batches of BATCH emails, each in its own transaction, so a large purge never
//   holds SQLite's write lock for long; the job is idempotent and resumes where it stopped.
import { workspaceSettings } from '../accounts/workspaces.ts';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, systemActor } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { Worker } from '../jobs/worker.ts';
import { blobStore } from './accept.ts';
import { lockBlob } from '../mailstore/blob-lock.ts';

export const RETENTION_JOB = 'retention.messages';
const DAY = 86_400_000;
const BATCH = 200;
const IN_FLIGHT = ['scheduled', 'queued', 'sent', 'delivery_delayed'] as const;
const STUCK_GRACE = 30 * DAY;

/** Checks that say whether some row still refers to a blob. Other parts add theirs. */
export const BLOB_REFERENCES: ((db: Db, blobId: string) => Promise<boolean>)[] = [
  async (db, id) => !!(await db.selectFrom('emails').select('id').where('raw_blob', '=', id).limit(1).executeTakeFirst()),
  async (db, id) =>
    !!(await db.selectFrom('emails').select('id').where('attachments_json', '!=', '[]').where('attachments_json', 'like', `%${id}%`).limit(1).executeTakeFirst()),
  async (db, id) => !!(await db.selectFrom('messages').select('id').where('blob_id', '=', id).limit(1).executeTakeFirst()),
  // Inbox drafts keep their attachments' blob ids in attachments_json (src/inboxes/drafts.ts).
  async (db, id) => !!(await db.selectFrom('drafts').select('id').where('attachments_json', 'like', `%${id}%`).limit(1).executeTakeFirst()),
  // Development mode's captured mail (src/devmode/capture.ts).
  async (db, id) => !!(await db.selectFrom('captured_messages').select('id').where('raw_blob', '=', id).limit(1).executeTakeFirst()),
];

export async function blobReferenced(db: Db, id: string): Promise<boolean> {
  for (const check of BLOB_REFERENCES) if (await check(db, id)) return true;
  return false;
}

/**
 * The workspace's retention period in days: its own setting when shorter, else the node's. A
 * workspace may shorten the operator's window, never lengthen it (src/privacy/retention.ts).
 */
export function retentionDaysOf(core: Core, settingsJson: string): number {
  const settings = workspaceSettings(settingsJson);
  const table = settings.retention as Record<string, unknown> | undefined;
  let days = core.settings.retentionDays;
  for (const own of [settings.retention_days, table?.messages]) {
    if (typeof own === 'number' && Number.isInteger(own) && own >= 0 && own < days) days = own;
  }
  return days;
}

/** The workspace's API request log window (MAILSTACK_REQUEST_LOG_DAYS, or its own when shorter). */
function requestLogDaysOf(core: Core, settingsJson: string): number {
  const own = (workspaceSettings(settingsJson).retention as Record<string, unknown> | undefined)?.request_log;
  const days = core.settings.requestLogDays;
  return typeof own === 'number' && Number.isInteger(own) && own >= 0 && own < days ? own : days;
}

export async function getRetentionDays(core: Core, workspaceId: string): Promise<number> {
  const ws = await core.db.selectFrom('workspaces').select('settings').where('id', '=', workspaceId).executeTakeFirst();
  return retentionDaysOf(core, ws?.settings ?? '{}');
}

/** Sets (or with null, clears back to the default) the workspace's retention period. */
export async function setRetentionDays(core: Core, actor: Actor, workspaceId: string, days: unknown): Promise<number> {
  if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 3650)) {
    throw invalid('The `retention_days` field must be a whole number of days from 1 to 3650, or null for the default.');
  }
  if (typeof days === 'number' && days > core.settings.retentionDays) {
    throw invalid(`The \`retention_days\` field may only shorten the period: this server keeps message bodies ${core.settings.retentionDays} days (MAILSTACK_RETENTION_DAYS).`);
  }
  return core.store.transaction(async (tx) => {
    const ws = await tx.selectFrom('workspaces').select('settings').where('id', '=', workspaceId).executeTakeFirstOrThrow();
    const settings = workspaceSettings(ws.settings);
    const before = retentionDaysOf(core, ws.settings);
    if (days === null) delete settings.retention_days;
    else settings.retention_days = days;
    await tx.updateTable('workspaces').set({ settings: JSON.stringify(settings), updated_at: core.clock.now() }).where('id', '=', workspaceId).execute();
    const after = retentionDaysOf(core, JSON.stringify(settings));
    await audit(core, actor, { workspaceId, action: 'workspace.updated', targetType: 'workspace', targetId: workspaceId, data: { retention_days: { from: before, to: after } } }, tx);
    return after;
  });
}

export interface RetentionReport {
  workspaces: number;
  emails: number;
  blobs_deleted: number;
  api_requests: number;
  /** Event records, with their webhook deliveries and attempts. */
  events: number;
}

/** One pass over every workspace. Safe to run again at any time. */
export async function runRetention(core: Core): Promise<RetentionReport> {
  const report: RetentionReport = { workspaces: 0, emails: 0, blobs_deleted: 0, api_requests: 0, events: 0 };
  const workspaces = await core.db.selectFrom('workspaces').select(['id', 'settings']).execute();
  for (const ws of workspaces) {
    const r = await purgeWorkspace(core, ws.id, retentionDaysOf(core, ws.settings), requestLogDaysOf(core, ws.settings));
    if (r.emails || r.api_requests || r.events) report.workspaces++;
    report.emails += r.emails;
    report.blobs_deleted += r.blobs_deleted;
    report.api_requests += r.api_requests;
    report.events += r.events;
  }
  return report;
}

async function purgeWorkspace(core: Core, workspaceId: string, days: number, logDays: number) {
  const now = core.clock.now();
  const cutoff = now - days * DAY;
  let emails = 0;
  let blobsDeleted = 0;
  for (;;) {
    const rows = await core.db
      .selectFrom('emails')
      .select(['id', 'raw_blob', 'attachments_json'])
      .where('workspace_id', '=', workspaceId)
      .where('created_at', '<', cutoff)
      .where('body_purged_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('created_at', '<', cutoff - STUCK_GRACE),
          eb.not(
            eb.exists(
              eb.selectFrom('email_recipients').select('email_recipients.id').whereRef('email_recipients.email_id', '=', 'emails.id').where('email_recipients.status', 'in', [...IN_FLIGHT]),
            ),
          ),
        ]),
      )
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    const blobs = new Set<string>();
    await core.store.transaction(async (tx) => {
      for (const row of rows) {
        if (row.raw_blob) blobs.add(row.raw_blob);
        let attachments: Record<string, unknown>[] = [];
        try {
          attachments = JSON.parse(row.attachments_json);
        } catch {
          attachments = [];
        }
        const kept = (Array.isArray(attachments) ? attachments : []).map((a) => {
          if (typeof a?.blob_id === 'string') blobs.add(a.blob_id);
          const { blob_id: _dropped, ...meta } = a ?? {};
          return meta;
        });
        await tx
          .updateTable('emails')
          .set({ html: null, text: null, raw_blob: null, attachments_json: JSON.stringify(kept), body_purged_at: now })
          .where('id', '=', row.id)
          .where('body_purged_at', 'is', null)
          .execute();
      }
      await tx
        .updateTable('email_recipients')
        .set({ last_response: null, mx_host: null })
        .where('email_id', 'in', rows.map((r) => r.id))
        .execute();
    });
    emails += rows.length;
    for (const id of blobs) if (await deleteIfUnreferenced(core, id)) blobsDeleted++;
  }
  const deleted = await core.db.deleteFrom('api_requests').where('workspace_id', '=', workspaceId).where('created_at', '<', now - logDays * DAY).executeTakeFirst();
  const apiRequests = Number(deleted.numDeletedRows);
  // Webhook deliveries and attempts go with their event (ON DELETE CASCADE); the longest retry
  // ladder is about a day, so nothing past the retention period is still being delivered.
  const eventsDeleted = await core.db.deleteFrom('event_records').where('workspace_id', '=', workspaceId).where('created_at', '<', cutoff).executeTakeFirst();
  const events = Number(eventsDeleted.numDeletedRows);
  if (emails || apiRequests || events) {
    await audit(core, systemActor, {
      workspaceId,
      action: 'retention.purged',
      targetType: 'workspace',
      targetId: workspaceId,
      data: { retention_days: days, older_than: new Date(cutoff).toISOString(), emails, blobs_deleted: blobsDeleted, api_requests: apiRequests, events },
    });
    core.log.info({ workspaceId, retentionDays: days, emails, blobsDeleted, apiRequests, events }, 'retention purged message bodies, request log and events');
  }
  return { emails, blobs_deleted: blobsDeleted, api_requests: apiRequests, events };
}

/**
 * Deletes a blob no row refers to. The check and the delete run under the blob's exclusive lock
 * (src/mailstore/blobs.ts), which every mail-store writer holds shared until its reference commits,
 * so a new reference can never be committed to a deleted file and two releases never race. A
 * writer that takes no lock (emails, drafts) is still covered by reading the bytes first and
 * putting them back if a reference appeared after the delete.
 */
export async function deleteIfUnreferenced(core: Core, id: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(id)) return false;
  const store = blobStore(core);
  return core.store.transaction(async (tx) => {
    await lockBlob(core, tx, id, 'exclusive');
    if (await blobReferenced(tx, id)) return false;
    let bytes: Buffer;
    try {
      bytes = await store.get(id);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // already gone
      throw err;
    }
    await store.delete(id);
    if (await blobReferenced(tx, id)) {
      await store.put(bytes);
      return false;
    }
    return true;
  });
}

export function registerRetention(core: Core, worker: Worker, scheduler: Scheduler): void {
  scheduler.every(RETENTION_JOB, 3_600_000);
  worker.handle(RETENTION_JOB, async () => {
    const report = await runRetention(core);
    core.log.info({ report }, 'retention pass done');
  });
}
