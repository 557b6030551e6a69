// Messages in folders: append, flags, copy, move, expunge — every write the doors make.
// Every write takes the transaction and the `emit` of `mailTransaction` (changes.ts) so changes are
// published only after commit.
//
// Invariants: UIDs in a folder strictly increase and are never reused (uid_next only grows);
// every change to a message (new, flags, expunge) takes the folder's next MODSEQ and raises
// highest_modseq (RFC 7162 §3); an expunged UID is remembered in expunged_messages with its MODSEQ.
//
// Implementation notes:
// - UIDs and MODSEQs are allocated by one `UPDATE folders … RETURNING` in the caller's transaction.
//   On SQLite the transaction holds the write lock; on PostgreSQL the row lock taken by the UPDATE
//   serialises concurrent writers to the folder until commit, and a writer that waited re-reads the
//   updated row (READ COMMITTED), so two appends never get the same UID and UIDs commit in order
//   per folder.
// - A block of n UIDs/MODSEQs is taken at once for COPY/MOVE/STORE/EXPUNGE of n messages: each
//   message still gets its own MODSEQ.
// - Every function takes folder ids; when the caller passes `mailboxId` the folder must belong to
//   that mailbox (404 otherwise), and a copy or move never crosses mailboxes.
// - Lock order, so concurrent writers on PostgreSQL cannot deadlock: folder rows (several in id
//   order), then the mailbox row (used_bytes), then thread rows.
// - Blobs are never deleted here: an expunge queues their release (blobs.ts), which runs after commit.
//   An append holds its blob (blobs.ts `holdBlob`) so a release cannot delete what it is about to
//   refer to.
import type { Core } from '../core/core.ts';
import { CoreError, notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { FoldersTable, MailboxesTable, MessagesTable, SpecialUse } from '../db/schema.ts';
import { holdBlob, queueBlobRelease } from './blobs.ts';
import { flagJudgement, queueJunkLearning, transferJudgement } from './junk-learning.ts';
import type { Emit } from './changes.ts';
import type { ParsedAddress, ParsedMessage } from './parse.ts';
import { bodyText, snippetOf } from './text.ts';
import { assignThread, dropEmptyThreads } from './threads.ts';

export type MessageRow = MessagesTable;

/** IMAP system flags as stored: '\\Seen' '\\Answered' '\\Flagged' '\\Deleted' '\\Draft'; others are keywords. */
export type Flag = string;

const CHUNK = 500;

export interface AppendInput {
  mailbox: MailboxesTable;
  /** Where to: a folder id, or the folder with this special use. */
  folderId?: string;
  specialUse?: SpecialUse;
  /** The raw message is already in the blob store (put() fsynced it). */
  blobId: string;
  /** The raw bytes, when the caller has them: written again if a release removed the blob meanwhile. */
  raw?: Buffer;
  size: number;
  parsed: ParsedMessage;
  internalDate?: number;
  flags?: Flag[];
  direction?: 'inbound' | 'outbound';
  /** The MX's SPF/DKIM/DMARC/ARC verdicts, as JSON-able object. */
  auth?: unknown;
  envelopeFrom?: string | null;
  receivedFor?: string[];
  /** For a Sent copy: the outbound emails row. */
  emailId?: string | null;
  /** Put it in this thread instead of finding one (a reply sent from the API). */
  threadId?: string;
}

export interface AppendedMessage {
  id: string;
  folderId: string;
  uid: number;
  modseq: number;
  uidValidity: number;
  threadId: string;
}

// ---- Flags ----------------------------------------------------------------------------------------

const SYSTEM = { '\\seen': 'seen', '\\answered': 'answered', '\\flagged': 'flagged', '\\deleted': 'deleted', '\\draft': 'draft' } as const;
type SystemColumn = (typeof SYSTEM)[keyof typeof SYSTEM];
const SYSTEM_ORDER: [SystemColumn, Flag][] = [
  ['seen', '\\Seen'],
  ['answered', '\\Answered'],
  ['flagged', '\\Flagged'],
  ['deleted', '\\Deleted'],
  ['draft', '\\Draft'],
];

interface FlagState {
  seen: number;
  answered: number;
  flagged: number;
  deleted: number;
  draft: number;
  keywords: string[];
}

function parseKeywords(json: string): string[] {
  try {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

/** Splits flags into system flags and keywords; other '\\' flags (\\Recent, unknown) are ignored. */
function splitFlags(flags: Flag[]): { system: Set<SystemColumn>; keywords: string[] } {
  const system = new Set<SystemColumn>();
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (typeof f !== 'string' || !f) continue;
    if (f.startsWith('\\')) {
      const col = SYSTEM[f.toLowerCase() as keyof typeof SYSTEM];
      if (col) system.add(col);
      continue;
    }
    // Keywords are atoms compared case-insensitively (RFC 9051 §2.3.2); the first spelling is kept.
    const key = f.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      keywords.push(f);
    }
  }
  return { system, keywords };
}

function stateOf(row: Pick<MessageRow, 'seen' | 'answered' | 'flagged' | 'deleted' | 'draft' | 'keywords'>): FlagState {
  return { seen: row.seen, answered: row.answered, flagged: row.flagged, deleted: row.deleted, draft: row.draft, keywords: parseKeywords(row.keywords) };
}

function applyFlags(state: FlagState, mode: 'add' | 'remove' | 'replace', flags: Flag[]): FlagState {
  const { system, keywords } = splitFlags(flags);
  const next: FlagState = { ...state, keywords: [...state.keywords] };
  if (mode === 'replace') {
    for (const [col] of SYSTEM_ORDER) next[col] = system.has(col) ? 1 : 0;
    next.keywords = keywords;
  } else if (mode === 'add') {
    for (const col of system) next[col] = 1;
    const have = new Set(next.keywords.map((k) => k.toLowerCase()));
    for (const k of keywords) if (!have.has(k.toLowerCase())) next.keywords.push(k);
  } else {
    for (const col of system) next[col] = 0;
    const drop = new Set(keywords.map((k) => k.toLowerCase()));
    next.keywords = next.keywords.filter((k) => !drop.has(k.toLowerCase()));
  }
  return next;
}

function sameFlags(a: FlagState, b: FlagState): boolean {
  if (SYSTEM_ORDER.some(([c]) => a[c] !== b[c])) return false;
  if (a.keywords.length !== b.keywords.length) return false;
  const ak = new Set(a.keywords.map((k) => k.toLowerCase()));
  return b.keywords.every((k) => ak.has(k.toLowerCase()));
}

/** The IMAP flags of a row, system flags first. */
export function flagsOf(row: Pick<MessageRow, 'seen' | 'answered' | 'flagged' | 'deleted' | 'draft' | 'keywords'>): Flag[] {
  const out: Flag[] = [];
  for (const [col, flag] of SYSTEM_ORDER) if (row[col]) out.push(flag);
  out.push(...parseKeywords(row.keywords));
  return out;
}

// ---- Folder counters -------------------------------------------------------------------------------

async function folderOf(tx: Db, folderId: string, mailboxId?: string): Promise<FoldersTable> {
  let q = tx.selectFrom('folders').selectAll().where('id', '=', folderId);
  if (mailboxId !== undefined) q = q.where('mailbox_id', '=', mailboxId);
  const row = await q.executeTakeFirst();
  if (!row) throw notFound('Folder');
  return row;
}

/**
 * Takes `uids` new UIDs and `modseqs` new MODSEQs from the folder; returns the first of each.
 * The UPDATE's row lock serialises writers of the folder (see the notes above).
 */
async function allocate(tx: Db, folderId: string, uids: number, modseqs: number): Promise<{ firstUid: number; firstModseq: number; uidValidity: number }> {
  const row = await tx
    .updateTable('folders')
    .set((eb) => ({ uid_next: eb('uid_next', '+', uids), highest_modseq: eb('highest_modseq', '+', modseqs) }))
    .where('id', '=', folderId)
    .returning(['uid_next', 'highest_modseq', 'uid_validity'])
    .executeTakeFirst();
  if (!row) throw notFound('Folder');
  return { firstUid: Number(row.uid_next) - uids, firstModseq: Number(row.highest_modseq) - modseqs + 1, uidValidity: Number(row.uid_validity) };
}

/** Locks folder rows in id order (PostgreSQL; a no-op write on SQLite, which has one writer), so
 * two commands touching the same two folders cannot deadlock. */
async function lockFolders(tx: Db, folderIds: string[]): Promise<void> {
  for (const id of [...new Set(folderIds)].sort()) {
    await tx.updateTable('folders').set((eb) => ({ uid_next: eb.ref('uid_next') })).where('id', '=', id).execute();
  }
}

async function addUsedBytes(tx: Db, mailboxId: string, delta: number): Promise<void> {
  if (!delta) return;
  await tx.updateTable('mailboxes').set((eb) => ({ used_bytes: eb('used_bytes', '+', delta) })).where('id', '=', mailboxId).execute();
}

async function rowsByUid(tx: Db, folderId: string, uids: number[]): Promise<MessageRow[]> {
  const unique = [...new Set(uids.filter((u) => Number.isSafeInteger(u) && u > 0))];
  const out: MessageRow[] = [];
  for (let i = 0; i < unique.length; i += CHUNK) {
    out.push(...(await tx.selectFrom('messages').selectAll().where('folder_id', '=', folderId).where('uid', 'in', unique.slice(i, i + CHUNK)).execute()));
  }
  return out.sort((a, b) => Number(a.uid) - Number(b.uid));
}

// ---- Append ----------------------------------------------------------------------------------------

const addresses = (list: ParsedAddress[] | undefined) => (list ?? []).map((a) => ({ name: a.name ?? '', address: a.address ?? '' }));
const addressText = (list: ParsedAddress[] | undefined | null) =>
  (list ?? [])
    .map((a) => [a.name, a.address].filter(Boolean).join(' '))
    .join(' ')
    .slice(0, 100_000);

/**
 * Appends a message: UID and MODSEQ from the folder, thread found (References, In-Reply-To, then
 * normalised subject), search text indexed, attachments listed, mailbox used_bytes raised.
 * Does not check the quota (callers decide: the MX refuses with 452, IMAP APPEND with NO [OVERQUOTA]).
 */
export async function appendMessage(core: Core, tx: Db, emit: Emit, input: AppendInput): Promise<AppendedMessage> {
  const { mailbox, parsed } = input;
  await holdBlob(core, tx, input.blobId, input.raw);
  let folderId = input.folderId;
  if (folderId === undefined) {
    const use = input.specialUse ?? 'inbox';
    const f = await tx.selectFrom('folders').select('id').where('mailbox_id', '=', mailbox.id).where('special_use', '=', use).orderBy('created_at').executeTakeFirst();
    if (!f) throw notFound('Folder');
    folderId = f.id;
  } else {
    await folderOf(tx, folderId, mailbox.id);
  }
  const now = core.clock.now();
  const internalDate = input.internalDate ?? now;
  const { firstUid: uid, firstModseq: modseq, uidValidity } = await allocate(tx, folderId, 1, 1);
  await addUsedBytes(tx, mailbox.id, input.size);

  let threadId = input.threadId;
  if (threadId !== undefined) {
    const t = await tx.selectFrom('threads').select('id').where('id', '=', threadId).where('mailbox_id', '=', mailbox.id).executeTakeFirst();
    if (!t) throw notFound('Thread');
    await tx.updateTable('threads').set({ last_message_at: internalDate }).where('id', '=', threadId).where('last_message_at', '<', internalDate).execute();
  } else {
    threadId = await assignThread(core, tx, mailbox, parsed, internalDate);
  }

  const { system, keywords } = splitFlags(input.flags ?? []);
  const body = bodyText(parsed);
  const attachments = parsed.attachments ?? [];
  const id = newId(now);
  await tx
    .insertInto('messages')
    .values({
      id,
      workspace_id: mailbox.workspace_id,
      mailbox_id: mailbox.id,
      folder_id: folderId,
      uid,
      modseq,
      blob_id: input.blobId,
      size: input.size,
      internal_date: internalDate,
      seen: system.has('seen') ? 1 : 0,
      answered: system.has('answered') ? 1 : 0,
      flagged: system.has('flagged') ? 1 : 0,
      deleted: system.has('deleted') ? 1 : 0,
      draft: system.has('draft') ? 1 : 0,
      keywords: JSON.stringify(keywords),
      thread_id: threadId,
      direction: input.direction ?? 'inbound',
      message_id: parsed.messageId?.slice(0, 998) ?? null,
      in_reply_to: parsed.inReplyTo?.slice(0, 998) ?? null,
      references_json: JSON.stringify((parsed.references ?? []).slice(-MAX_STORED_REFERENCES)),
      subject: parsed.subject ?? null,
      from_header: parsed.fromHeader ?? null,
      from_address: parsed.from?.address?.toLowerCase() ?? null,
      to_json: JSON.stringify(addresses(parsed.to)),
      cc_json: JSON.stringify(addresses(parsed.cc)),
      bcc_json: JSON.stringify(addresses(parsed.bcc)),
      reply_to_json: JSON.stringify(addresses(parsed.replyTo)),
      sent_date: parsed.date ?? null,
      has_attachments: attachments.some((a) => a.disposition !== 'inline') ? 1 : 0,
      snippet: snippetOf(body),
      auth_json: input.auth === undefined ? null : JSON.stringify(input.auth),
      envelope_from: input.envelopeFrom ?? null,
      received_for_json: JSON.stringify(input.receivedFor ?? []),
      email_id: input.emailId ?? null,
      created_at: now,
    })
    .execute();
  for (const a of attachments) {
    await tx
      .insertInto('message_attachments')
      .values({
        id: newId(now),
        workspace_id: mailbox.workspace_id,
        message_id: id,
        position: a.position,
        filename: a.filename,
        content_type: a.contentType,
        content_id: a.contentId,
        disposition: a.disposition,
        size: a.size,
      })
      .execute();
  }
  await tx
    .insertInto('message_search')
    .values({
      message_id: id,
      mailbox_id: mailbox.id,
      sender: addressText(parsed.from ? [parsed.from] : []),
      recipients: [addressText(parsed.to), addressText(parsed.cc), addressText(parsed.bcc)].filter(Boolean).join(' '),
      subject: (parsed.subject ?? '').slice(0, 10_000),
      body,
    })
    .execute();
  emit({ type: 'new', mailboxId: mailbox.id, folderId, uid, modseq, messageId: id });
  return { id, folderId, uid, modseq, uidValidity, threadId };
}

const MAX_STORED_REFERENCES = 200;

// ---- Flags ----------------------------------------------------------------------------------------

/** The copy of a message the mailbox sent, in its Sent folder: seen, outbound, linked to its emails row. */
export function appendSentCopy(
  core: Core,
  tx: Db,
  emit: Emit,
  input: Pick<AppendInput, 'mailbox' | 'blobId' | 'size' | 'parsed' | 'emailId' | 'threadId'>,
): Promise<AppendedMessage> {
  return appendMessage(core, tx, emit, { ...input, specialUse: 'sent', flags: ['\\Seen'], direction: 'outbound' });
}

export interface StoreFlagsInput {
  folderId: string;
  uids: number[];
  mode: 'add' | 'remove' | 'replace';
  flags: Flag[];
  /** CONDSTORE UNCHANGEDSINCE (RFC 7162 §3.1.3): messages with a higher MODSEQ are left and reported. */
  unchangedSince?: number;
  /** When given, the folder must belong to this mailbox. */
  mailboxId?: string;
}

export interface StoreFlagsResult {
  /**
   * Messages whose flags changed (new MODSEQ) or were asked about, with their flags now;
   * `changed` tells which (an addition to the contract).
   */
  updated: { uid: number; modseq: number; flags: Flag[]; changed: boolean }[];
  /** UIDs that failed the UNCHANGEDSINCE test. */
  modified: number[];
}

export async function storeFlags(core: Core, tx: Db, emit: Emit, input: StoreFlagsInput): Promise<StoreFlagsResult> {
  const folder = await folderOf(tx, input.folderId, input.mailboxId);
  const rows = await rowsByUid(tx, folder.id, input.uids);
  const modified: number[] = [];
  const plan: { row: MessageRow; next: FlagState; changed: boolean }[] = [];
  for (const row of rows) {
    // RFC 7162 §3.1.3: a message whose mod-sequence is above UNCHANGEDSINCE is not touched.
    if (input.unchangedSince !== undefined && Number(row.modseq) > input.unchangedSince) {
      modified.push(Number(row.uid));
      continue;
    }
    const before = stateOf(row);
    const next = applyFlags(before, input.mode, input.flags);
    plan.push({ row, next, changed: !sameFlags(before, next) });
  }
  const changedCount = plan.filter((p) => p.changed).length;
  let modseq = 0;
  if (changedCount) modseq = (await allocate(tx, folder.id, 0, changedCount)).firstModseq;
  const updated: StoreFlagsResult['updated'] = [];
  // $Junk / $NotJunk newly set train the spam filter (junk-learning.ts).
  const learn: { spam?: string[]; ham?: string[] } = {};
  for (const p of plan) {
    const flags = flagsOf({ ...p.next, keywords: JSON.stringify(p.next.keywords) });
    if (!p.changed) {
      updated.push({ uid: Number(p.row.uid), modseq: Number(p.row.modseq), flags, changed: false });
      continue;
    }
    const m = modseq++;
    await tx
      .updateTable('messages')
      .set({ seen: p.next.seen, answered: p.next.answered, flagged: p.next.flagged, deleted: p.next.deleted, draft: p.next.draft, keywords: JSON.stringify(p.next.keywords), modseq: m })
      .where('id', '=', p.row.id)
      .execute();
    updated.push({ uid: Number(p.row.uid), modseq: m, flags, changed: true });
    const before = new Set(flagsOf(p.row).map((f) => f.toLowerCase()));
    const judged = flagJudgement(flags.filter((f) => !before.has(f.toLowerCase())));
    if (judged) (learn[judged] ??= []).push(p.row.id);
    emit({ type: 'flags', mailboxId: folder.mailbox_id, folderId: folder.id, uid: Number(p.row.uid), modseq: m, messageId: p.row.id });
  }
  await queueJunkLearning(core, tx, folder.mailbox_id, learn.spam ?? [], 'spam');
  await queueJunkLearning(core, tx, folder.mailbox_id, learn.ham ?? [], 'ham');
  return { updated, modified: modified.sort((a, b) => a - b) };
}

// ---- Copy, move, expunge ---------------------------------------------------------------------------

export interface CopyResult {
  uidValidity: number;
  /** [source uid, destination uid] in source order (UIDPLUS COPYUID, RFC 4315). */
  mapping: [number, number][];
}

export interface CopyInput {
  fromFolderId: string;
  uids: number[];
  toFolderId: string;
  /** When given, both folders must belong to this mailbox. */
  mailboxId?: string;
}

/**
 * The common start of COPY and MOVE: both folders (of one mailbox; the source of
 * `input.mailboxId` when given), locked in a fixed order, the source rows by UID, and the target's
 * UIDs and MODSEQs allocated for them; `none` (the empty result) when no UID matched.
 */
type Transfer = { from: FoldersTable; to: FoldersTable; rows: MessageRow[]; firstUid: number; firstModseq: number; uidValidity: number };

async function transferOf(tx: Db, input: CopyInput): Promise<Transfer | { none: CopyResult }> {
  const from = await folderOf(tx, input.fromFolderId, input.mailboxId);
  const to = await folderOf(tx, input.toFolderId, from.mailbox_id);
  await lockFolders(tx, [from.id, to.id]);
  const rows = await rowsByUid(tx, from.id, input.uids);
  if (!rows.length) return { none: { uidValidity: Number(to.uid_validity), mapping: [] } };
  return { from, to, rows, ...(await allocate(tx, to.id, rows.length, rows.length)) };
}

export async function copyMessages(core: Core, tx: Db, emit: Emit, input: CopyInput): Promise<CopyResult> {
  const t = await transferOf(tx, input);
  if ('none' in t) return t.none;
  const { from, to, rows, firstUid, firstModseq, uidValidity } = t;
  const now = core.clock.now();
  const mapping: [number, number][] = [];
  let bytes = 0;
  const copied: string[] = [];
  for (let i = 0; i < rows.length; i++) {
    const src = rows[i];
    const id = newId(now);
    copied.push(id);
    const uid = firstUid + i;
    const modseq = firstModseq + i;
    // The copy is a new message of the target folder: its created_at is when it entered the folder
    // (the Trash/Junk purge counts from it); flags and everything parsed are kept.
    await tx.insertInto('messages').values({ ...src, id, folder_id: to.id, uid, modseq, created_at: now }).execute();
    const atts = await tx.selectFrom('message_attachments').selectAll().where('message_id', '=', src.id).execute();
    for (const a of atts) await tx.insertInto('message_attachments').values({ ...a, id: newId(now), message_id: id }).execute();
    const search = await tx.selectFrom('message_search').select(['sender', 'recipients', 'subject', 'body']).where('message_id', '=', src.id).executeTakeFirst();
    if (search) await tx.insertInto('message_search').values({ ...search, message_id: id, mailbox_id: src.mailbox_id }).execute();
    bytes += Number(src.size);
    mapping.push([Number(src.uid), uid]);
    emit({ type: 'new', mailboxId: to.mailbox_id, folderId: to.id, uid, modseq, messageId: id });
  }
  await addUsedBytes(tx, to.mailbox_id, bytes);
  await queueJunkLearning(core, tx, to.mailbox_id, copied, transferJudgement(from, to));
  return { uidValidity, mapping };
}

/**
 * RFC 6851 MOVE: to the client it is a copy plus an expunge (new UIDs in the target, the source
 * UIDs vanish with their own MODSEQs), but the row moves in place, so a message keeps its id (and
 * its attachment ids) wherever it goes: ids the API handed out stay valid after a move.
 */
export async function moveMessages(core: Core, tx: Db, emit: Emit, input: CopyInput & { allowSameFolder?: boolean }): Promise<CopyResult> {
  // IMAP allows a MOVE within one folder (new UIDs, RFC 6851 §3.3); the API calls it a mistake.
  if (input.fromFolderId === input.toFolderId && !input.allowSameFolder) throw new CoreError(422, 'validation_error', 'A message cannot be moved to the folder it is in.');
  const t = await transferOf(tx, input);
  if ('none' in t) return t.none;
  const { from, to, rows, firstUid, firstModseq, uidValidity } = t;
  const gone = await allocate(tx, from.id, 0, rows.length);
  const now = core.clock.now();
  const mapping: [number, number][] = [];
  for (let i = 0; i < rows.length; i++) {
    const src = rows[i];
    const uid = firstUid + i;
    const modseq = firstModseq + i;
    // created_at is when the message entered its folder: the Trash/Junk purge counts from it.
    await tx.updateTable('messages').set({ folder_id: to.id, uid, modseq, created_at: now }).where('id', '=', src.id).execute();
    await tx.insertInto('expunged_messages').values({ folder_id: from.id, uid: Number(src.uid), modseq: gone.firstModseq + i }).execute();
    mapping.push([Number(src.uid), uid]);
  }
  for (let i = 0; i < rows.length; i++) emit({ type: 'new', mailboxId: to.mailbox_id, folderId: to.id, uid: mapping[i][1], modseq: firstModseq + i, messageId: rows[i].id });
  for (let i = 0; i < rows.length; i++) emit({ type: 'expunge', mailboxId: from.mailbox_id, folderId: from.id, uid: mapping[i][0], modseq: gone.firstModseq + i });
  await queueJunkLearning(core, tx, to.mailbox_id, rows.map((r) => r.id), transferJudgement(from, to));
  return { uidValidity, mapping };
}

/**
 * Removes messages for good: those with \\Deleted (EXPUNGE), limited to `uids` when given (UID EXPUNGE),
 * or exactly `uids` regardless of flags when `force` (API delete, purge). Returns the UIDs removed.
 */
export async function expungeMessages(core: Core, tx: Db, emit: Emit, input: { folderId: string; uids?: number[]; force?: boolean; mailboxId?: string }): Promise<number[]> {
  const folder = await folderOf(tx, input.folderId, input.mailboxId);
  let rows: Pick<MessageRow, 'id' | 'uid' | 'size' | 'blob_id' | 'thread_id' | 'deleted'>[];
  if (input.uids) {
    rows = (await rowsByUid(tx, folder.id, input.uids)).filter((r) => input.force || r.deleted);
  } else {
    if (input.force) throw new CoreError(422, 'validation_error', 'A forced expunge needs the UIDs to remove.');
    rows = await tx.selectFrom('messages').select(['id', 'uid', 'size', 'blob_id', 'thread_id', 'deleted']).where('folder_id', '=', folder.id).where('deleted', '=', 1).orderBy('uid').execute();
  }
  if (!rows.length) return [];
  const { firstModseq } = await allocate(tx, folder.id, 0, rows.length);
  const removed: number[] = [];
  let bytes = 0;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const ids = chunk.map((r) => r.id);
    await tx
      .insertInto('expunged_messages')
      .values(chunk.map((r, j) => ({ folder_id: folder.id, uid: Number(r.uid), modseq: firstModseq + i + j })))
      .execute();
    // The search row first, explicitly: its FTS5 shadow is kept by a delete trigger.
    await tx.deleteFrom('message_search').where('message_id', 'in', ids).execute();
    await tx.deleteFrom('messages').where('id', 'in', ids).execute();
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    bytes += Number(r.size);
    removed.push(Number(r.uid));
    emit({ type: 'expunge', mailboxId: folder.mailbox_id, folderId: folder.id, uid: Number(r.uid), modseq: firstModseq + i });
  }
  await addUsedBytes(tx, folder.mailbox_id, -bytes);
  await dropEmptyThreads(tx, rows.map((r) => r.thread_id));
  await queueBlobRelease(core, tx, rows.map((r) => r.blob_id));
  return removed;
}
