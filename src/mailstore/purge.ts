// The Trash and Junk purge: messages that have been in a Trash or Junk folder for longer than
// MAILSTACK_TRASH_DAYS (default 30) are expunged by a scheduled job.
//
// Implementation notes:
// - "In the folder since" is the message row's created_at, which an append, copy or move sets anew
//   (a move is a copy plus an expunge), not the internal date: an old message deleted today stays
//   its full period.
// - Work is done per folder in batches of BATCH messages, each in its own mail transaction (so
//   SQLite's write lock is held briefly and IMAP sessions hear the expunges); the pass is idempotent.
// - The expunge queues the release of the bodies (blobs.ts); this module registers that job's
//   handler too, so every node that runs the purge also releases.
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
  const cutoff = core.clock.now() - core.settings.trashDays * DAY;
  const folders = await core.db.selectFrom('folders').select(['id', 'mailbox_id']).where('special_use', 'in', ['trash', 'junk']).execute();
  let total = 0;
  for (const f of folders) {
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

export function registerMailPurge(core: Core, worker: Worker, scheduler: Scheduler): void {
  scheduler.every(MAIL_PURGE_JOB, 3_600_000);
  worker.handle(MAIL_PURGE_JOB, async () => {
    await runMailPurge(core);
  });
  worker.handle(RELEASE_BLOBS_JOB, releaseBlobsHandler(core));
}
