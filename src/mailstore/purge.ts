// The Trash and Junk purge: messages that have been in a Trash or Junk folder for longer than
// MAILSTACK_TRASH_DAYS (default 30) are expunged by a scheduled job.
//
// Implementation notes:
// - "In the folder since" is the message row's created_at, which an append, copy or move sets anew
//   (a move is a copy plus an expunge), not the internal date: an old message deleted today stays
//   its full period.
// - Work is done per folder in batches of BATCH messages, each in its own mail transaction (so
//   SQLite's write lock is held briefly and IMAP sessions hear the expunges); the pass is idempotent.
// - A workspace may shorten the window for its own mailboxes (`retention.trash` in its settings,
//   set through PUT /v1/workspace/retention), never lengthen it beyond MAILSTACK_TRASH_DAYS.
// - The expunge queues the release of the bodies (blobs.ts); this module registers that job's
//   handler too, so every node that runs the purge also releases.
import { workspaceSettings } from '../accounts/workspaces.ts';
import type { Core } from '../core/core.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { Worker } from '../jobs/worker.ts';
import { RELEASE_BLOBS_JOB, releaseBlobsHandler } from './blobs.ts';
import { mailTransaction } from './changes.ts';
import { expungeMessages } from './messages.ts';

export const MAIL_PURGE_JOB = 'mailstore.purge';
const DAY = 86_400_000;
const BATCH = 500;

/** One pass over every Trash and Junk folder; returns how many messages were expunged. */
export async function runMailPurge(core: Core): Promise<number> {
  const folders = await core.db.selectFrom('folders').select(['id', 'mailbox_id', 'workspace_id']).where('special_use', 'in', ['trash', 'junk']).execute();
  const days = await trashDaysByWorkspace(core);
  let total = 0;
  for (const f of folders) {
    const cutoff = core.clock.now() - (days.get(f.workspace_id) ?? core.settings.trashDays) * DAY;
    for (;;) {
      const rows = await core.db.selectFrom('messages').select('uid').where('folder_id', '=', f.id).where('created_at', '<', cutoff).orderBy('uid').limit(BATCH).execute();
      if (!rows.length) break;
      const removed = await mailTransaction(core, (tx, emit) =>
        expungeMessages(core, tx, emit, { mailboxId: f.mailbox_id, folderId: f.id, uids: rows.map((r) => Number(r.uid)), force: true }),
      );
      total += removed.length;
      if (rows.length < BATCH || removed.length === 0) break;
    }
  }
  if (total) core.log.info({ messages: total, trashDays: core.settings.trashDays }, 'purged old Trash and Junk messages');
  return total;
}

/** The Trash window in force per workspace: its own `retention.trash` when shorter than the operator's. */
export async function trashDaysByWorkspace(core: Core): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const ws of await core.db.selectFrom('workspaces').select(['id', 'settings']).execute()) {
    const r = workspaceSettings(ws.settings).retention as Record<string, unknown> | undefined;
    const own = r && typeof r === 'object' ? r.trash : undefined;
    out.set(ws.id, typeof own === 'number' && Number.isInteger(own) && own >= 0 && own < core.settings.trashDays ? own : core.settings.trashDays);
  }
  return out;
}

export function registerMailPurge(core: Core, worker: Worker, scheduler: Scheduler): void {
  scheduler.every(MAIL_PURGE_JOB, 3_600_000);
  worker.handle(MAIL_PURGE_JOB, async () => {
    await runMailPurge(core);
  });
  worker.handle(RELEASE_BLOBS_JOB, releaseBlobsHandler(core));
}
