// Mail that leaves from an inbox: replies and forwards of a thread's emails and sent drafts. Each
// is composed like a send-API email (compose.ts: the same checks, errors and MIME), sent through
// the one outbound pipeline (accept.ts: DKIM, VERP, queue) and kept as a Sent copy in the thread.
//
// Implementation notes:
// - From is always the inbox's own address with its from_name; the inbox's domain must be
//   verified for sending (domainForSending: 403 otherwise), as for any send.
// - Replies carry In-Reply-To (the original's Message-ID) and References (the original's
//   References then its Message-ID), RFC 5322 §3.6.4. These, and Reply-To, are ours: a custom
//   header naming one of them, in any case, is 422, as are empty names and CR/LF/NUL anywhere.
// - The reply goes to the original's Reply-To, or its From (RFC 5322 §3.6.2); replying to our own
//   sent message goes to its To. reply_all adds the original To and Cc as Cc, minus the inbox
//   itself and anyone already addressed.
// - The signed message is stored once as a blob; the emails row (the outbound record) and the
//   Sent copy (a mail store message with email_id, \Seen, in the thread) commit in ONE
//   transaction with whatever the caller adds (a sent draft's removal): never one without the other.
import type { Core } from '../core/core.ts';
import { CoreError, invalid } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { MessagesTable } from '../db/schema.ts';
import { domainForSending } from '../domains/domains.ts';
import { emitEvent } from '../events/webhooks.ts';
import { type Emit, mailTransaction } from '../mailstore/changes.ts';
import { appendSentCopy, storeFlags } from '../mailstore/messages.ts';
import { type ParsedMessage, formatAddress, parseMessage } from '../mailstore/parse.ts';
import { blobStore, recordMessage, storeMessage } from '../outbound/accept.ts';
import * as idem from '../outbound/idempotency.ts';
import { formatMailbox, parseMailbox } from '../outbound/addresses.ts';
import { type ResolvedAttachment, composeMessage, resolveAttachments, validateSendRequest } from '../outbound/compose.ts';
import { type Inbox, bareAddresses, parseJsonArray } from './common.ts';

/** Resend's limits for inbox replies and forwards: 10 files, 25 MB of content. */
export const MAX_FILES = 10;
export const MAX_CONTENT_BYTES = 25 * 1024 * 1024;
const MAX_REFERENCES = 30;
const OWN_HEADERS = new Set(['in-reply-to', 'references', 'reply-to']);

export interface Caller {
  workspaceId: string;
  apiKeyId: string | null;
  /** The request's Idempotency-Key header (24 h, as for POST /emails). */
  idempotencyKey?: string | null;
}

export type Commit = (tx: Db, body: { id: string }) => Promise<void>;

/**
 * Runs a send under the caller's Idempotency-Key, as POST /emails does (idempotency.ts): the same
 * key and request replay the recorded answer; the answer commits in the sending transaction, so a
 * retried request can never send twice.
 */
export async function idempotentSend(core: Core, caller: Caller, request: Record<string, unknown>, work: (commit?: Commit) => Promise<{ id: string }>): Promise<{ id: string }> {
  const key = caller.idempotencyKey ?? null;
  if (key === null) return work();
  idem.checkKey(key);
  const c = await idem.claim(core, caller.workspaceId, key, idem.requestHash(request));
  if (c.kind === 'replay') return c.body as { id: string };
  try {
    return await work((tx, body) => idem.complete(tx, caller.workspaceId, key, c.token, 200, body));
  } catch (err) {
    await idem.release(core, caller.workspaceId, key, c.token).catch(() => {});
    throw err;
  }
}

/** The message a caller asks for, as the SDK sends it (fields unchecked). */
export interface OutgoingFields {
  to?: unknown;
  cc?: unknown;
  bcc?: unknown;
  subject?: unknown;
  html?: unknown;
  text?: unknown;
  attachments?: unknown;
  headers?: unknown;
}

export interface SendOptions {
  /** Message-ID (no brackets) this answers. */
  inReplyTo?: string | null;
  references?: string[];
  /** The thread the Sent copy joins. */
  threadId?: string;
  /** Flag \Answered on this message once sent. */
  answers?: MessagesTable | null;
  /** Attachments already resolved (a forward's originals). */
  extraAttachments?: ResolvedAttachment[];
  /** More work inside the sending transaction (a sent draft's removal). */
  alsoInTransaction?: (tx: Db, emit: Emit, emailId: string) => Promise<void>;
  /** Records the answer under the Idempotency-Key, in the sending transaction. */
  commit?: Commit;
}

/** Custom headers: Resend's rules for inbox sends, before compose.ts's own. */
export function checkCustomHeaders(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('The `headers` field must be an object of header names to string values.');
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!name.trim()) throw invalid('Header names cannot be empty.');
    if (/[\r\n\u0000]/.test(name) || (typeof value === 'string' && /[\r\n\u0000]/.test(value))) throw invalid('Header names and values cannot contain line breaks or null characters.');
    if (OWN_HEADERS.has(name.trim().toLowerCase())) throw invalid(`The \`${name}\` header is set by Mailstack and cannot be set here.`);
  }
  return raw as Record<string, string>;
}

/** A Message-ID fit for a header: printable ASCII without spaces or brackets. */
const cleanId = (id: string | null | undefined): string | null => {
  const s = (id ?? '').trim().replace(/^<|>$/g, '');
  return s && /^[\x21-\x3b\x3d\x3f-\x7e]{1,250}$/.test(s) ? s : null;
};

/** Sends from the inbox and stores the Sent copy; returns the outbound email id. */
export async function sendFromInbox(core: Core, caller: Caller, inbox: Inbox, fields: OutgoingFields, opts: SendOptions = {}): Promise<{ id: string }> {
  const headers = checkCustomHeaders(fields.headers);
  const [, domainName] = inbox.address.split('@');
  const from = formatMailbox({ name: inbox.from_name ?? '', address: inbox.address, domain: domainName });
  const req = validateSendRequest(
    { from, to: fields.to, cc: fields.cc, bcc: fields.bcc, subject: fields.subject, html: fields.html, text: fields.text, headers, attachments: fields.attachments },
    { now: core.clock.now() },
  );
  const inReplyTo = cleanId(opts.inReplyTo);
  const references = (opts.references ?? []).map(cleanId).filter((x): x is string => !!x).slice(-MAX_REFERENCES);
  if (inReplyTo) req.headers['In-Reply-To'] = `<${inReplyTo}>`;
  if (references.length) req.headers.References = references.map((r) => `<${r}>`).join(' ');

  const extra = opts.extraAttachments ?? [];
  const files = req.attachments.length + extra.length;
  if (files > MAX_FILES) throw new CoreError(422, 'invalid_attachment', `At most ${MAX_FILES} files may be attached (the original's attachments count too); ${files} were given.`);
  const content = req.attachments.reduce((n, a) => n + (a.content?.length ?? 0), 0) + extra.reduce((n, a) => n + a.content.length, 0);
  if (content > MAX_CONTENT_BYTES) throw new CoreError(422, 'invalid_attachment', 'Attachments may total at most 25 MB (the original\'s attachments count too).');
  for (const [i, a] of req.attachments.entries()) if (a.content && a.content.length === 0) throw new CoreError(422, 'invalid_attachment', `Attachment ${i} is empty.`);

  const domain = await domainForSending(core, caller.workspaceId, domainName);
  const attachments = [...extra, ...(await resolveAttachments(core, req.attachments))];
  const input = await composeMessage(core, req, domain, attachments, { workspaceId: caller.workspaceId, apiKeyId: caller.apiKeyId, source: 'inbox' });
  const stored = await storeMessage(core, input);
  const signed = await blobStore(core).get(stored.rawBlob);
  const parsed = await parseMessage(signed);

  const id = await mailTransaction(core, async (tx, emit) => {
    const emailId = await recordMessage(core, tx, input, stored);
    const appended = await appendSentCopy(core, tx, emit, { mailbox: inbox, blobId: stored.rawBlob, size: stored.size, parsed, emailId, threadId: opts.threadId });
    if (opts.answers) {
      const still = await tx.selectFrom('messages').select(['folder_id', 'uid']).where('id', '=', opts.answers.id).where('mailbox_id', '=', inbox.id).executeTakeFirst();
      if (still) await storeFlags(core, tx, emit, { folderId: still.folder_id, uids: [Number(still.uid)], mode: 'add', flags: ['\\Answered'] });
    }
    if (opts.alsoInTransaction) await opts.alsoInTransaction(tx, emit, emailId);
    if (opts.commit) await opts.commit(tx, { id: emailId });
    await emitEvent(core, inbox.workspace_id, 'inbox.email.sent', { inbox_id: inbox.id, thread_id: appended.threadId, email_id: emailId, message_id: input.messageId }, tx);
    return emailId;
  });
  return { id };
}

// ---- Replies -----------------------------------------------------------------------------------

/** Who a reply goes to, and who else with reply_all. */
export function replyRecipients(inbox: Inbox, original: MessagesTable, replyAll: boolean): { to: string[]; cc: string[] } {
  const own = inbox.address.toLowerCase();
  let to: string[];
  if (original.direction === 'outbound') to = bareAddresses(original.to_json);
  else {
    const replyTo = bareAddresses(original.reply_to_json);
    to = replyTo.length ? replyTo : original.from_address ? [original.from_address.toLowerCase()] : [];
  }
  to = [...new Set(to.filter((a) => a !== own))];
  if (!to.length) throw invalid('The original email has no address to reply to.');
  const cc: string[] = [];
  if (replyAll) {
    for (const a of [...bareAddresses(original.to_json), ...bareAddresses(original.cc_json)]) {
      if (a !== own && !to.includes(a) && !cc.includes(a) && parseMailbox(a)) cc.push(a);
    }
  }
  return { to, cc };
}

export function replySubject(subject: string | null): string {
  const s = (subject ?? '').replace(/[\r\n]+/g, ' ').trim();
  return /^re:/i.test(s) ? s : `Re: ${s}`.trim();
}

export function forwardSubject(subject: string | null): string {
  const s = (subject ?? '').replace(/[\r\n]+/g, ' ').trim();
  return /^(fwd?|fw):/i.test(s) ? s : `Fwd: ${s}`.trim();
}

/** The original's threading headers: In-Reply-To and References for an answer to it. */
export function threadingOf(original: MessagesTable): { inReplyTo: string | null; references: string[] } {
  const refs = parseJsonArray<string>(original.references_json).filter((r) => typeof r === 'string');
  if (!refs.length && original.in_reply_to) refs.push(original.in_reply_to);
  if (original.message_id) refs.push(original.message_id);
  return { inReplyTo: original.message_id, references: refs };
}

const toList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

export async function replyTo(core: Core, caller: Caller, inbox: Inbox, original: MessagesTable, raw: Record<string, unknown>) {
  if (raw.reply_all !== undefined && raw.reply_all !== null && typeof raw.reply_all !== 'boolean') throw invalid('The `reply_all` field must be true or false.');
  if ((raw.html === undefined || raw.html === null) && (raw.text === undefined || raw.text === null)) throw new CoreError(422, 'missing_required_field', 'Missing `html` or `text` field.');
  const { to, cc } = replyRecipients(inbox, original, raw.reply_all === true);
  const { inReplyTo, references } = threadingOf(original);
  return idempotentSend(core, caller, { endpoint: 'inbox reply', inbox: inbox.id, email: original.id, body: raw }, (commit) => sendFromInbox(
    core,
    caller,
    inbox,
    {
      to,
      cc: [...cc, ...toList(raw.cc)],
      bcc: raw.bcc,
      subject: raw.subject === undefined || raw.subject === null ? replySubject(original.subject) : raw.subject,
      html: raw.html,
      text: raw.text,
      attachments: raw.attachments,
      headers: raw.headers,
    },
    { inReplyTo, references, threadId: original.thread_id, answers: original, commit },
  ));
}

// ---- Forwards ----------------------------------------------------------------------------------

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function forwardedBlock(original: MessagesTable, parsed: ParsedMessage) {
  const date = parsed.date ?? Number(original.sent_date ?? original.internal_date);
  const lines = [
    '---------- Forwarded message ---------',
    `From: ${original.from_header ?? ''}`,
    `Date: ${new Date(date).toUTCString()}`,
    `Subject: ${original.subject ?? ''}`,
    `To: ${parsed.to.map(formatAddress).join(', ')}`,
  ];
  const text = `${lines.join('\n')}\n\n${parsed.text ?? ''}`;
  const html = `<div>${lines.map(escapeHtml).join('<br>')}<br><br>${parsed.html ?? (parsed.text ? `<pre>${escapeHtml(parsed.text)}</pre>` : '')}</div>`;
  return { text, html };
}

export async function forward(core: Core, caller: Caller, inbox: Inbox, original: MessagesTable, raw: Record<string, unknown>) {
  if (raw.to === undefined || raw.to === null || (Array.isArray(raw.to) && !raw.to.length) || raw.to === '') throw new CoreError(422, 'missing_required_field', 'Missing `to` field.');
  for (const f of ['html', 'text'] as const) if (raw[f] !== undefined && raw[f] !== null && typeof raw[f] !== 'string') throw invalid(`The \`${f}\` field must be a string.`);
  return idempotentSend(core, caller, { endpoint: 'inbox forward', inbox: inbox.id, email: original.id, body: raw }, (commit) => forwardNow(core, caller, inbox, original, raw, commit));
}

async function forwardNow(core: Core, caller: Caller, inbox: Inbox, original: MessagesTable, raw: Record<string, unknown>, commit?: Commit) {
  const parsed = await parseMessage(await blobStore(core).get(original.blob_id));
  const block = forwardedBlock(original, parsed);
  const userText = typeof raw.text === 'string' ? raw.text : null;
  const userHtml = typeof raw.html === 'string' ? raw.html : null;
  const text = `${userText ? `${userText}\n\n` : ''}${block.text}`;
  const html = `${userHtml ?? (userText ? `<div>${escapeHtml(userText).replace(/\n/g, '<br>')}</div>` : '')}<br>${block.html}`;
  const now = core.clock.now();
  const extra: ResolvedAttachment[] = [];
  for (const a of parsed.attachments) {
    const blob = await blobStore(core).put(a.content);
    extra.push({
      content: a.content,
      meta: { id: newId(now), filename: a.filename, content_type: a.contentType || 'application/octet-stream', size: a.content.length, content_id: cleanId(a.contentId), blob_id: blob },
    });
  }
  return sendFromInbox(
    core,
    caller,
    inbox,
    {
      to: raw.to,
      cc: raw.cc,
      bcc: raw.bcc,
      subject: raw.subject === undefined || raw.subject === null ? forwardSubject(original.subject) : raw.subject,
      html,
      text,
      attachments: raw.attachments,
      headers: raw.headers,
    },
    { threadId: original.thread_id, extraAttachments: extra, commit },
  );
}
