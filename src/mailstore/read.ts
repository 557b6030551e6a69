// Reads the doors need (IMAP SELECT/STATUS/FETCH/QRESYNC, POP3, the API): messages of a folder,
// a folder's status, UIDs expunged since a MODSEQ, the raw message.
//
// Every look-up by id takes the mailbox id too, so a door cannot read another mailbox's folder or
// message by guessing ids: a folder or message of another mailbox is simply not found.
import type { Readable } from 'node:stream';
import type { Core } from '../core/core.ts';
import { notFound } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { blobStore } from '../outbound/accept.ts';
import type { Folder } from './folders.ts';
import type { MessageRow } from './messages.ts';
import { type ParsedMessage, parseMessage } from './parse.ts';
import type { AttachmentRowForView, MessageRowForView, ViewInput } from './views.ts';

const CHUNK = 500;

export interface FolderStatus {
  messages: number;
  unseen: number;
  /** Messages with \\Deleted (not yet expunged). */
  deleted: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
  /** Sum of the messages' sizes in octets (IMAP STATUS SIZE, RFC 8438). */
  size: number;
}

/** The folder of the mailbox, or 404. */
export async function folderOfMailbox(db: Db, mailboxId: string, folderId: string): Promise<Folder> {
  const f = await db.selectFrom('folders').selectAll().where('id', '=', folderId).where('mailbox_id', '=', mailboxId).executeTakeFirst();
  if (!f) throw notFound('Folder');
  return f;
}

/**
 * The folder's messages in UID order: all of them, or those with the given UIDs, or those whose
 * MODSEQ is above `changedSince` (CONDSTORE CHANGEDSINCE, RFC 7162 §3.1.4.1).
 */
export async function messagesInFolder(db: Db, mailboxId: string, folderId: string, opts: { uids?: number[]; changedSince?: number } = {}): Promise<MessageRow[]> {
  await folderOfMailbox(db, mailboxId, folderId);
  const base = () => {
    let q = db.selectFrom('messages').selectAll().where('folder_id', '=', folderId).where('mailbox_id', '=', mailboxId);
    if (opts.changedSince !== undefined) q = q.where('modseq', '>', opts.changedSince);
    return q;
  };
  if (!opts.uids) return base().orderBy('uid').execute();
  const uids = [...new Set(opts.uids.filter((u) => Number.isSafeInteger(u) && u > 0))];
  const out: MessageRow[] = [];
  for (let i = 0; i < uids.length; i += CHUNK) out.push(...(await base().where('uid', 'in', uids.slice(i, i + CHUNK)).execute()));
  return out.sort((a, b) => Number(a.uid) - Number(b.uid));
}

/** The folder's UIDs in order (IMAP's sequence numbers are positions in this list). */
export async function uidsInFolder(db: Db, mailboxId: string, folderId: string): Promise<number[]> {
  await folderOfMailbox(db, mailboxId, folderId);
  const rows = await db.selectFrom('messages').select('uid').where('folder_id', '=', folderId).where('mailbox_id', '=', mailboxId).orderBy('uid').execute();
  return rows.map((r) => Number(r.uid));
}

/** One message of the mailbox by id, or undefined. */
export async function messageById(db: Db, mailboxId: string, messageId: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').selectAll().where('id', '=', messageId).where('mailbox_id', '=', mailboxId).executeTakeFirst();
}

/** Counts and counters of a folder (IMAP SELECT and STATUS). */
export async function folderStatus(db: Db, mailboxId: string, folderId: string): Promise<FolderStatus> {
  const f = await folderOfMailbox(db, mailboxId, folderId);
  const row = await db
    .selectFrom('messages')
    .select((eb) => [
      eb.fn.countAll<number>().as('messages'),
      eb.fn.sum<number>(eb.case().when('seen', '=', 0).then(1).else(0).end()).as('unseen'),
      eb.fn.sum<number>('deleted').as('deleted'),
      eb.fn.sum<number>('size').as('size'),
    ])
    .where('folder_id', '=', folderId)
    .executeTakeFirstOrThrow();
  return {
    messages: Number(row.messages),
    unseen: Number(row.unseen ?? 0),
    deleted: Number(row.deleted ?? 0),
    uidNext: Number(f.uid_next),
    uidValidity: Number(f.uid_validity),
    highestModseq: Number(f.highest_modseq),
    size: Number(row.size ?? 0),
  };
}

/** UIDs expunged from the folder with a MODSEQ above `modseq`, ascending (QRESYNC VANISHED, RFC 7162 §3.2.10). */
export async function vanishedSince(db: Db, mailboxId: string, folderId: string, modseq: number): Promise<number[]> {
  await folderOfMailbox(db, mailboxId, folderId);
  const rows = await db.selectFrom('expunged_messages').select('uid').where('folder_id', '=', folderId).where('modseq', '>', modseq).orderBy('uid').execute();
  return rows.map((r) => Number(r.uid));
}

/** The raw RFC 5322 bytes of a message. */
export function readRaw(core: Core, message: Pick<MessageRow, 'blob_id'>): Promise<Buffer> {
  return blobStore(core).get(message.blob_id);
}

/** The raw message as a stream (large messages, POP3 RETR). */
export function streamRaw(core: Core, message: Pick<MessageRow, 'blob_id'>): Readable {
  return blobStore(core).stream(message.blob_id);
}

/** A message's attachment rows in position order, for a page of messages at once. */
export async function attachmentsOfMessages(db: Db, messageIds: string[]): Promise<Map<string, AttachmentRowForView[]>> {
  const out = new Map<string, AttachmentRowForView[]>(messageIds.map((id) => [id, []]));
  for (let i = 0; i < messageIds.length; i += CHUNK) {
    const rows = await db
      .selectFrom('message_attachments')
      .select(['id', 'message_id', 'filename', 'size', 'content_type', 'content_id', 'disposition'])
      .where('message_id', 'in', messageIds.slice(i, i + CHUNK))
      .orderBy('position')
      .execute();
    for (const { message_id, ...a } of rows) out.get(message_id)?.push(a);
  }
  return out;
}

/**
 * What the JSON views (views.ts) need of a stored message: its row, the parse of its raw (null,
 * logged, when the raw cannot be read or parsed — the API still answers with the row's fields)
 * and its attachment rows.
 */
export async function viewInputOf(core: Core, db: Db, row: MessageRowForView & Pick<MessageRow, 'blob_id'>): Promise<ViewInput> {
  let parsed: ParsedMessage | null = null;
  try {
    parsed = await parseMessage(await readRaw(core, row));
  } catch (err) {
    core.log.warn({ err, messageId: row.id }, 'stored message could not be read');
  }
  const attachments = (await attachmentsOfMessages(db, [row.id])).get(row.id) ?? [];
  return { row, parsed, attachments };
}
