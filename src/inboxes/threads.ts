// Resend's `inboxes.threads.list, search, get, update, remove` and `inboxes.threads.emails.list,
// get` over the mail store: a thread is a `threads` row; its emails are the messages carrying its
// id, in whatever folder they are (Sent copies of replies included; Drafts copies are not emails
// of a thread — they make `has_draft`).
//
// Implementation notes:
// - A thread's `folder` is the folder of its newest message that is not in Sent (a thread of
//   only sent mail is `sent`). Listing by `folders` finds threads with at least one message in one
//   of them; with no `folders`, every thread with a message outside Trash and Spam (Gmail's "All
//   mail"). `labels` finds threads where any message carries one of the labels' keywords; `read`
//   is true when every message of the thread is \Seen.
// - Moving a thread (update `folder`): to `trash` every message goes to Trash; to inbox, archive
//   or spam the received messages go there and our own sent ones go (back) to Sent, so a thread
//   restored from the trash looks as it did. Moves and \Seen go through the mail store's
//   moveMessages/storeFlags in one mailTransaction, so IMAP sessions see them at once.
// - `remove` deletes the thread for good (every message expunged, its drafts removed): the SDK
//   answers `deleted: true`, and moving to the trash is `update({ folder: 'trash' })`.
// - Pages are ordered by last activity (threads.last_message_at, then id), newest first; the
//   `after`/`before` cursors are thread ids.
// - Search narrows messages through the full-text index (searchText: query over the whole message,
//   from/to/cc/bcc over those fields), intersected with has_attachment and the date window; it
//   considers the 10,000 newest matching messages. `matched_email_id` is the newest match.
import { type SelectQueryBuilder, sql } from 'kysely';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { FoldersTable, MessagesTable, Schema, ThreadsTable } from '../db/schema.ts';
import { emitEvent } from '../events/webhooks.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { expungeMessages, moveMessages, storeFlags } from '../mailstore/messages.ts';
import { viewInputOf } from '../mailstore/read.ts';
import { type SearchField, searchText } from '../mailstore/search.ts';
import { addressList, inboxMessageJson } from '../mailstore/views.ts';
import {
  INBOX_FOLDERS,
  type Inbox,
  type InboxFolder,
  MOVE_FOLDERS,
  type MoveFolder,
  SPECIAL_USE_OF,
  body,
  folderWord,
  iso,
  keywordFor,
  keywordPattern,
  optionalBool,
  parseJsonArray,
  queryBool,
  queryDate,
  queryList,
} from './common.ts';

const MAX_SEARCH_MATCHES = 10_000;

type Folder = FoldersTable;
type Msg = Pick<
  MessagesTable,
  'id' | 'folder_id' | 'uid' | 'thread_id' | 'seen' | 'keywords' | 'from_header' | 'to_json' | 'cc_json' | 'bcc_json' | 'has_attachments' | 'internal_date' | 'direction'
>;
const MSG_COLUMNS = ['id', 'folder_id', 'uid', 'thread_id', 'seen', 'keywords', 'from_header', 'to_json', 'cc_json', 'bcc_json', 'has_attachments', 'internal_date', 'direction'] as const;

export interface Folders {
  byId: Map<string, Folder>;
  bySpecialUse: Map<string, Folder>;
}

export async function foldersOf(db: Db, mailboxId: string): Promise<Folders> {
  const rows = await db.selectFrom('folders').selectAll().where('mailbox_id', '=', mailboxId).execute();
  const byId = new Map(rows.map((f) => [f.id, f]));
  const bySpecialUse = new Map(rows.filter((f) => f.special_use).map((f) => [f.special_use as string, f]));
  return { byId, bySpecialUse };
}

function folderIdsFor(folders: Folders, words: InboxFolder[]): string[] {
  const ids: string[] = [];
  for (const w of words) {
    if (w === 'archive') {
      // Archive and every user folder (they show as archive).
      for (const f of folders.byId.values()) if (f.special_use === 'archive' || f.special_use === null) ids.push(f.id);
    } else {
      const f = folders.bySpecialUse.get(SPECIAL_USE_OF[w]);
      if (f) ids.push(f.id);
    }
  }
  return ids;
}

function draftsFolderId(folders: Folders): string {
  return folders.bySpecialUse.get('drafts')?.id ?? '';
}

export async function threadFor(db: Db, inbox: Inbox, threadId: string): Promise<ThreadsTable> {
  if (!isUuid(String(threadId))) throw notFound('Thread');
  const row = await db.selectFrom('threads').selectAll().where('workspace_id', '=', inbox.workspace_id).where('mailbox_id', '=', inbox.id).where('id', '=', threadId.toLowerCase()).executeTakeFirst();
  if (!row) throw notFound('Thread');
  return row;
}

/** The messages of threads (Drafts copies excluded), oldest first. */
async function messagesOfThreads(db: Db, inbox: Inbox, folders: Folders, threadIds: string[]): Promise<Map<string, Msg[]>> {
  const out = new Map<string, Msg[]>(threadIds.map((id) => [id, []]));
  if (!threadIds.length) return out;
  const rows = await db
    .selectFrom('messages')
    .select([...MSG_COLUMNS])
    .where('mailbox_id', '=', inbox.id)
    .where('thread_id', 'in', threadIds)
    .where('folder_id', '!=', draftsFolderId(folders))
    .orderBy('internal_date', 'asc')
    .orderBy('id', 'asc')
    .execute();
  for (const r of rows) out.get(r.thread_id)?.push(r as Msg);
  return out;
}

function threadFolderOf(msgs: Msg[], folders: Folders): InboxFolder {
  const notSent = msgs.filter((m) => folders.byId.get(m.folder_id)?.special_use !== 'sent');
  const newest = notSent.at(-1);
  if (!newest) return 'sent';
  return folderWord(folders.byId.get(newest.folder_id)?.special_use ?? null) ?? 'inbox';
}

export interface LabelRow {
  id: string;
  name: string;
  color: string;
}

export async function labelsOfInbox(db: Db, inbox: Inbox): Promise<LabelRow[]> {
  return db.selectFrom('labels').select(['id', 'name', 'color']).where('mailbox_id', '=', inbox.id).orderBy('name').execute();
}

export function labelsOnMessages(msgs: Pick<Msg, 'keywords'>[], labels: LabelRow[]): LabelRow[] {
  const keywords = new Set<string>();
  for (const m of msgs) for (const k of parseJsonArray<string>(m.keywords)) if (typeof k === 'string') keywords.add(k.toLowerCase());
  return labels.filter((l) => keywords.has(keywordFor(l.name).toLowerCase())).map((l) => ({ id: l.id, name: l.name, color: l.color }));
}

interface ThreadContext {
  folders: Folders;
  labels: LabelRow[];
}

async function threadsJson(core: Core, inbox: Inbox, ctx: ThreadContext, threads: ThreadsTable[]) {
  const msgs = await messagesOfThreads(core.db, inbox, ctx.folders, threads.map((t) => t.id));
  const withDrafts = new Set<string>();
  if (threads.length) {
    const d = await core.db.selectFrom('drafts').select('thread_id').where('mailbox_id', '=', inbox.id).where('thread_id', 'in', threads.map((t) => t.id)).execute();
    for (const r of d) if (r.thread_id) withDrafts.add(r.thread_id);
  }
  return threads.map((t) => {
    const list = msgs.get(t.id) ?? [];
    const newest = list.at(-1);
    const newestInbound = [...list].reverse().find((m) => m.direction === 'inbound') ?? newest;
    return {
      id: t.id,
      subject: t.subject,
      from: newestInbound?.from_header ?? null,
      to: newest ? addressList(newest.to_json) : [],
      cc: newest ? addressList(newest.cc_json) : [],
      bcc: newest ? addressList(newest.bcc_json) : [],
      labels: labelsOnMessages(list, ctx.labels),
      email_count: list.length,
      has_attachment: list.some((m) => Number(m.has_attachments) === 1),
      has_draft: withDrafts.has(t.id),
      read: list.every((m) => Number(m.seen) === 1),
      received_at: iso(newest ? Number(newest.internal_date) : Number(t.last_message_at))!,
      folder: threadFolderOf(list, ctx.folders),
    };
  });
}

export async function threadSummary(core: Core, inbox: Inbox, thread: ThreadsTable, db: Db = core.db) {
  const folders = await foldersOf(db, inbox.id);
  const msgs = (await messagesOfThreads(db, inbox, folders, [thread.id])).get(thread.id) ?? [];
  return {
    object: 'inbox_thread' as const,
    id: thread.id,
    subject: thread.subject,
    folder: threadFolderOf(msgs, folders),
    labels: labelsOnMessages(msgs, await labelsOfInbox(db, inbox)),
    read: msgs.every((m) => Number(m.seen) === 1),
  };
}

// ---- Listing and searching ---------------------------------------------------------------------

export interface ThreadFilters {
  folders?: string[];
  labels?: string[];
  read?: boolean;
}

export interface SearchFilters extends ThreadFilters {
  query?: string;
  from?: string[];
  to?: string[];
  cc?: string[];
  bcc?: string[];
  hasAttachment?: boolean;
  start?: number;
  end?: number;
}

export function threadFiltersOf(q: Record<string, unknown>): ThreadFilters {
  return { folders: queryList(q.folders, 'folders', 5), labels: queryList(q.labels, 'labels'), read: queryBool(q.read, 'read') };
}

export function searchFiltersOf(q: Record<string, unknown>): SearchFilters {
  const text = (field: string, max = 500) => {
    const v = q[field];
    if (v === undefined || v === null || v === '') return undefined;
    const s = String(v);
    if (s.length > max) throw invalid(`The \`${field}\` query parameter must be at most ${max} characters.`);
    return s;
  };
  const start = queryDate(q.start_date, 'start_date');
  const end = queryDate(q.end_date, 'end_date');
  if (start !== undefined && end !== undefined && start > end) throw invalid('The `start_date` must not be after the `end_date`.');
  return {
    ...threadFiltersOf(q),
    query: text('query'),
    from: queryList(q.from, 'from'),
    to: queryList(q.to, 'to'),
    cc: queryList(q.cc, 'cc'),
    bcc: queryList(q.bcc, 'bcc'),
    hasAttachment: queryBool(q.has_attachment, 'has_attachment'),
    start,
    end,
  };
}

type ThreadQuery = SelectQueryBuilder<Schema, 'threads', ThreadsTable>;

/** Message ids matching the text criteria of a search (undefined: no text criteria). */
async function textMatches(db: Db, inbox: Inbox, f: SearchFilters): Promise<string[] | undefined> {
  const sets: Set<string>[] = [];
  if (f.query !== undefined && f.query.trim() !== '') sets.push(await searchText(db, { mailboxId: inbox.id, field: 'text', needle: f.query.trim() }));
  for (const field of ['from', 'to', 'cc', 'bcc'] as const) {
    const values = f[field];
    if (!values?.length) continue;
    const union = new Set<string>();
    for (const v of values) for (const id of await searchText(db, { mailboxId: inbox.id, field: field as SearchField, needle: v })) union.add(id);
    sets.push(union);
  }
  if (!sets.length) return undefined;
  sets.sort((a, b) => a.size - b.size);
  const [first, ...rest] = sets;
  const ids = [...first].filter((id) => rest.every((s) => s.has(id)));
  // UUIDv7 ids sort by time: keep the newest.
  return ids.sort().reverse().slice(0, MAX_SEARCH_MATCHES);
}

/** The query of threads that pass the filters (search criteria included when given). */
async function filteredThreads(db: Db, inbox: Inbox, folders: Folders, labels: LabelRow[], f: SearchFilters, matches: string[] | undefined, isSearch: boolean): Promise<ThreadQuery> {
  const drafts = draftsFolderId(folders);
  let q = db.selectFrom('threads').selectAll().where('threads.workspace_id', '=', inbox.workspace_id).where('threads.mailbox_id', '=', inbox.id) as ThreadQuery;

  let folderIds: string[];
  if (f.folders) {
    for (const w of f.folders) if (!(INBOX_FOLDERS as readonly string[]).includes(w)) throw invalid(`Each of \`folders\` must be one of ${INBOX_FOLDERS.join(', ')}.`);
    folderIds = folderIdsFor(folders, f.folders as InboxFolder[]);
  } else {
    folderIds = [...folders.byId.values()].filter((x) => !['trash', 'junk', 'drafts'].includes(x.special_use ?? '')).map((x) => x.id);
  }
  if (!folderIds.length) folderIds = ['-'];
  q = q.where((eb) =>
    eb.exists(eb.selectFrom('messages').select('messages.id').whereRef('messages.thread_id', '=', 'threads.id').where('messages.mailbox_id', '=', inbox.id).where('messages.folder_id', 'in', folderIds)),
  );

  if (f.labels) {
    const patterns: string[] = [];
    for (const l of f.labels) {
      const label = labels.find((x) => x.id === l.toLowerCase() || x.name === l);
      if (!label) throw invalid(`Unknown label ${JSON.stringify(l.slice(0, 80))}: give label ids of this inbox.`);
      patterns.push(keywordPattern(keywordFor(label.name)));
    }
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('messages')
          .select('messages.id')
          .whereRef('messages.thread_id', '=', 'threads.id')
          .where('messages.mailbox_id', '=', inbox.id)
          .where((e) => e.or(patterns.map((p) => sql<boolean>`messages.keywords like ${p} escape '\\'`))),
      ),
    );
  }

  if (f.read !== undefined) {
    const unseen = (eb: any) =>
      eb.exists(
        eb.selectFrom('messages').select('messages.id').whereRef('messages.thread_id', '=', 'threads.id').where('messages.mailbox_id', '=', inbox.id).where('messages.folder_id', '!=', drafts).where('messages.seen', '=', 0),
      );
    q = q.where((eb) => (f.read ? eb.not(unseen(eb)) : unseen(eb)));
  }

  if (isSearch) {
    if (matches && !matches.length) return q.where(sql<boolean>`1 = 0`);
    q = q.where((eb) => {
      let m = eb.selectFrom('messages').select('messages.id').whereRef('messages.thread_id', '=', 'threads.id').where('messages.mailbox_id', '=', inbox.id).where('messages.folder_id', '!=', drafts);
      if (matches) m = m.where('messages.id', 'in', matches);
      if (f.hasAttachment !== undefined) m = m.where('messages.has_attachments', '=', f.hasAttachment ? 1 : 0);
      if (f.start !== undefined) m = m.where('messages.internal_date', '>=', f.start);
      if (f.end !== undefined) m = m.where('messages.internal_date', '<=', f.end);
      return eb.exists(m);
    });
  }
  return q;
}

/** Keyset pagination by (last_message_at, id), newest first. */
async function pageOfThreads(db: Db, inbox: Inbox, q: ThreadQuery, page: PageRequest): Promise<{ rows: ThreadsTable[]; has_more: boolean }> {
  const cursorId = page.after ?? page.before;
  if (cursorId) {
    const c = isUuid(cursorId) ? await db.selectFrom('threads').select(['id', 'last_message_at']).where('mailbox_id', '=', inbox.id).where('id', '=', cursorId.toLowerCase()).executeTakeFirst() : undefined;
    if (!c) throw invalid(`The \`${page.after ? 'after' : 'before'}\` cursor is not a thread of this inbox.`);
    const t = Number(c.last_message_at);
    if (page.after) {
      q = q.where((eb) => eb.or([eb('threads.last_message_at', '<', t), eb.and([eb('threads.last_message_at', '=', t), eb('threads.id', '<', c.id)])]));
      q = q.orderBy('threads.last_message_at', 'desc').orderBy('threads.id', 'desc');
    } else {
      q = q.where((eb) => eb.or([eb('threads.last_message_at', '>', t), eb.and([eb('threads.last_message_at', '=', t), eb('threads.id', '>', c.id)])]));
      q = q.orderBy('threads.last_message_at', 'asc').orderBy('threads.id', 'asc');
    }
  } else {
    q = q.orderBy('threads.last_message_at', 'desc').orderBy('threads.id', 'desc');
  }
  const rows = await q.limit(page.limit + 1).execute();
  const has_more = rows.length > page.limit;
  const slice = rows.slice(0, page.limit);
  if (page.before) slice.reverse();
  return { rows: slice, has_more };
}

export async function listThreads(core: Core, inbox: Inbox, f: ThreadFilters, page: PageRequest) {
  const folders = await foldersOf(core.db, inbox.id);
  const labels = await labelsOfInbox(core.db, inbox);
  const q = await filteredThreads(core.db, inbox, folders, labels, f, undefined, false);
  const { rows, has_more } = await pageOfThreads(core.db, inbox, q, page);
  return { object: 'list' as const, has_more, data: await threadsJson(core, inbox, { folders, labels }, rows) };
}

export async function searchThreads(core: Core, inbox: Inbox, f: SearchFilters, page: PageRequest) {
  const folders = await foldersOf(core.db, inbox.id);
  const labels = await labelsOfInbox(core.db, inbox);
  const matches = await textMatches(core.db, inbox, f);
  const q = await filteredThreads(core.db, inbox, folders, labels, f, matches, true);
  const { rows, has_more } = await pageOfThreads(core.db, inbox, q, page);
  const json = await threadsJson(core, inbox, { folders, labels }, rows);
  // The newest matching message of each thread on the page.
  const matched = new Map<string, { id: string; t: number }>();
  if (rows.length) {
    let m = core.db
      .selectFrom('messages')
      .select(['id', 'thread_id', 'internal_date'])
      .where('mailbox_id', '=', inbox.id)
      .where('thread_id', 'in', rows.map((r) => r.id))
      .where('folder_id', '!=', draftsFolderId(folders));
    if (matches) m = m.where('id', 'in', matches.length ? matches : ['-']);
    if (f.hasAttachment !== undefined) m = m.where('has_attachments', '=', f.hasAttachment ? 1 : 0);
    if (f.start !== undefined) m = m.where('internal_date', '>=', f.start);
    if (f.end !== undefined) m = m.where('internal_date', '<=', f.end);
    for (const r of await m.execute()) {
      const cur = matched.get(r.thread_id);
      if (!cur || Number(r.internal_date) >= cur.t) matched.set(r.thread_id, { id: r.id, t: Number(r.internal_date) });
    }
  }
  return { object: 'list' as const, has_more, data: json.map((t) => ({ ...t, matched_email_id: matched.get(t.id)?.id ?? null })) };
}

export async function getThread(core: Core, inbox: Inbox, threadId: string) {
  return threadSummary(core, inbox, await threadFor(core.db, inbox, threadId));
}

// ---- Changing ----------------------------------------------------------------------------------

function byFolder<T extends { folder_id: string; uid: number }>(msgs: T[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of msgs) {
    const list = out.get(m.folder_id) ?? [];
    list.push(Number(m.uid));
    out.set(m.folder_id, list);
  }
  return out;
}

export async function updateThread(core: Core, inbox: Inbox, threadId: string, raw: unknown) {
  const b = body(raw);
  const read = optionalBool(b, 'read');
  let folder: MoveFolder | undefined;
  if (b.folder !== undefined && b.folder !== null) {
    if (!(MOVE_FOLDERS as readonly unknown[]).includes(b.folder)) throw invalid(`The \`folder\` field must be one of ${MOVE_FOLDERS.join(', ')}.`);
    folder = b.folder as MoveFolder;
  }
  if (read === undefined && folder === undefined) throw invalid('Give at least one of `read` and `folder`.');
  return mailTransaction(core, async (tx, emit) => {
    const thread = await threadFor(tx, inbox, threadId);
    const folders = await foldersOf(tx, inbox.id);
    const before = (await messagesOfThreads(tx, inbox, folders, [thread.id])).get(thread.id) ?? [];
    if (read !== undefined) {
      const change = before.filter((m) => (Number(m.seen) === 1) !== read);
      for (const [folderId, uids] of byFolder(change)) {
        await storeFlags(core, tx, emit, { folderId, uids, mode: read ? 'add' : 'remove', flags: ['\\Seen'] });
      }
    }
    if (folder !== undefined) {
      const msgs = (await messagesOfThreads(tx, inbox, folders, [thread.id])).get(thread.id) ?? [];
      const sent = folders.bySpecialUse.get('sent');
      const target = folders.bySpecialUse.get(SPECIAL_USE_OF[folder]);
      if (!target) throw new Error(`mailbox ${inbox.id} has no ${folder} folder`);
      const moves = new Map<string, { from: string; to: string; uids: number[] }>();
      for (const m of msgs) {
        const to = folder === 'trash' || m.direction === 'inbound' || !sent ? target.id : sent.id;
        if (to === m.folder_id) continue;
        const key = `${m.folder_id}>${to}`;
        const e = moves.get(key) ?? { from: m.folder_id, to, uids: [] };
        e.uids.push(Number(m.uid));
        moves.set(key, e);
      }
      for (const mv of moves.values()) await moveMessages(core, tx, emit, { fromFolderId: mv.from, uids: mv.uids, toFolderId: mv.to });
      if (moves.size) await emitEvent(core, inbox.workspace_id, 'inbox.thread.folder.updated', { inbox_id: inbox.id, thread_id: thread.id, folder }, tx);
    }
    return threadSummary(core, inbox, thread, tx);
  });
}

export async function removeThread(core: Core, actor: Actor, inbox: Inbox, threadId: string) {
  return mailTransaction(core, async (tx, emit) => {
    const thread = await threadFor(tx, inbox, threadId);
    // Every copy, Drafts included.
    const msgs = await tx.selectFrom('messages').select(['folder_id', 'uid']).where('mailbox_id', '=', inbox.id).where('thread_id', '=', thread.id).execute();
    for (const [folderId, uids] of byFolder(msgs)) await expungeMessages(core, tx, emit, { folderId, uids, force: true });
    await tx.deleteFrom('drafts').where('mailbox_id', '=', inbox.id).where('thread_id', '=', thread.id).execute();
    await tx.deleteFrom('threads').where('id', '=', thread.id).execute();
    await audit(core, actor, { workspaceId: inbox.workspace_id, action: 'inbox.thread_deleted', targetType: 'inbox_thread', targetId: thread.id, data: { inbox_id: inbox.id, emails: msgs.length } }, tx);
    return { object: 'inbox_thread' as const, id: thread.id, deleted: true };
  });
}

// ---- The emails of a thread --------------------------------------------------------------------

export async function messageInThread(db: Db, inbox: Inbox, thread: ThreadsTable, emailId: string): Promise<MessagesTable> {
  if (!isUuid(String(emailId))) throw notFound('Email');
  const folders = await foldersOf(db, inbox.id);
  const row = await db
    .selectFrom('messages')
    .selectAll()
    .where('workspace_id', '=', inbox.workspace_id)
    .where('mailbox_id', '=', inbox.id)
    .where('thread_id', '=', thread.id)
    .where('id', '=', emailId.toLowerCase())
    .where('folder_id', '!=', draftsFolderId(folders))
    .executeTakeFirst();
  if (!row) throw notFound('Email');
  return row;
}

/** A thread email in Resend's InboxMessage shape (src/mailstore/views.ts) plus Mailstack's extras. */
export async function threadEmailJson(core: Core, row: MessagesTable) {
  return inboxMessageJson(await viewInputOf(core, core.db, row));
}

export async function listThreadEmails(core: Core, inbox: Inbox, threadId: string, page: PageRequest) {
  const thread = await threadFor(core.db, inbox, threadId);
  const folders = await foldersOf(core.db, inbox.id);
  const q = core.db.selectFrom('messages').selectAll().where('mailbox_id', '=', inbox.id).where('thread_id', '=', thread.id).where('folder_id', '!=', draftsFolderId(folders));
  const { rows, has_more } = await paginate(q, 'id', page);
  const data = [];
  for (const r of rows) data.push(await threadEmailJson(core, r));
  return { object: 'list' as const, has_more, data };
}

export async function getThreadEmail(core: Core, inbox: Inbox, threadId: string, emailId: string) {
  const thread = await threadFor(core.db, inbox, threadId);
  return threadEmailJson(core, await messageInThread(core.db, inbox, thread, emailId));
}
