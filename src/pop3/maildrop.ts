// A POP3 maildrop: the mailbox's INBOX as it was when the session logged in (RFC 1939 §4: message
// numbers are fixed for the session; mail that arrives later is seen by the next session).
//
// Implementation notes:
// - The snapshot holds each message's row id, UID, blob id and the folder's UIDVALIDITY; nothing
//   else changes it. The unique-id (UIDL, RFC 1939 §7) is `<uidvalidity>.<uid>`: never reused,
//   because UIDs only grow in a folder and a new UIDVALIDITY is a new folder.
// - Sizes are of the CRLF form as sent (wire.ts). Blobs are content-addressed and immutable, so a
//   size once computed is cached by blob id for every later session.
// - One lock per mailbox on this node (RFC 1939 §8: "exclusive-access lock on the maildrop"). A
//   node does not see another node's POP3 sessions; with several nodes, deletions by two sessions
//   at once are still safe (expunge by UID is idempotent), only the lock is per node.
// - The UPDATE state, in one mail-store transaction: messages retrieved with RETR get \Seen (so
//   IMAP and the API show them read, as Dovecot does), then those marked with DELE are removed by
//   UID with `force` (gone whether or not IMAP's \Deleted was set). A message already removed by
//   another door is simply not there to flag or remove. Without QUIT nothing is written.
import type { Readable } from 'node:stream';
import type { Core } from '../core/core.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { folderBySpecialUse } from '../mailstore/folders.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { expungeMessages, storeFlags } from '../mailstore/messages.ts';
import { blobStore } from '../outbound/accept.ts';
import { CrlfEncoder } from './wire.ts';

export interface DropMessage {
  id: string;
  uid: number;
  blobId: string;
  /** Octets in CRLF form. */
  size: number;
  deleted: boolean;
  /** Sent whole by RETR: gets \Seen at UPDATE. */
  retrieved: boolean;
}

const locks = new Map<string, symbol>();

/** Takes the mailbox's POP3 lock on this node; returns its release function, or null when taken. */
export function lockMaildrop(mailboxId: string): (() => void) | null {
  if (locks.has(mailboxId)) return null;
  const token = Symbol(mailboxId);
  locks.set(mailboxId, token);
  return () => {
    if (locks.get(mailboxId) === token) locks.delete(mailboxId);
  };
}

const SIZE_CACHE_MAX = 100_000;
const sizeCache = new Map<string, number>();

function rememberSize(blobId: string, size: number) {
  if (sizeCache.size >= SIZE_CACHE_MAX) sizeCache.delete(sizeCache.keys().next().value!);
  sizeCache.set(blobId, size);
}

async function sizeOfBlob(core: Core, blobId: string): Promise<number> {
  const cached = sizeCache.get(blobId);
  if (cached !== undefined) return cached;
  const enc = new CrlfEncoder(false);
  let size = 0;
  for await (const chunk of blobStore(core).stream(blobId) as AsyncIterable<Buffer>) size += enc.push(chunk).length;
  rememberSize(blobId, size);
  return size;
}

export class Maildrop {
  private constructor(
    private readonly core: Core,
    readonly mailbox: Mailbox,
    readonly folderId: string,
    readonly uidValidity: number,
    readonly messages: DropMessage[],
  ) {}

  static async open(core: Core, mailbox: Mailbox): Promise<Maildrop> {
    const folder = await folderBySpecialUse(core.db, mailbox.id, 'inbox');
    const rows = await core.db
      .selectFrom('messages')
      .select(['id', 'uid', 'blob_id'])
      .where('folder_id', '=', folder.id)
      .orderBy('uid', 'asc')
      .execute();
    const messages: DropMessage[] = new Array(rows.length);
    // A few blobs at a time: the first session of a big mailbox reads each once, later ones hit the cache.
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const i = next++;
        const r = rows[i];
        messages[i] = { id: r.id, uid: Number(r.uid), blobId: r.blob_id, size: await sizeOfBlob(core, r.blob_id), deleted: false, retrieved: false };
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, rows.length) }, worker));
    return new Maildrop(core, mailbox, folder.id, Number(folder.uid_validity), messages);
  }

  /** The message numbered `n` (1-based) unless absent or marked deleted. */
  get(n: number): DropMessage | undefined {
    const m = this.messages[n - 1];
    return m && !m.deleted ? m : undefined;
  }

  live(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.messages) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  uniqueId(m: DropMessage): string {
    return `${this.uidValidity}.${m.uid}`;
  }

  /** The raw stored bytes (not yet CRLF-encoded). */
  stream(m: DropMessage): Readable {
    return blobStore(this.core).stream(m.blobId);
  }

  read(m: DropMessage): Promise<Buffer> {
    return blobStore(this.core).get(m.blobId);
  }

  reset(): void {
    for (const m of this.messages) m.deleted = false;
  }

  /** UPDATE state (RFC 1939 §6): marks retrieved messages seen, removes those marked deleted; returns how many went. */
  async commitUpdate(): Promise<number> {
    const uids = this.messages.filter((m) => m.deleted).map((m) => m.uid);
    const read = this.messages.filter((m) => m.retrieved && !m.deleted).map((m) => m.uid);
    if (uids.length === 0 && read.length === 0) return 0;
    const removed = await mailTransaction(this.core, async (tx, emit) => {
      const where = { folderId: this.folderId, mailboxId: this.mailbox.id };
      if (read.length) await storeFlags(this.core, tx, emit, { ...where, uids: read, mode: 'add', flags: ['\\Seen'] });
      return uids.length ? expungeMessages(this.core, tx, emit, { ...where, uids, force: true }) : [];
    });
    return removed.length;
  }
}
