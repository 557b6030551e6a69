// The Trash/Junk purge: a message is expunged once it has been in Trash or Junk for longer than
// MAILSTACK_TRASH_DAYS, counted from when it entered the folder (not its date), other folders are
// never touched, and the job runs through the scheduler and a worker, releasing the bodies.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import type { Core } from '../core/core.ts';
import { Scheduler } from '../jobs/scheduler.ts';
import { Worker } from '../jobs/worker.ts';
import { blobStore } from '../outbound/accept.ts';
import { appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { useTestCore } from '../testkit/core.ts';
import { RELEASE_BLOBS_JOB } from './blobs.ts';
import { type MailChange, mailTransaction, subscribe } from './changes.ts';
import { folderBySpecialUse } from './folders.ts';
import { mailboxByAddress } from './mailboxes.ts';
import { moveMessages } from './messages.ts';
import { MAIL_PURGE_JOB, registerMailPurge, runMailPurge } from './purge.ts';
import { messagesInFolder, uidsInFolder } from './read.ts';

const DAY = 86_400_000;
let core: Core;
const clock = new ManualClock();
useTestCore(
  (c) => {
    core = c;
  },
  { clock, env: { MAILSTACK_TRASH_DAYS: '7' } },
);

describe('Trash and Junk purge', () => {
  it('expunges after the window, counted from when the message entered the folder', async () => {
    const { mailbox } = await createTestMailbox(core);
    const inbox = await folderBySpecialUse(core.db, mailbox.id, 'inbox');
    const trash = await folderBySpecialUse(core.db, mailbox.id, 'trash');
    const junk = await folderBySpecialUse(core.db, mailbox.id, 'junk');
    const longAgo = clock.now() - 365 * DAY;
    // An old message (old internal date) stays in the inbox, then is moved to Trash today.
    const old = await appendRaw(core, mailbox, rawMessage({ subject: 'old news' }), { internalDate: longAgo });
    const kept = await appendRaw(core, mailbox, rawMessage({ subject: 'stays in inbox' }), { internalDate: longAgo });
    const spam = await appendRaw(core, mailbox, rawMessage({ subject: 'spam' }), { specialUse: 'junk' });
    clock.advance(2 * DAY);
    await mailTransaction(core, (tx, emit) => moveMessages(core, tx, emit, { mailboxId: mailbox.id, fromFolderId: inbox.id, toFolderId: trash.id, uids: [old.uid] }));
    const moved = (await messagesInFolder(core.db, mailbox.id, trash.id))[0];

    // Day 6 after the move (8 after the junk arrived): only the junk is past 7 days.
    clock.advance(6 * DAY);
    expect(await runMailPurge(core)).toBe(1);
    expect(await uidsInFolder(core.db, mailbox.id, junk.id)).toEqual([]);
    expect(await uidsInFolder(core.db, mailbox.id, trash.id)).toEqual([moved.uid]);

    // Just past 7 days after the move: the trashed message goes; the inbox is never purged.
    clock.advance(DAY + 1000);
    const changes: MailChange[] = [];
    const off = subscribe(mailbox.id, (c) => changes.push(c));
    expect(await runMailPurge(core)).toBe(1);
    off();
    expect(changes).toMatchObject([{ type: 'expunge', folderId: trash.id, uid: moved.uid }]);
    expect(await uidsInFolder(core.db, mailbox.id, trash.id)).toEqual([]);
    expect(await uidsInFolder(core.db, mailbox.id, inbox.id)).toEqual([kept.uid]);
    expect(Number((await mailboxByAddress(core.db, mailbox.address))!.used_bytes)).toBe(rawMessage({ subject: 'stays in inbox' }).length);
    expect(await runMailPurge(core)).toBe(0);
    void spam;
  });

  it('runs as a scheduled job through a worker and releases the bodies', async () => {
    const { mailbox } = await createTestMailbox(core);
    const m = await appendRaw(core, mailbox, rawMessage({ subject: 'trash me', text: 'unique body for the purge job' }), { specialUse: 'trash' });
    const trash = await folderBySpecialUse(core.db, mailbox.id, 'trash');
    const blob = (await messagesInFolder(core.db, mailbox.id, trash.id))[0].blob_id;
    expect(await blobStore(core).has(blob)).toBe(true);
    clock.advance(8 * DAY);

    const scheduler = new Scheduler(core.store, core.jobs, clock, core.log, 3_600_000);
    const outcomes: string[] = [];
    const w = new Worker(core.jobs, { concurrency: 1, pollMs: 10, leaseMs: 30_000, log: core.log, onJobDone: (j, o) => outcomes.push(`${j.kind}:${o}`) });
    registerMailPurge(core, w, scheduler);
    try {
      await scheduler.start();
      w.start();
      const pending = () => core.db.selectFrom('jobs').select('id').where('kind', 'in', [MAIL_PURGE_JOB, RELEASE_BLOBS_JOB]).where('status', '!=', 'done').execute();
      const deadline = Date.now() + 15_000;
      while ((!outcomes.includes(`${MAIL_PURGE_JOB}:done`) || (await pending()).length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(outcomes).toContain(`${MAIL_PURGE_JOB}:done`);
      expect(outcomes).toContain(`${RELEASE_BLOBS_JOB}:done`);
      expect(outcomes.every((o) => o.endsWith(':done'))).toBe(true);
    } finally {
      scheduler.stop();
      await w.stop(1_000);
    }
    expect(await uidsInFolder(core.db, mailbox.id, trash.id)).toEqual([]);
    expect(await blobStore(core).has(blob)).toBe(false);
    void m;
  });
});
