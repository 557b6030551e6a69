// The mail store's change bus: every door that keeps a view of a mailbox open (an IMAP session in
// IDLE or with a folder selected, a POP3 session, the webmail later) subscribes to the mailboxes it
// shows and learns of new messages, flag changes, expunges and folder changes at once.
//
// Implementation notes:
// - A change is published only after the transaction that made it has committed (`mailTransaction`
//   collects them and publishes after commit; a rolled-back transaction publishes nothing). A
//   subscriber that reads the store on hearing a change therefore always finds it.
// - In-process only: with several nodes, a session sees changes made on its own node at once and
//   the others' at its next command (IMAP NOOP/poll re-reads the folder). A cross-node bus
//   (PostgreSQL LISTEN/NOTIFY) can fill `publish` later without changing subscribers.
// - Listeners must not throw or block; they are called synchronously, in order.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';

export type MailChange =
  | { type: 'new'; mailboxId: string; folderId: string; uid: number; modseq: number; messageId: string }
  | { type: 'flags'; mailboxId: string; folderId: string; uid: number; modseq: number; messageId: string }
  | { type: 'expunge'; mailboxId: string; folderId: string; uid: number; modseq: number }
  /** A folder was created, renamed or deleted, or its subscription changed. */
  | { type: 'folder'; mailboxId: string; folderId: string; action: 'created' | 'renamed' | 'deleted' | 'subscribed' | 'unsubscribed' };

export type ChangeListener = (change: MailChange) => void;

const listeners = new Map<string, Set<ChangeListener>>();

/** Subscribes to one mailbox's changes; returns the unsubscribe function. */
export function subscribe(mailboxId: string, fn: ChangeListener): () => void {
  let set = listeners.get(mailboxId);
  if (!set) listeners.set(mailboxId, (set = new Set()));
  set.add(fn);
  return () => {
    set.delete(fn);
    if (!set.size && listeners.get(mailboxId) === set) listeners.delete(mailboxId);
  };
}

/** Tells every subscriber of the change's mailbox. Call only after the change is committed. */
export function publish(change: MailChange): void {
  const set = listeners.get(change.mailboxId);
  if (!set) return;
  for (const fn of [...set]) {
    try {
      fn(change);
    } catch {
      // A broken listener must not stop the others or the writer.
    }
  }
}

/** Collects the changes a transaction makes; `mailTransaction` publishes them after commit. */
export type Emit = (change: MailChange) => void;

/**
 * Runs `fn` in one store transaction (write lock from the start) and publishes the changes it
 * emitted once the commit has succeeded.
 */
export async function mailTransaction<T>(core: Core, fn: (tx: Db, emit: Emit) => Promise<T>): Promise<T> {
  const changes: MailChange[] = [];
  const result = await core.store.transaction((tx) => fn(tx, (c) => changes.push(c)));
  for (const c of changes) publish(c);
  return result;
}
