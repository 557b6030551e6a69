// From a send request (Resend's JSON body) to a composed RFC 5322 message ready for acceptMessage.
//
// Implementation notes:
// - validateSendRequest() is pure and synchronous: every check that needs no I/O, answered in
//   Resend's error names (missing_required_field, invalid_from_address, validation_error,
//   invalid_attachment). It runs before anything is stored or fetched.
// - Custom headers can never change the message's structure: names must be RFC 5322 §2.2 field
//   names, values may not hold CR or LF (header injection), and the headers that the composer,
//   the DKIM signer or the MTA own (From, To, Subject, Message-ID, Content-Type, DKIM-Signature …)
//   are refused rather than silently overridden.
// - Composition uses nodemailer's MailComposer with file and URL access disabled: it only ever
//   sees strings and Buffers we hand it. It encodes non-ASCII subjects, names and header values
//   as RFC 2047 encoded-words and folds long lines (RFC 5322 §2.1.1).
// - Bcc recipients are envelope recipients only: no Bcc header is ever written.
// - Message-ID is `<uuid@sending domain>` (RFC 5322 §3.6.4); Date is the composition time.
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { detectMimeType } from 'nodemailer/lib/mime-funcs/index.js';
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { SendingDomain } from '../domains/domains.ts';
import { type AcceptInput, type AttachmentMeta, blobStore } from './accept.ts';
import { type Mailbox, addressList, formatMailbox, parseMailbox } from './addresses.ts';
import { AttachmentFetchError, fetchAttachment } from './attachment-fetch.ts';
import { parseScheduledAt } from './schedule.ts';

export const MAX_TO = 50;
export const MAX_CC = 50;
export const MAX_BCC = 50;
export const MAX_SUBJECT = 2000;
export const MAX_HEADERS = 50;
export const MAX_TAGS = 50;
/** Resend's limit: 40 MB of attachments per email, after base64 decoding. */
export const MAX_ATTACHMENT_BYTES = 40 * 1024 * 1024;
export const MAX_ATTACHMENTS = 100;
/** How far ahead a send may be scheduled (Resend: 30 days). */
export const MAX_SCHEDULE_AHEAD_MS = 30 * 86_400_000;
const FETCH_TIMEOUT_MS = 20_000;

const ADDRESS_FORMAT = 'The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.';

/** Headers the composer, signer or MTA own; a custom header may not set them. Lower-case. */
const STRUCTURAL = new Set([
  'from', 'sender', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'date', 'message-id',
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition', 'content-id',
  'dkim-signature', 'arc-seal', 'arc-message-signature', 'arc-authentication-results',
  'authentication-results', 'received', 'return-path', 'delivered-to', 'received-spf',
  'resent-from', 'resent-sender', 'resent-to', 'resent-cc', 'resent-bcc', 'resent-date', 'resent-message-id',
]);
/** RFC 5322 §2.2: printable US-ASCII except colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]{1,200}$/;
const TAG_TEXT = /^[A-Za-z0-9_-]+$/;

export interface Tag {
  name: string;
  value: string;
}

export interface AttachmentSpec {
  content: Buffer | null;
  path: string | null;
  filename: string | null;
  contentType: string | null;
  contentId: string | null;
}

/** A send request after validation: every field normalised. */
export interface SendRequest {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo: Mailbox[];
  subject: string;
  html: string | null;
  text: string | null;
  headers: Record<string, string>;
  tags: Tag[];
  attachments: AttachmentSpec[];
  scheduledAt: number | null;
}

const fail = (name: string, message: string, status = 422) => new CoreError(status, name, message);

function optionalString(body: Record<string, unknown>, field: string): string | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw fail('validation_error', `The \`${field}\` field must be a string.`);
  return v;
}

/** Checks a send request body; `batch` refuses what the batch endpoint does not take. */
export function validateSendRequest(raw: unknown, opts: { now: number; batch?: boolean }): SendRequest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail('validation_error', 'The request body must be a JSON object.');
  const body = raw as Record<string, unknown>;

  if (body.template !== undefined && body.template !== null) throw fail('validation_error', 'Templates are not supported yet: send `html` or `text`.');
  if (body.react !== undefined && body.react !== null) throw fail('validation_error', 'The `react` field is rendered by the SDK; send `html` instead.');

  if (body.from === undefined || body.from === null || body.from === '') throw fail('missing_required_field', 'Missing `from` field.');
  if (typeof body.from !== 'string') throw fail('invalid_from_address', `Invalid \`from\` field. ${ADDRESS_FORMAT}`);
  const from = parseMailbox(body.from);
  if (!from) throw fail('invalid_from_address', `Invalid \`from\` field. ${ADDRESS_FORMAT}`);

  if (body.to === undefined || body.to === null || (Array.isArray(body.to) && body.to.length === 0) || body.to === '') {
    throw fail('missing_required_field', 'Missing `to` field.');
  }
  const lists: Record<string, Mailbox[]> = {};
  for (const [field, max] of [['to', MAX_TO], ['cc', MAX_CC], ['bcc', MAX_BCC], ['reply_to', MAX_TO]] as const) {
    const v = body[field];
    if (v !== undefined && v !== null && typeof v !== 'string' && !Array.isArray(v)) {
      throw fail('validation_error', `Invalid \`${field}\` field. It must be a string or an array of strings.`);
    }
    if (Array.isArray(v) && v.length > max) throw fail('validation_error', `Too many recipients in \`${field}\`: at most ${max} are allowed, ${v.length} were given.`);
    const r = addressList(v);
    if (!r.ok) throw fail('validation_error', `Invalid \`${field}\` field. ${ADDRESS_FORMAT}`);
    lists[field] = r.list;
  }

  if (body.subject === undefined || body.subject === null) throw fail('missing_required_field', 'Missing `subject` field.');
  if (typeof body.subject !== 'string') throw fail('validation_error', 'The `subject` field must be a string.');
  const subject = body.subject;
  if (/[\r\n]/.test(subject)) throw fail('validation_error', 'The `subject` field may not contain line breaks (CR or LF).');
  if (subject.length > MAX_SUBJECT) throw fail('validation_error', `The \`subject\` field must be at most ${MAX_SUBJECT} characters.`);

  const html = optionalString(body, 'html');
  const text = optionalString(body, 'text');
  if (html === null && text === null) throw fail('missing_required_field', 'Missing `html` or `text` field.');

  const headers = validateHeaders(body.headers);
  const tags = validateTags(body.tags);

  let attachments: AttachmentSpec[] = [];
  if (body.attachments !== undefined && body.attachments !== null) {
    if (opts.batch) throw fail('validation_error', 'The batch endpoint does not support `attachments`.');
    attachments = validateAttachments(body.attachments);
  }

  let scheduledAt: number | null = null;
  if (body.scheduled_at !== undefined && body.scheduled_at !== null) {
    if (opts.batch) throw fail('validation_error', 'The batch endpoint does not support `scheduled_at`.');
    scheduledAt = scheduleTime(body.scheduled_at, opts.now);
  }

  return { from, to: lists.to, cc: lists.cc, bcc: lists.bcc, replyTo: lists.reply_to, subject, html, text, headers, tags, attachments, scheduledAt };
}

/** scheduled_at → epoch ms, or null when it is not in the future (then the email goes now). */
export function scheduleTime(raw: unknown, now: number): number | null {
  if (typeof raw !== 'string') throw fail('validation_error', 'The `scheduled_at` field must be a string.');
  const t = parseScheduledAt(raw, now);
  if (t === null) {
    throw fail('validation_error', 'Invalid `scheduled_at` field. Use an ISO 8601 date-time (2024-08-05T11:52:01Z) or a natural form such as "in 1 min" or "tomorrow at 9am".');
  }
  if (t > now + MAX_SCHEDULE_AHEAD_MS) throw fail('validation_error', 'The `scheduled_at` field must be within 30 days from now.');
  return t > now ? t : null;
}

function validateHeaders(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw fail('validation_error', 'The `headers` field must be an object of header names to string values.');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_HEADERS) throw fail('validation_error', `The \`headers\` field may hold at most ${MAX_HEADERS} headers.`);
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (!FIELD_NAME.test(name)) throw fail('validation_error', `Invalid header name ${JSON.stringify(name.slice(0, 80))}: a header name is printable ASCII without spaces or colons.`);
    const lower = name.toLowerCase();
    if (STRUCTURAL.has(lower) || lower.startsWith('arc-') || lower.startsWith('x-mailstack-')) {
      throw fail('validation_error', `The \`${name}\` header cannot be set through \`headers\`${lower === 'reply-to' ? ': use the `reply_to` field' : ''}.`);
    }
    if (seen.has(lower)) throw fail('validation_error', `The \`${name}\` header is given twice.`);
    seen.add(lower);
    if (typeof value !== 'string') throw fail('validation_error', `The value of the \`${name}\` header must be a string.`);
    if (/[\r\n]/.test(value)) throw fail('validation_error', `The value of the \`${name}\` header may not contain line breaks (CR or LF).`);
    if (value.length > 10_000) throw fail('validation_error', `The value of the \`${name}\` header is longer than 10000 characters.`);
    out[name] = value;
  }
  return out;
}

function validateTags(raw: unknown): Tag[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw fail('validation_error', 'The `tags` field must be an array of { name, value } objects.');
  if (raw.length > MAX_TAGS) throw fail('validation_error', `The \`tags\` field may hold at most ${MAX_TAGS} tags.`);
  const out: Tag[] = [];
  for (const t of raw) {
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw fail('validation_error', 'Each tag must be an object with `name` and `value`.');
    const { name, value } = t as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0) throw fail('missing_required_field', 'Missing tag `name` field.');
    const v = value === undefined || value === null ? '' : value;
    if (typeof v !== 'string') throw fail('validation_error', 'The tag `value` field must be a string.');
    for (const [what, s] of [['name', name], ['value', v]] as const) {
      if (s.length > 256) throw fail('validation_error', `The tag ${what} must be at most 256 characters.`);
      if (s.length && !TAG_TEXT.test(s)) {
        throw fail('validation_error', `Invalid tag ${what} ${JSON.stringify(s.slice(0, 80))}: it can only contain ASCII letters (a–z, A–Z), numbers (0–9), underscores (_), or dashes (-).`);
      }
    }
    out.push({ name, value: v });
  }
  return out;
}

function validateAttachments(raw: unknown): AttachmentSpec[] {
  if (!Array.isArray(raw)) throw fail('invalid_attachment', 'The `attachments` field must be an array.');
  if (raw.length > MAX_ATTACHMENTS) throw fail('invalid_attachment', `At most ${MAX_ATTACHMENTS} attachments are allowed.`);
  let total = 0;
  return raw.map((a, i) => {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) throw fail('invalid_attachment', `Attachment ${i} must be an object.`);
    const att = a as Record<string, unknown>;
    const hasContent = att.content !== undefined && att.content !== null;
    const hasPath = att.path !== undefined && att.path !== null;
    if (hasContent === hasPath) throw fail('invalid_attachment', `Attachment ${i} needs either \`content\` (base64) or \`path\` (a URL), not ${hasContent ? 'both' : 'neither'}.`);
    let filename: string | null = null;
    if (att.filename !== undefined && att.filename !== null && att.filename !== false) {
      if (typeof att.filename !== 'string' || att.filename.length === 0 || att.filename.length > 255 || /[\u0000-\u001f\u007f/\\]/.test(att.filename)) {
        throw fail('invalid_attachment', `Attachment ${i} has an invalid \`filename\`: 1 to 255 characters, no control characters or slashes.`);
      }
      filename = att.filename;
    }
    let contentType: string | null = null;
    if (att.content_type !== undefined && att.content_type !== null) {
      if (typeof att.content_type !== 'string' || !/^[a-z0-9!#$&^_.+-]{1,64}\/[a-z0-9!#$&^_.+-]{1,127}$/i.test(att.content_type)) {
        throw fail('invalid_attachment', `Attachment ${i} has an invalid \`content_type\`: use a MIME type such as application/pdf.`);
      }
      contentType = att.content_type.toLowerCase();
    }
    let contentId: string | null = null;
    if (att.content_id !== undefined && att.content_id !== null) {
      if (typeof att.content_id !== 'string' || !/^[\x21-\x3b\x3d\x3f-\x7e]{1,200}$/.test(att.content_id)) {
        throw fail('invalid_attachment', `Attachment ${i} has an invalid \`content_id\`: printable ASCII without spaces or angle brackets.`);
      }
      contentId = att.content_id;
    }
    let content: Buffer | null = null;
    let path: string | null = null;
    if (hasContent) {
      if (typeof att.content !== 'string') throw fail('invalid_attachment', `Attachment ${i}: \`content\` must be a base64 string.`);
      const b64 = att.content.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) throw fail('invalid_attachment', `Attachment ${i}: \`content\` is not valid base64.`);
      content = Buffer.from(b64, 'base64');
      total += content.length;
      if (total > MAX_ATTACHMENT_BYTES) throw fail('invalid_attachment', `Attachments may total at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB per email.`);
    } else {
      if (typeof att.path !== 'string' || !/^https?:\/\//i.test(att.path) || att.path.length > 2048) {
        throw fail('invalid_attachment', `Attachment ${i}: \`path\` must be an http or https URL.`);
      }
      path = att.path;
    }
    if (filename === null && content !== null && contentId === null) throw fail('invalid_attachment', `Attachment ${i} needs a \`filename\`.`);
    return { content, path, filename, contentType, contentId };
  });
}

/** An attachment with its bytes, ready for the composer, and its stored metadata. */
export interface ResolvedAttachment {
  meta: AttachmentMeta;
  content: Buffer;
}

/** Fetches `path` attachments (SSRF-guarded, size-limited) and stores every attachment as a blob. */
export async function resolveAttachments(core: Core, specs: AttachmentSpec[]): Promise<ResolvedAttachment[]> {
  const out: ResolvedAttachment[] = [];
  let total = specs.reduce((n, s) => n + (s.content?.length ?? 0), 0);
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    let content = s.content;
    let filename = s.filename;
    let contentType = s.contentType;
    if (!content) {
      try {
        const fetched = await fetchAttachment(s.path!, {
          allowPrivate: core.settings.webhookAllowPrivate,
          dnsServers: core.settings.dnsServers,
          maxBytes: MAX_ATTACHMENT_BYTES - total,
          timeoutMs: FETCH_TIMEOUT_MS,
        });
        content = fetched.content;
        filename ??= fetched.filename;
        contentType ??= fetched.contentType;
      } catch (err) {
        if (err instanceof AttachmentFetchError) throw fail('invalid_attachment', `Attachment ${i}: ${err.message}`);
        throw err;
      }
      total += content.length;
    }
    contentType ??= filename ? detectMimeType(filename) : 'application/octet-stream';
    const blob = await blobStore(core).put(content);
    out.push({
      content,
      meta: { id: newId(core.clock.now()), filename, content_type: contentType, size: content.length, content_id: s.contentId, blob_id: blob },
    });
  }
  return out;
}

/** Composes the message and returns everything acceptMessage needs. */
export async function composeMessage(
  core: Core,
  req: SendRequest,
  domain: SendingDomain,
  attachments: ResolvedAttachment[],
  ctx: { workspaceId: string; apiKeyId: string | null; source: string; idempotencyKey?: string | null },
): Promise<AcceptInput> {
  const messageId = `<${randomUUID()}@${domain.name}>`;
  const mb = (m: Mailbox) => ({ name: m.name, address: m.address });
  const composer = new MailComposer({
    from: mb(req.from),
    to: req.to.map(mb),
    cc: req.cc.length ? req.cc.map(mb) : undefined,
    replyTo: req.replyTo.length ? req.replyTo.map(mb) : undefined,
    subject: req.subject,
    text: req.text ?? undefined,
    html: req.html ?? undefined,
    headers: req.headers,
    messageId,
    date: new Date(core.clock.now()),
    attachments: attachments.map((a) => ({
      content: a.content,
      filename: a.meta.filename ?? false,
      contentType: a.meta.content_type,
      ...(a.meta.content_id ? { cid: a.meta.content_id, contentDisposition: 'inline' } : {}),
    })),
    disableFileAccess: true,
    disableUrlAccess: true,
    newline: 'win',
  });
  const raw = await composer.compile().build();
  const recipients = [
    ...req.to.map((m) => ({ address: m.address, kind: 'to' as const })),
    ...req.cc.map((m) => ({ address: m.address, kind: 'cc' as const })),
    ...req.bcc.map((m) => ({ address: m.address, kind: 'bcc' as const })),
  ];
  return {
    workspaceId: ctx.workspaceId,
    apiKeyId: ctx.apiKeyId,
    source: ctx.source,
    domain,
    fromHeader: formatMailbox(req.from),
    fromAddress: req.from.address,
    subject: req.subject,
    to: req.to.map(formatMailbox),
    cc: req.cc.map(formatMailbox),
    bcc: req.bcc.map(formatMailbox),
    replyTo: req.replyTo.map(formatMailbox),
    recipients,
    html: req.html,
    text: req.text,
    headers: req.headers,
    tags: req.tags,
    attachments: attachments.map((a) => a.meta),
    raw,
    messageId,
    scheduledAt: req.scheduledAt,
    idempotencyKey: ctx.idempotencyKey ?? null,
  };
}
