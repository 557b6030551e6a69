// The IMAP door's reads of the mail store: folders, the UID list of a folder, changes since a
// MODSEQ, message rows by UID, counts for STATUS. Writes always go through src/mailstore/messages.ts
// and folders.ts inside `mailTransaction`; this file only reads committed rows.
import type { Db } from '../db/database.ts';
import type { FoldersTable, MessagesTable } from '../db/schema.ts';

export type FlagColumns = Pick<MessagesTable, 'seen' | 'answered' | 'flagged' | 'deleted' | 'draft' | 'keywords'>;

export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;

/** The IMAP flags of a row, system flags first (the same order as the store's flagsOf). */
export function imapFlags(row: FlagColumns): string[] {
  const out: string[] = [];
  if (row.seen) out.push('\\Seen');
  if (row.answered) out.push('\\Answered');
  if (row.flagged) out.push('\\Flagged');
  if (row.deleted) out.push('\\Deleted');
  if (row.draft) out.push('\\Draft');
  try {
    const kw = JSON.parse(row.keywords || '[]');
    if (Array.isArray(kw)) for (const k of kw) if (typeof k === 'string') out.push(k);
  } catch {
    // A broken keywords column shows no keywords rather than failing the FETCH.
  }
  return out;
}

export function folderById(db: Db, folderId: string): Promise<FoldersTable | undefined> {
  return db.selectFrom('folders').selectAll().where('id', '=', folderId).executeTakeFirst();
}

/** The keywords any message of the folder carries, sorted (for FLAGS at SELECT, RFC 9051 §7.3.5). */
export async function folderKeywords(db: Db, folderId: string): Promise<string[]> {
  const rows = await db.selectFrom('messages').select('keywords').distinct().where('folder_id', '=', folderId).where('keywords', '!=', '[]').execute();
  const out = new Set<string>();
  for (const r of rows) for (const k of imapFlags({ seen: 0, answered: 0, flagged: 0, deleted: 0, draft: 0, keywords: r.keywords })) out.add(k);
  return [...out].sort();
}

export async function folderUids(db: Db, folderId: string): Promise<number[]> {
  const rows = await db.selectFrom('messages').select('uid').where('folder_id', '=', folderId).orderBy('uid').execute();
  return rows.map((r) => Number(r.uid));
}

export type ChangedRow = FlagColumns & { uid: number; modseq: number };

/** Messages whose MODSEQ is in (from, to]: new ones and flag changes (RFC 7162 §3). */
export async function changedSince(db: Db, folderId: string, from: number, to?: number): Promise<ChangedRow[]> {
  let q = db
    .selectFrom('messages')
    .select(['uid', 'modseq', 'seen', 'answered', 'flagged', 'deleted', 'draft', 'keywords'])
    .where('folder_id', '=', folderId)
    .where('modseq', '>', from);
  if (to !== undefined) q = q.where('modseq', '<=', to);
  const rows = await q.orderBy('uid').execute();
  return rows.map((r) => ({ ...r, uid: Number(r.uid), modseq: Number(r.modseq) }));
}

/** UIDs expunged with a MODSEQ in (from, to] (QRESYNC VANISHED, RFC 7162 §3.2.10). */
export async function expungedSince(db: Db, folderId: string, from: number, to?: number): Promise<number[]> {
  let q = db.selectFrom('expunged_messages').select('uid').where('folder_id', '=', folderId).where('modseq', '>', from);
  if (to !== undefined) q = q.where('modseq', '<=', to);
  const rows = await q.orderBy('uid').execute();
  return rows.map((r) => Number(r.uid));
}

export type MessageColumn = keyof MessagesTable;

/** Rows of the given UIDs (ascending), in chunks so a huge set never builds one huge query. */
export async function messagesByUids<C extends MessageColumn>(db: Db, folderId: string, uids: readonly number[], columns: readonly C[]): Promise<Pick<MessagesTable, C | 'uid'>[]> {
  const out: Pick<MessagesTable, C | 'uid'>[] = [];
  const cols = [...new Set<MessageColumn>(['uid', ...columns])];
  for (let i = 0; i < uids.length; i += 500) {
    const chunk = uids.slice(i, i + 500);
    const lo = chunk[0];
    const hi = chunk[chunk.length - 1];
    let q = db.selectFrom('messages').select(cols as any).where('folder_id', '=', folderId);
    // A dense run is one range scan; a sparse one an IN list.
    q = hi - lo + 1 === chunk.length ? q.where('uid', '>=', lo).where('uid', '<=', hi) : q.where('uid', 'in', chunk);
    const rows = (await q.orderBy('uid').execute()) as any[];
    for (const r of rows) {
      r.uid = Number(r.uid);
      if ('modseq' in r) r.modseq = Number(r.modseq);
      if ('size' in r) r.size = Number(r.size);
      if ('internal_date' in r) r.internal_date = Number(r.internal_date);
      if ('sent_date' in r && r.sent_date !== null) r.sent_date = Number(r.sent_date);
      out.push(r);
    }
  }
  return out;
}

/** The lowest UID of an unseen message (rev1 SELECT's [UNSEEN n] wants its sequence number). */
export async function firstUnseenUid(db: Db, folderId: string): Promise<number | null> {
  const r = await db.selectFrom('messages').select('uid').where('folder_id', '=', folderId).where('seen', '=', 0).orderBy('uid').limit(1).executeTakeFirst();
  return r ? Number(r.uid) : null;
}
