// The webmail's view of the mail store: which mailboxes a person may open, their folders with
// counts, a folder's messages page by page, one message to read, flags, moves and search.
//
// Implementation notes:
// - Who may open a mailbox: its owner (mailboxes.owner_user_id) always; the workspace's owners and
//   admins (and full-access API keys, which act as admins) any mailbox of the workspace, as a
//   non-owner. Everyone else gets 404 for a mailbox they may not open, the same answer as for a
//   mailbox that does not exist, so nothing leaks. Content reads by non-owners are audited by the
//   privacy layer (X-Mailstack-Access-Reason); this module only says who is the owner.
// - Every query takes the mailbox id and the workspace id; a folder or message id of another
//   mailbox is "not found".
// - A folder's list is keyset-paged by UID, newest first (`before_uid`), on the (folder_id, uid)
//   unique index, so a page costs the same at 50,000 messages as at 50.
// - Writes go through the mail store (storeFlags, moveMessages) inside mailTransaction, so IMAP
//   sessions and the live stream hear of them after the commit. A move keeps the message's id:
//   undo is a move back.
import type { Grantee } from '../accounts/roles.ts';
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { MessagesTable, SpecialUse } from '../db/schema.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { createFolder, deleteFolder, folderById, listFolders, renameFolder } from '../mailstore/folders.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { expungeMessages, moveMessages, storeFlags } from '../mailstore/messages.ts';
import { readRaw, viewInputOf } from '../mailstore/read.ts';
import { sanitizeHtml } from '../mailstore/sanitize.ts';
import { searchText } from '../mailstore/search.ts';
import { addressList, headersRecord, inlineCidImages } from '../mailstore/views.ts';
import { removeDraft } from '../inboxes/drafts.ts';
import { type Caller, forward, sendFromInbox, threadingOf } from '../inboxes/outgoing.ts';

export interface Viewer {
  workspaceId: string;
  userId: string | null;
  grantee: Grantee;
}

const canOpenOthers = (v: Viewer) => v.grantee === 'owner' || v.grantee === 'admin';
const PAGE_MAX = 200;

export function mailboxJson(m: Mailbox, v: Viewer) {
  return { id: m.id, email_address: m.address, name: m.name, from_name: m.from_name, owner_user_id: m.owner_user_id, owned: !!v.userId && m.owner_user_id === v.userId };
}

/** The mailboxes this person sees: their own first, then (owners and admins) the others. */
export async function visibleMailboxes(core: Core, v: Viewer) {
  let q = core.db.selectFrom('mailboxes').selectAll().where('workspace_id', '=', v.workspaceId).where('mode', '=', 'mailbox');
  if (!canOpenOthers(v)) q = q.where('owner_user_id', '=', v.userId ?? '');
  const rows = await q.orderBy('address').limit(1000).execute();
  const data = rows.map((m) => mailboxJson(m, v)).sort((a, b) => Number(b.owned) - Number(a.owned));
  return { object: 'list' as const, has_more: false, data };
}

/** The mailbox `id` if this person may open it, or 404. */
export async function openMailbox(db: Db, v: Viewer, id: string): Promise<{ mailbox: Mailbox; owned: boolean }> {
  if (!isUuid(id)) throw notFound('Mailbox');
  const mailbox = await db.selectFrom('mailboxes').selectAll().where('workspace_id', '=', v.workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst();
  if (!mailbox) throw notFound('Mailbox');
  const owned = !!v.userId && mailbox.owner_user_id === v.userId;
  if (!owned && !canOpenOthers(v)) throw notFound('Mailbox');
  return { mailbox, owned };
}

export async function foldersWithCounts(core: Core, mailbox: Mailbox) {
  const folders = await listFolders(core.db, mailbox.id);
  // Per folder, on the (folder_id, seen) index (migration 0030): the rows themselves are not read.
  const data = await Promise.all(
    folders.map(async (f) => {
      const counts = await core.db.selectFrom('messages').select(['seen', (eb) => eb.fn.countAll<number>().as('n')]).where('folder_id', '=', f.id).groupBy('seen').execute();
      const total = counts.reduce((n, c) => n + Number(c.n), 0);
      const unread = Number(counts.find((c) => Number(c.seen) === 0)?.n ?? 0);
      return { id: f.id, name: f.name, special_use: f.special_use, total, unread };
    }),
  );
  return { object: 'list' as const, has_more: false, data };
}

const LIST_COLUMNS = ['id', 'folder_id', 'uid', 'thread_id', 'seen', 'flagged', 'answered', 'draft', 'subject', 'from_header', 'from_address', 'to_json', 'snippet', 'has_attachments', 'internal_date', 'size'] as const;
type ListRow = Pick<MessagesTable, (typeof LIST_COLUMNS)[number]>;

function listItem(r: ListRow) {
  return {
    id: r.id,
    folder_id: r.folder_id,
    uid: Number(r.uid),
    thread_id: r.thread_id,
    subject: r.subject ?? '',
    from: r.from_header ?? '',
    from_address: r.from_address,
    to: addressList(r.to_json),
    snippet: r.snippet ?? '',
    date: new Date(Number(r.internal_date)).toISOString(),
    size: Number(r.size),
    seen: Number(r.seen) === 1,
    flagged: Number(r.flagged) === 1,
    answered: Number(r.answered) === 1,
    has_attachments: Number(r.has_attachments) === 1,
  };
}

function pageLimit(raw: unknown): number {
  const n = raw === undefined ? 50 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > PAGE_MAX) throw invalid(`The \`limit\` parameter must be an integer from 1 to ${PAGE_MAX}.`);
  return n;
}

async function folderOf(db: Db, mailbox: Mailbox, folderId: string) {
  const f = isUuid(folderId) ? await folderById(db, mailbox.id, folderId.toLowerCase()) : undefined;
  if (!f) throw notFound('Folder');
  return f;
}

/** One page of a folder, newest UID first; `before_uid` continues after the last one shown. */
export async function folderMessages(core: Core, mailbox: Mailbox, folderId: string, q: { limit?: unknown; before_uid?: unknown }) {
  const folder = await folderOf(core.db, mailbox, folderId);
  const limit = pageLimit(q.limit);
  let query = core.db.selectFrom('messages').select(LIST_COLUMNS).where('folder_id', '=', folder.id).where('mailbox_id', '=', mailbox.id);
  if (q.before_uid !== undefined) {
    const before = Number(q.before_uid);
    if (!Number.isInteger(before) || before < 1) throw invalid('The `before_uid` parameter must be a positive integer.');
    query = query.where('uid', '<', before);
  }
  const rows = await query.orderBy('uid', 'desc').limit(limit + 1).execute();
  return { object: 'list' as const, has_more: rows.length > limit, data: rows.slice(0, limit).map(listItem) };
}

/**
 * Search in the mailbox (or one folder): free words against the full-text index plus operators
 * `from:`, `to:`, `subject:`, `has:attachment`, `is:unread`, `is:flagged`, `before:` and `after:`
 * (YYYY-MM-DD). Newest first, at most `limit` results.
 */
export async function searchMessages(core: Core, mailbox: Mailbox, q: { q?: unknown; folder_id?: unknown; limit?: unknown }) {
  const text = typeof q.q === 'string' ? q.q.trim() : '';
  if (!text) throw invalid('Give a search in the `q` parameter.');
  if (text.length > 500) throw invalid('A search is at most 500 characters.');
  const limit = pageLimit(q.limit);
  const folder = typeof q.folder_id === 'string' && q.folder_id ? await folderOf(core.db, mailbox, q.folder_id) : null;
  const words: string[] = [];
  const fieldNeedles: { field: 'from' | 'to' | 'subject'; needle: string }[] = [];
  let query = core.db.selectFrom('messages').select(LIST_COLUMNS).where('mailbox_id', '=', mailbox.id);
  if (folder) query = query.where('folder_id', '=', folder.id);
  for (const m of text.matchAll(/(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/g)) {
    const [, op, rawValue, quoted, word] = m;
    const value = (rawValue ?? '').replace(/^"|"$/g, '');
    if (op === undefined) {
      words.push(quoted ?? word);
      continue;
    }
    const key = op.toLowerCase();
    if (key === 'from' || key === 'to' || key === 'subject') fieldNeedles.push({ field: key, needle: value });
    else if (key === 'has' && value.toLowerCase() === 'attachment') query = query.where('has_attachments', '=', 1);
    else if (key === 'is' && value.toLowerCase() === 'unread') query = query.where('seen', '=', 0);
    else if (key === 'is' && value.toLowerCase() === 'read') query = query.where('seen', '=', 1);
    else if (key === 'is' && value.toLowerCase() === 'flagged') query = query.where('flagged', '=', 1);
    else if (key === 'before' || key === 'after') {
      const t = Date.parse(value);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(t)) throw invalid(`\`${key}:\` takes a date as YYYY-MM-DD, not ${JSON.stringify(value)}.`);
      query = key === 'before' ? query.where('internal_date', '<', t) : query.where('internal_date', '>=', t + 86_400_000);
    } else throw invalid(`Unknown search operator \`${op}:\`. Known: from:, to:, subject:, has:attachment, is:unread, is:read, is:flagged, before:, after:.`);
  }
  // Each text condition narrows the candidate ids through the store's index.
  let ids: Set<string> | null = null;
  const narrow = (found: Set<string>) => {
    ids = ids === null ? found : new Set([...ids].filter((id) => found.has(id)));
  };
  if (words.length) narrow(await searchText(core.db, { mailboxId: mailbox.id, folderId: folder?.id, field: 'text', needle: words.join(' ') }));
  for (const f of fieldNeedles) narrow(await searchText(core.db, { mailboxId: mailbox.id, folderId: folder?.id, field: f.field, needle: f.needle }));
  if (ids !== null) {
    const list = [...(ids as Set<string>)];
    if (!list.length) return { object: 'list' as const, has_more: false, data: [] };
    query = query.where('id', 'in', list.slice(0, 5000));
  }
  const rows = await query.orderBy('internal_date', 'desc').limit(limit + 1).execute();
  return { object: 'list' as const, has_more: rows.length > limit, data: rows.slice(0, limit).map(listItem) };
}

async function messageOf(db: Db, mailbox: Mailbox, messageId: string): Promise<MessagesTable> {
  const row = isUuid(messageId) ? await db.selectFrom('messages').selectAll().where('mailbox_id', '=', mailbox.id).where('id', '=', messageId.toLowerCase()).executeTakeFirst() : undefined;
  if (!row) throw notFound('Message');
  return row;
}

/**
 * One message to read. `html_sanitized` is the allow-listed HTML (cid: images inlined as data: URIs)
 * with remote images removed unless `images` is true; `remote_images` says how many there are.
 */
export async function readMessage(core: Core, mailbox: Mailbox, messageId: string, opts: { images: boolean }) {
  const row = await messageOf(core.db, mailbox, messageId);
  const { parsed, attachments } = await viewInputOf(core, core.db, row);
  const html = parsed?.html ? inlineCidImages(parsed.html, parsed.attachments) : null;
  const clean = html === null ? null : sanitizeHtml(html, { blockRemoteImages: !opts.images });
  return {
    object: 'message' as const,
    ...listItem(row),
    cc: addressList(row.cc_json),
    reply_to: addressList(row.reply_to_json),
    message_id: row.message_id,
    text: parsed?.text ?? null,
    html_sanitized: clean?.html ?? null,
    remote_images: clean?.remoteImages ?? 0,
    remote_images_blocked: clean?.remoteImagesBlocked ?? 0,
    headers: parsed ? headersRecord(parsed) : null,
    auth: row.auth_json ? JSON.parse(row.auth_json) : null,
    attachments: attachments.map((a) => ({ id: a.id, filename: a.filename, content_type: a.content_type, size: Number(a.size), content_id: a.content_id, disposition: a.disposition })),
  };
}

/** The raw message (view source) and an attachment's bytes. */
export async function messageRaw(core: Core, mailbox: Mailbox, messageId: string): Promise<Buffer> {
  return readRaw(core, await messageOf(core.db, mailbox, messageId));
}

export async function attachmentContent(core: Core, mailbox: Mailbox, messageId: string, attachmentId: string) {
  const row = await messageOf(core.db, mailbox, messageId);
  const { parsed, attachments } = await viewInputOf(core, core.db, row);
  const index = attachments.findIndex((a) => a.id === attachmentId);
  const part = index >= 0 ? parsed?.attachments[index] : undefined;
  if (!part) throw notFound('Attachment');
  return { filename: attachments[index].filename ?? 'attachment', contentType: attachments[index].content_type, content: Buffer.from(part.content) };
}

/** Sets or clears \Seen and \Flagged. */
export async function setFlags(core: Core, mailbox: Mailbox, messageId: string, raw: unknown) {
  const b = (raw ?? {}) as Record<string, unknown>;
  for (const k of ['seen', 'flagged'] as const) if (b[k] !== undefined && typeof b[k] !== 'boolean') throw invalid(`The \`${k}\` field must be true or false.`);
  if (b.seen === undefined && b.flagged === undefined) throw invalid('Give `seen` or `flagged`.');
  const row = await messageOf(core.db, mailbox, messageId);
  await mailTransaction(core, async (tx, emit) => {
    for (const [k, flag] of [['seen', '\\Seen'], ['flagged', '\\Flagged']] as const) {
      if (b[k] === undefined) continue;
      await storeFlags(core, tx, emit, { folderId: row.folder_id, uids: [Number(row.uid)], mode: b[k] ? 'add' : 'remove', flags: [flag], mailboxId: mailbox.id });
    }
  });
  return { object: 'message' as const, id: row.id, ...(b.seen !== undefined ? { seen: b.seen } : {}), ...(b.flagged !== undefined ? { flagged: b.flagged } : {}) };
}

/** Moves a message to a folder given by id or special use (trash, junk, archive, inbox); returns where it was, for undo. */
export async function moveMessage(core: Core, mailbox: Mailbox, messageId: string, raw: unknown) {
  const b = (raw ?? {}) as Record<string, unknown>;
  const row = await messageOf(core.db, mailbox, messageId);
  let target;
  if (typeof b.folder_id === 'string') target = await folderOf(core.db, mailbox, b.folder_id);
  else if (typeof b.special_use === 'string' && ['inbox', 'archive', 'junk', 'trash'].includes(b.special_use)) {
    target = await core.db.selectFrom('folders').selectAll().where('mailbox_id', '=', mailbox.id).where('special_use', '=', b.special_use as SpecialUse).executeTakeFirst();
    if (!target) throw notFound('Folder');
  } else throw invalid('Give `folder_id`, or `special_use` as inbox, archive, junk or trash.');
  if (target.id === row.folder_id) throw new CoreError(422, 'validation_error', 'The message is already in that folder.');
  await mailTransaction(core, (tx, emit) => moveMessages(core, tx, emit, { fromFolderId: row.folder_id, uids: [Number(row.uid)], toFolderId: target.id, mailboxId: mailbox.id }));
  return { object: 'message' as const, id: row.id, folder_id: target.id, from_folder_id: row.folder_id };
}

/** Deletes a message for good (from Trash; elsewhere the app moves to Trash instead). */
export async function destroyMessage(core: Core, mailbox: Mailbox, messageId: string) {
  const row = await messageOf(core.db, mailbox, messageId);
  await mailTransaction(core, (tx, emit) => expungeMessages(core, tx, emit, { folderId: row.folder_id, uids: [Number(row.uid)], force: true, mailboxId: mailbox.id }));
  return { object: 'message' as const, id: row.id, deleted: true };
}

export async function addFolder(core: Core, mailbox: Mailbox, raw: unknown) {
  const name = (raw as Record<string, unknown> | undefined)?.name;
  if (typeof name !== 'string') throw invalid('Give the folder `name`.');
  const f = await mailTransaction(core, (tx, emit) => createFolder(core, tx, emit, mailbox.id, name));
  return { object: 'folder' as const, id: f.id, name: f.name };
}

export async function changeFolder(core: Core, mailbox: Mailbox, folderId: string, raw: unknown) {
  const f = await folderOf(core.db, mailbox, folderId);
  const name = (raw as Record<string, unknown> | undefined)?.name;
  if (typeof name !== 'string') throw invalid('Give the new `name`.');
  if (f.special_use) throw invalid('Special folders (Inbox, Sent, Drafts, Trash, Junk, Archive) keep their names.');
  await mailTransaction(core, (tx, emit) => renameFolder(core, tx, emit, mailbox.id, f.name, name));
  return { object: 'folder' as const, id: f.id, name };
}

export async function removeFolder(core: Core, mailbox: Mailbox, folderId: string) {
  const f = await folderOf(core.db, mailbox, folderId);
  if (f.special_use) throw invalid('Special folders (Inbox, Sent, Drafts, Trash, Junk, Archive) cannot be deleted.');
  await mailTransaction(core, (tx, emit) => deleteFolder(core, tx, emit, mailbox.id, f.name));
  return { object: 'folder' as const, id: f.id, deleted: true };
}

/**
 * Sends from the mailbox through the submission path (DKIM-signed, a copy in Sent): a new message,
 * a reply (`reply_to_message_id`: threading headers, \Answered on the original) or a forward
 * (`forward_of_message_id`: the original's attachments go along). A `draft_id` is removed once sent.
 */
export async function sendMessage(core: Core, caller: Caller, mailbox: Mailbox, raw: unknown) {
  const b = (raw ?? {}) as Record<string, unknown>;
  const fields = { to: b.to, cc: b.cc, bcc: b.bcc, subject: b.subject, text: b.text, html: b.html, attachments: b.attachments };
  let result: { id: string };
  if (typeof b.forward_of_message_id === 'string') {
    const original = await messageOf(core.db, mailbox, b.forward_of_message_id);
    result = await forward(core, caller, mailbox, original, fields);
  } else if (typeof b.reply_to_message_id === 'string') {
    const original = await messageOf(core.db, mailbox, b.reply_to_message_id);
    const { inReplyTo, references } = threadingOf(original);
    result = await sendFromInbox(core, caller, mailbox, fields, { inReplyTo, references, threadId: original.thread_id, answers: original });
  } else {
    result = await sendFromInbox(core, caller, mailbox, fields);
  }
  if (typeof b.draft_id === 'string') await removeDraft(core, mailbox, b.draft_id).catch(() => {});
  return { object: 'email' as const, id: result.id };
}
