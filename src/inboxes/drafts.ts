// Resend's `inboxes.drafts.list, create, get, update, remove, send`.
//
// Implementation notes:
// - A draft is a `drafts` row (what the API shows) plus a copy in the inbox's Drafts folder,
//   flagged \Draft and \Seen, so IMAP clients see it; drafts.message_id names that copy. Every
//   update replaces the copy (the new one appended first, then the old one expunged, in one
//   mailTransaction), as mail clients do over IMAP.
// - A reply draft (thread_id + reply_to_email_id) belongs to its thread: its copy carries
//   In-Reply-To/References and the thread id, and the thread shows `has_draft`.
// - Attachments are stored as blobs when the draft is written (base64 `content` or a `path` URL,
//   fetched SSRF-guarded), at most 25 MB per draft; drafts.attachments_json keeps their blob ids
//   (retention.ts BLOB_REFERENCES counts them).
// - Sending composes and sends through outgoing.ts (a reply draft like a reply); the draft row and
//   its Drafts copy go in the same transaction that records the email and stores the Sent copy.
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { DraftsTable, MessagesTable } from '../db/schema.ts';
import { emitEvent } from '../events/webhooks.ts';
import { type Emit, mailTransaction } from '../mailstore/changes.ts';
import { appendMessage, expungeMessages } from '../mailstore/messages.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { snippetOf } from '../mailstore/text.ts';
import { type AttachmentMeta, blobStore } from '../outbound/accept.ts';
import { parseMailbox } from '../outbound/addresses.ts';
import { type AttachmentSpec, type ResolvedAttachment, resolveAttachments } from '../outbound/compose.ts';
import { type Inbox, body, iso, optionalText, parseJsonArray } from './common.ts';
import { type Caller, type Commit, checkCustomHeaders, idempotentSend, replyRecipients, replySubject, sendFromInbox, threadingOf } from './outgoing.ts';
import { messageInThread, threadFor } from './threads.ts';

const MAX_DRAFT_BYTES = 25 * 1024 * 1024;
const MAX_RECIPIENTS = 50;
const MAX_SUBJECT = 2000;
const MAX_BODY = 5 * 1024 * 1024;
/** File types mail providers refuse as attachments (executables and scripts). */
const BLOCKED_EXTENSIONS = new Set([
  'ade', 'adp', 'app', 'asp', 'bas', 'bat', 'cer', 'chm', 'cmd', 'com', 'cpl', 'crt', 'csh', 'der', 'exe', 'fxp', 'gadget', 'hlp', 'hta',
  'inf', 'ins', 'isp', 'its', 'js', 'jse', 'ksh', 'lib', 'lnk', 'mde', 'msc', 'msi', 'msp', 'mst', 'ops', 'pcd', 'pif', 'prf', 'prg',
  'ps1', 'reg', 'scf', 'scr', 'sct', 'shb', 'shs', 'sys', 'vb', 'vbe', 'vbs', 'vxd', 'ws', 'wsc', 'wsf', 'wsh',
]);

type DraftRow = DraftsTable;

interface DraftAttachment extends AttachmentMeta {}

interface DraftContent {
  to?: string[] | null;
  cc?: string[];
  bcc?: string[];
  subject?: string | null;
  text?: string | null;
  html?: string | null;
  attachments?: AttachmentSpec[] | null;
}

function recipients(b: Record<string, unknown>, field: string): string[] | null | undefined {
  const v = b[field];
  if (v === undefined) return undefined;
  if (v === null) return null;
  const list = Array.isArray(v) ? v : [v];
  if (list.length > MAX_RECIPIENTS) throw invalid(`Too many recipients in \`${field}\`: at most ${MAX_RECIPIENTS}.`);
  return list.map((x) => {
    const mb = parseMailbox(x);
    if (!mb) throw invalid(`Invalid \`${field}\` field. The email address needs to follow the \`email@example.com\` or \`Name <email@example.com>\` format.`);
    return typeof x === 'string' ? x.trim() : '';
  });
}

function draftAttachments(raw: unknown): AttachmentSpec[] | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === null) return null;
  if (!Array.isArray(raw)) throw new CoreError(422, 'invalid_attachment', 'The `attachments` field must be an array.');
  let total = 0;
  return raw.map((a, i) => {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new CoreError(422, 'invalid_attachment', `Attachment ${i} must be an object.`);
    const att = a as Record<string, unknown>;
    const fail = (m: string) => new CoreError(422, 'invalid_attachment', `Attachment ${i}: ${m}`);
    if (typeof att.filename !== 'string' || !att.filename || att.filename.length > 255 || /[\u0000-\u001f\u007f/\\]/.test(att.filename)) throw fail('a `filename` of 1 to 255 characters, without control characters or slashes, is required.');
    const ext = /\.([^.]+)$/.exec(att.filename)?.[1]?.toLowerCase();
    if (ext && BLOCKED_EXTENSIONS.has(ext)) throw fail(`files of type .${ext} are not allowed.`);
    const hasContent = att.content !== undefined && att.content !== null;
    const hasPath = att.path !== undefined && att.path !== null;
    if (hasContent === hasPath) throw fail('give either `content` (base64) or `path` (a URL).');
    let contentType: string | null = null;
    if (att.content_type !== undefined && att.content_type !== null) {
      if (typeof att.content_type !== 'string' || !/^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,127}$/i.test(att.content_type)) throw fail('`content_type` must be a MIME type such as application/pdf.');
      contentType = att.content_type.toLowerCase();
    }
    if (hasContent) {
      if (typeof att.content !== 'string') throw fail('`content` must be a base64 string.');
      const b64 = att.content.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) throw fail('`content` is not valid base64.');
      if (!contentType) throw fail('`content_type` is required with `content`.');
      const content = Buffer.from(b64, 'base64');
      if (!content.length) throw fail('the file is empty.');
      total += content.length;
      if (total > MAX_DRAFT_BYTES) throw new CoreError(422, 'invalid_attachment', 'The files on a draft may total at most 25 MB.');
      return { content, path: null, filename: att.filename, contentType, contentId: null };
    }
    if (typeof att.path !== 'string' || !/^https?:\/\//i.test(att.path) || att.path.length > 2048) throw fail('`path` must be an http or https URL.');
    return { content: null, path: att.path, filename: att.filename, contentType, contentId: null };
  });
}

function draftContent(raw: unknown): DraftContent {
  const b = body(raw);
  const c: DraftContent = {};
  const to = recipients(b, 'to');
  if (to !== undefined) c.to = to;
  const cc = recipients(b, 'cc');
  if (cc !== undefined) c.cc = cc ?? [];
  const bcc = recipients(b, 'bcc');
  if (bcc !== undefined) c.bcc = bcc ?? [];
  const subject = optionalText(b, 'subject', MAX_SUBJECT);
  if (subject !== undefined) c.subject = subject;
  const text = optionalText(b, 'text', MAX_BODY, { multiline: true });
  if (text !== undefined) c.text = text;
  const html = optionalText(b, 'html', MAX_BODY, { multiline: true });
  if (html !== undefined) c.html = html;
  const attachments = draftAttachments(b.attachments);
  if (attachments !== undefined) c.attachments = attachments;
  return c;
}

async function storeAttachments(core: Core, specs: AttachmentSpec[]): Promise<DraftAttachment[]> {
  const resolved = await resolveAttachments(core, specs);
  const total = resolved.reduce((n, r) => n + r.content.length, 0);
  if (total > MAX_DRAFT_BYTES) throw new CoreError(422, 'invalid_attachment', 'The files on a draft may total at most 25 MB.');
  for (const [i, r] of resolved.entries()) if (!r.content.length) throw new CoreError(422, 'invalid_attachment', `Attachment ${i}: the file is empty.`);
  return resolved.map((r) => r.meta);
}

async function draftFor(db: Db, inbox: Inbox, draftId: string): Promise<DraftRow> {
  if (!isUuid(String(draftId))) throw notFound('Draft');
  const row = await db.selectFrom('drafts').selectAll().where('workspace_id', '=', inbox.workspace_id).where('mailbox_id', '=', inbox.id).where('id', '=', draftId.toLowerCase()).executeTakeFirst();
  if (!row) throw notFound('Draft');
  return row;
}

const attachmentsOf = (d: DraftRow) => parseJsonArray<DraftAttachment>(d.attachments_json);
const attachmentJson = (a: DraftAttachment) => ({ id: a.id, filename: a.filename ?? 'attachment', content_type: a.content_type, size: a.size });
const toOf = (d: DraftRow) => (d.to_json === null ? null : parseJsonArray<string>(d.to_json));

function draftJson(d: DraftRow) {
  return {
    object: 'inbox_draft' as const,
    id: d.id,
    type: d.reply_to_message_id ? ('reply' as const) : ('standalone' as const),
    to: toOf(d),
    cc: parseJsonArray<string>(d.cc_json),
    bcc: parseJsonArray<string>(d.bcc_json),
    subject: d.subject,
    html: d.html,
    text: d.text,
    thread_id: d.thread_id,
    reply_to_email_id: d.reply_to_message_id,
    email_id: d.email_id,
    created_at: iso(d.created_at)!,
    updated_at: iso(d.updated_at)!,
    attachments: attachmentsOf(d).map(attachmentJson),
  };
}

function draftListJson(d: DraftRow) {
  const { object: _o, html: _h, text: _t, email_id: _e, created_at: _c, ...rest } = draftJson(d);
  return { ...rest, snippet: snippetOf(d.text ?? (d.html ? d.html.replace(/<[^>]*>/g, ' ') : '')) };
}

/** The Drafts-folder copy of a draft: a MIME message IMAP clients can open and edit. */
async function appendDraftCopy(core: Core, tx: Db, emit: Emit, inbox: Inbox, d: DraftRow, original: MessagesTable | null): Promise<string> {
  const [, domain] = inbox.address.split('@');
  const atts = attachmentsOf(d);
  const contents: Buffer[] = [];
  for (const a of atts) contents.push(await blobStore(core).get(a.blob_id));
  const threading = original ? threadingOf(original) : null;
  const composer = new MailComposer({
    from: { name: inbox.from_name ?? '', address: inbox.address },
    to: toOf(d) ?? undefined,
    cc: parseJsonArray<string>(d.cc_json),
    bcc: parseJsonArray<string>(d.bcc_json),
    subject: d.subject ?? '',
    text: d.text ?? undefined,
    html: d.html ?? undefined,
    messageId: `<${randomUUID()}@${domain}>`,
    inReplyTo: threading?.inReplyTo ? `<${threading.inReplyTo}>` : undefined,
    references: threading?.references.length ? threading.references.map((r) => `<${r}>`) : undefined,
    date: new Date(core.clock.now()),
    attachments: atts.map((a, i) => ({ content: contents[i], filename: a.filename ?? false, contentType: a.content_type })),
    disableFileAccess: true,
    disableUrlAccess: true,
    newline: 'win',
    keepBcc: true,
  } as any);
  const raw = await composer.compile().build();
  const blobId = await blobStore(core).put(raw);
  const parsed = await parseMessage(raw);
  const appended = await appendMessage(core, tx, emit, {
    mailbox: inbox,
    specialUse: 'drafts',
    blobId,
    size: raw.length,
    parsed,
    flags: ['\\Draft', '\\Seen'],
    direction: 'outbound',
    threadId: d.thread_id ?? undefined,
  });
  return appended.id;
}

/** Removes a draft's Drafts copy, if it is still there (a mail client may have replaced it). */
async function dropDraftCopy(core: Core, tx: Db, emit: Emit, d: DraftRow): Promise<void> {
  if (!d.message_id) return;
  const m = await tx.selectFrom('messages').select(['folder_id', 'uid']).where('id', '=', d.message_id).where('mailbox_id', '=', d.mailbox_id).executeTakeFirst();
  if (m) await expungeMessages(core, tx, emit, { folderId: m.folder_id, uids: [Number(m.uid)], force: true });
}

async function originalOf(db: Db, inbox: Inbox, d: Pick<DraftRow, 'thread_id' | 'reply_to_message_id'>): Promise<MessagesTable | null> {
  if (!d.thread_id || !d.reply_to_message_id) return null;
  return db.selectFrom('messages').selectAll().where('mailbox_id', '=', inbox.id).where('id', '=', d.reply_to_message_id).executeTakeFirst().then((r) => r ?? null);
}

export async function createDraft(core: Core, inbox: Inbox, raw: unknown) {
  const b = body(raw);
  const c = draftContent(b);
  const hasContent = ['to', 'cc', 'bcc', 'subject', 'text', 'html', 'attachments'].some((k) => b[k] !== undefined && b[k] !== null);
  if (!hasContent) throw invalid('Give at least one of `to`, `cc`, `bcc`, `subject`, `text`, `html` and `attachments`.');
  const threadId = b.thread_id ?? null;
  const replyTo = b.reply_to_email_id ?? null;
  if ((threadId === null) !== (replyTo === null)) throw invalid('Give both `thread_id` and `reply_to_email_id` for a reply draft, or neither.');
  if (threadId !== null && (typeof threadId !== 'string' || typeof replyTo !== 'string')) throw invalid('The `thread_id` and `reply_to_email_id` fields must be strings.');
  let original: MessagesTable | null = null;
  if (typeof threadId === 'string' && typeof replyTo === 'string') {
    const thread = await threadFor(core.db, inbox, threadId);
    original = await messageInThread(core.db, inbox, thread, replyTo);
  }
  const attachments = c.attachments ? await storeAttachments(core, c.attachments) : [];
  return mailTransaction(core, async (tx, emit) => {
    const now = core.clock.now();
    const d: DraftRow = {
      id: newId(now),
      workspace_id: inbox.workspace_id,
      mailbox_id: inbox.id,
      thread_id: original?.thread_id ?? null,
      reply_to_message_id: original?.id ?? null,
      to_json: c.to === undefined || c.to === null ? null : JSON.stringify(c.to),
      cc_json: JSON.stringify(c.cc ?? []),
      bcc_json: JSON.stringify(c.bcc ?? []),
      subject: c.subject ?? null,
      html: c.html ?? null,
      text: c.text ?? null,
      attachments_json: JSON.stringify(attachments),
      message_id: null,
      email_id: null,
      created_at: now,
      updated_at: now,
    };
    d.message_id = await appendDraftCopy(core, tx, emit, inbox, d, original);
    await tx.insertInto('drafts').values(d).execute();
    await emitEvent(core, inbox.workspace_id, 'inbox.draft.created', { source: 'api', inbox_id: inbox.id, draft_id: d.id, thread_id: d.thread_id }, tx);
    return { object: 'inbox_draft' as const, id: d.id };
  });
}

export async function listDrafts(core: Core, inbox: Inbox, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('drafts').selectAll().where('mailbox_id', '=', inbox.id), 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(draftListJson) };
}

export async function getDraft(core: Core, inbox: Inbox, draftId: string) {
  return draftJson(await draftFor(core.db, inbox, draftId));
}

export async function updateDraft(core: Core, inbox: Inbox, draftId: string, raw: unknown) {
  const b = body(raw);
  const c = draftContent(b);
  if (!['to', 'cc', 'bcc', 'subject', 'text', 'html', 'attachments'].some((k) => b[k] !== undefined)) {
    throw invalid('Give at least one of `to`, `cc`, `bcc`, `subject`, `text`, `html` and `attachments`.');
  }
  await draftFor(core.db, inbox, draftId);
  const attachments = c.attachments === undefined ? undefined : c.attachments === null ? [] : await storeAttachments(core, c.attachments);
  return mailTransaction(core, async (tx, emit) => {
    const d = await draftFor(tx, inbox, draftId);
    const next: DraftRow = { ...d, updated_at: core.clock.now() };
    if (c.to !== undefined) next.to_json = c.to === null ? null : JSON.stringify(c.to);
    if (c.cc !== undefined) next.cc_json = JSON.stringify(c.cc);
    if (c.bcc !== undefined) next.bcc_json = JSON.stringify(c.bcc);
    if (c.subject !== undefined) next.subject = c.subject;
    if (c.text !== undefined) next.text = c.text;
    if (c.html !== undefined) next.html = c.html;
    if (attachments !== undefined) next.attachments_json = JSON.stringify(attachments);
    // New copy first: expunging the old one alone could empty (and drop) the thread it joins.
    next.message_id = await appendDraftCopy(core, tx, emit, inbox, next, await originalOf(tx, inbox, d));
    await dropDraftCopy(core, tx, emit, d);
    const { id: _id, ...set } = next;
    await tx.updateTable('drafts').set(set).where('id', '=', d.id).execute();
    await emitEvent(core, inbox.workspace_id, 'inbox.draft.updated', { source: 'api', inbox_id: inbox.id, draft_id: d.id, thread_id: d.thread_id }, tx);
    return { object: 'inbox_draft' as const, id: d.id };
  });
}

export async function removeDraft(core: Core, inbox: Inbox, draftId: string) {
  return mailTransaction(core, async (tx, emit) => {
    const d = await draftFor(tx, inbox, draftId);
    await dropDraftCopy(core, tx, emit, d);
    await tx.deleteFrom('drafts').where('id', '=', d.id).execute();
    await emitEvent(core, inbox.workspace_id, 'inbox.draft.deleted', { source: 'api', inbox_id: inbox.id, draft_id: d.id, thread_id: d.thread_id }, tx);
    return { object: 'inbox_draft' as const, id: d.id, deleted: true };
  });
}

export async function sendDraft(core: Core, caller: Caller, inbox: Inbox, draftId: string, raw: unknown) {
  const b = body(raw);
  checkCustomHeaders(b.headers);
  return idempotentSend(core, caller, { endpoint: 'inbox draft send', inbox: inbox.id, draft: draftId, body: b }, (commit) => sendDraftNow(core, caller, inbox, draftId, b, commit));
}

async function sendDraftNow(core: Core, caller: Caller, inbox: Inbox, draftId: string, b: Record<string, unknown>, commit?: Commit) {
  const headers = checkCustomHeaders(b.headers);
  const d = await draftFor(core.db, inbox, draftId);
  const original = await originalOf(core.db, inbox, d);
  let to = toOf(d) ?? [];
  let subject = d.subject;
  if (original) {
    if (!to.length) to = replyRecipients(inbox, original, false).to;
    if (subject === null) subject = replySubject(original.subject);
  }
  if (!to.length) throw new CoreError(422, 'missing_required_field', 'The draft has no `to` recipient.');
  if (d.html === null && d.text === null) throw new CoreError(422, 'missing_required_field', 'The draft has no `html` or `text`.');
  const extra: ResolvedAttachment[] = [];
  for (const a of attachmentsOf(d)) extra.push({ meta: a, content: await blobStore(core).get(a.blob_id) });
  const threading = original ? threadingOf(original) : null;
  return sendFromInbox(
    core,
    caller,
    inbox,
    { to, cc: parseJsonArray(d.cc_json), bcc: parseJsonArray(d.bcc_json), subject: subject ?? '', html: d.html, text: d.text, headers },
    {
      inReplyTo: threading?.inReplyTo,
      references: threading?.references,
      threadId: d.thread_id ?? undefined,
      answers: original,
      extraAttachments: extra,
      commit,
      alsoInTransaction: async (tx, emit, emailId) => {
        const still = await tx.selectFrom('drafts').selectAll().where('id', '=', d.id).executeTakeFirst();
        if (!still) throw notFound('Draft');
        await dropDraftCopy(core, tx, emit, still);
        await tx.deleteFrom('drafts').where('id', '=', d.id).execute();
        await emitEvent(core, inbox.workspace_id, 'inbox.draft.sent', { source: 'api', inbox_id: inbox.id, draft_id: d.id, thread_id: d.thread_id, email_id: emailId }, tx);
      },
    },
  );
}
