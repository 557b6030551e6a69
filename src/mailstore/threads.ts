// Threads: which conversation a new message belongs to.
//
// Implementation notes:
// - Order of evidence: a message of the same mailbox whose Message-ID is one this message names in
//   References or In-Reply-To (or carries the same Message-ID: a Sent copy of a message that also
//   came back in); then a thread of the same mailbox with the same normalised subject (text.ts)
//   whose last message is at most THREAD_SUBJECT_WINDOW old; else a new thread.
// - An empty normalised subject never joins by subject ("(no subject)" mail is not one conversation).
// - last_message_at only moves forward; it orders the API's thread lists.
import type { Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { normalizeSubject } from './text.ts';

export const THREAD_SUBJECT_WINDOW = 30 * 86_400_000;
/** At most this many Message-IDs of References are looked up (the newest, nearest the message). */
const MAX_REFERENCES = 100;

export interface ThreadEvidence {
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  subject: string | null;
}

/** The thread for a new message of the mailbox (created when none fits); raises last_message_at. */
export async function assignThread(core: Core, tx: Db, mailbox: { id: string; workspace_id: string }, evidence: ThreadEvidence, at: number): Promise<string> {
  const ids = [...new Set([evidence.inReplyTo, ...evidence.references.slice(-MAX_REFERENCES), evidence.messageId].filter((x): x is string => !!x && x.length <= 998))];
  let threadId: string | undefined;
  if (ids.length) {
    const hit = await tx
      .selectFrom('messages')
      .select('thread_id')
      .where('mailbox_id', '=', mailbox.id)
      .where('message_id', 'in', ids)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    threadId = hit?.thread_id;
  }
  const normalized = normalizeSubject(evidence.subject);
  if (!threadId && normalized) {
    const hit = await tx
      .selectFrom('threads')
      .select('id')
      .where('mailbox_id', '=', mailbox.id)
      .where('normalized_subject', '=', normalized)
      .where('last_message_at', '>=', at - THREAD_SUBJECT_WINDOW)
      .orderBy('last_message_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    threadId = hit?.id;
  }
  if (threadId) {
    await touchThread(tx, threadId, at);
    return threadId;
  }
  const now = core.clock.now();
  const id = newId(now);
  await tx
    .insertInto('threads')
    .values({ id, workspace_id: mailbox.workspace_id, mailbox_id: mailbox.id, subject: evidence.subject?.slice(0, 2000) ?? null, normalized_subject: normalized, last_message_at: at, created_at: now })
    .execute();
  return id;
}

/** Moves the thread's last_message_at forward to `at` (never back). */
export async function touchThread(tx: Db, threadId: string, at: number): Promise<void> {
  await tx.updateTable('threads').set({ last_message_at: at }).where('id', '=', threadId).where('last_message_at', '<', at).execute();
}

/** Deletes the given threads that no message refers to any more. */
export async function dropEmptyThreads(tx: Db, threadIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(threadIds)];
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await tx
      .deleteFrom('threads')
      .where('id', 'in', chunk)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('messages').select('messages.id').whereRef('messages.thread_id', '=', 'threads.id'))))
      .execute();
  }
}
