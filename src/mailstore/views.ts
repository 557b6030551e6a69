// JSON views of a stored message, in Resend's shapes (resend@6 types): the received email of
// `emails.receiving.get`/`list` (GetReceivingEmailResponseSuccess, ListReceivingEmail), the
// `email.received` webhook data (ReceivedEmailEventData) and the thread email of
// `inboxes.threads.emails.get` (InboxMessage), each with Mailstack's additions: `extracted_text`,
// `html_sanitized`, `inbox_id`, `thread_id`, `auth`.
//
// Implementation notes (invariants a newcomer must not break):
// - Pure: no database, blob store or clock. Callers pass the messages row, the ParsedMessage of
//   its raw (or null when the raw could not be read) and its message_attachments rows.
// - Identity comes from the row (what the store indexed); bodies and headers from the parse.
// - `message_id` keeps its angle brackets, as Resend shows it; '' (receiving) or null (inbox
//   message) when the message had none, as Resend's types say.
// - `headers` is an object: lower-cased names, the first (top-most) value of each name wins —
//   for Received that is the hop closest to us.
// - Addresses are display strings, `Name <addr>` with the name quoted when it holds specials.
// - `html` with htmlFormat 'data_uri' (Resend's default) inlines cid: images whose Content-ID
//   matches an image part as data: URIs; `html_sanitized` is sanitizeHtml of that html, so the
//   inlined images survive (data:image/{png,gif,jpeg,webp,bmp} only) and remote ones can be blocked.
// - `extracted_text` comes from the text part, or the HTML rendered as text when there is none.

import type { MessageAttachmentsTable, MessagesTable } from '../db/schema.ts';
import { formatAddress, type ParsedAttachment, type ParsedMessage } from './parse.ts';
import { extractReplyText } from './reply-text.ts';
import { sanitizeHtml } from './sanitize.ts';
import { htmlToText } from './text.ts';

export type MessageRowForView = Pick<
  MessagesTable,
  | 'id'
  | 'mailbox_id'
  | 'thread_id'
  | 'direction'
  | 'internal_date'
  | 'seen'
  | 'subject'
  | 'from_header'
  | 'to_json'
  | 'cc_json'
  | 'bcc_json'
  | 'reply_to_json'
  | 'received_for_json'
  | 'message_id'
  | 'in_reply_to'
  | 'auth_json'
>;

export type AttachmentRowForView = Pick<MessageAttachmentsTable, 'id' | 'filename' | 'size' | 'content_type' | 'content_id' | 'disposition'>;

export interface ViewInput {
  row: MessageRowForView;
  /** The parse of the stored raw message; null when it could not be read. */
  parsed: ParsedMessage | null;
  /** The message's attachment rows, in position order. */
  attachments: AttachmentRowForView[];
}

export interface ViewOptions {
  /** Resend's `html_format`: 'data_uri' (default) inlines cid: images, 'cid' keeps references. */
  htmlFormat?: 'data_uri' | 'cid';
  /** Passed to sanitizeHtml for `html_sanitized`. */
  blockRemoteImages?: boolean;
  /** Cut `text`, `html`, `html_sanitized` and `extracted_text` at this many characters (webhooks). */
  maxBodyChars?: number;
}

export interface InboundAttachmentJson {
  id: string;
  filename: string | null;
  size: number;
  content_type: string;
  content_id: string | null;
  content_disposition: string | null;
}

export interface ReceivedEmailListItemJson {
  id: string;
  to: string[];
  from: string;
  created_at: string;
  subject: string;
  bcc: string[] | null;
  cc: string[] | null;
  reply_to: string[] | null;
  received_for: string[];
  message_id: string;
  attachments: InboundAttachmentJson[];
}

export interface MailstackExtrasJson {
  html_sanitized: string | null;
  extracted_text: string | null;
  inbox_id: string;
  thread_id: string;
  auth: unknown;
}

export interface ReceivedEmailJson extends ReceivedEmailListItemJson, MailstackExtrasJson {
  object: 'email';
  html: string | null;
  text: string | null;
  headers: Record<string, string> | null;
  raw?: { download_url: string; expires_at: string } | null;
  /** Present (true) only when maxBodyChars cut a body. */
  truncated?: true;
}

// ---------------------------------------------------------------------------------------------
// Pieces

/** Display strings of an address list stored as JSON (`[{name, address}]`, or strings). */
export function addressList(json: string | null | undefined): string[] {
  let list: unknown;
  try {
    list = JSON.parse(json ?? '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const a of list) {
    if (typeof a === 'string') {
      if (a) out.push(a);
    } else if (a && typeof a === 'object' && typeof (a as { address?: unknown }).address === 'string' && (a as { address: string }).address) {
      const { name, address } = a as { name?: unknown; address: string };
      out.push(formatAddress({ name: typeof name === 'string' ? name : '', address }));
    }
  }
  return out;
}

function stringList(json: string | null | undefined): string[] {
  try {
    const v = JSON.parse(json ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

const orNull = (list: string[]) => (list.length ? list : null);
const iso = (ms: number | string) => new Date(Number(ms)).toISOString();
const bracketed = (id: string | null) => (id ? `<${id}>` : null);

/** Resend's received-email attachment metadata (InboundAttachment). */
export function inboundAttachmentJson(a: AttachmentRowForView): InboundAttachmentJson {
  return { id: a.id, filename: a.filename, size: Number(a.size), content_type: a.content_type, content_id: a.content_id, content_disposition: a.disposition };
}

/**
 * A received attachment with its signed download link (Resend's AttachmentData, as
 * `emails.receiving.attachments.get/list` give it): optional fields absent rather than null, and
 * the disposition only `inline` or `attachment`.
 */
export function receivedAttachmentJson(a: AttachmentRowForView, link: { download_url: string; expires_at: string }) {
  return {
    id: a.id,
    filename: a.filename ?? undefined,
    size: Number(a.size),
    content_type: a.content_type,
    content_disposition: a.disposition === 'inline' ? ('inline' as const) : ('attachment' as const),
    content_id: a.content_id ?? undefined,
    download_url: link.download_url,
    expires_at: link.expires_at,
  };
}

/** Headers as Resend's object: lower-cased names, first value wins. */
export function headersRecord(parsed: ParsedMessage): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const h of parsed.headers) if (!(h.name in out)) out[h.name] = h.value;
  return { ...out }; // a plain object again (no prototype tricks with "__proto__" header names)
}

/**
 * `cid:` references replaced by data: URIs of the matching image parts (RFC 2392: a cid URL is
 * the %-encoded Content-ID). Non-image parts are left as references: a data: URI of any other
 * type could be active content.
 */
export function inlineCidImages(html: string, attachments: Pick<ParsedAttachment, 'contentId' | 'contentType' | 'content'>[]): string {
  const byCid = new Map<string, { type: string; content: Buffer }>();
  for (const a of attachments) {
    if (!a.contentId || !/^image\/(?:png|gif|jpe?g|webp|bmp)$/.test(a.contentType)) continue;
    const key = a.contentId.toLowerCase();
    if (!byCid.has(key)) byCid.set(key, { type: a.contentType, content: a.content });
  }
  if (!byCid.size) return html;
  return html.replace(/cid:([^"'\s)>]{1,1000})/gi, (whole, ref: string) => {
    let key = ref;
    try {
      key = decodeURIComponent(ref);
    } catch {
      /* keep as written */
    }
    const part = byCid.get(key.replace(/^<|>$/g, '').toLowerCase());
    return part ? `data:${part.type};base64,${part.content.toString('base64')}` : whole;
  });
}

function parseAuth(json: string | null): unknown {
  if (!json) return null;
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}

interface Bodies {
  html: string | null;
  text: string | null;
  html_sanitized: string | null;
  extracted_text: string | null;
  truncated: boolean;
}

function bodies(parsed: ParsedMessage | null, opts: ViewOptions): Bodies {
  if (!parsed) return { html: null, text: null, html_sanitized: null, extracted_text: null, truncated: false };
  let html = parsed.html;
  if (html !== null && opts.htmlFormat !== 'cid') html = inlineCidImages(html, parsed.attachments);
  const text = parsed.text;
  const html_sanitized = html === null ? null : sanitizeHtml(html, { blockRemoteImages: opts.blockRemoteImages }).html;
  const source = text !== null && text.trim() !== '' ? text : html !== null ? htmlToText(html) : null;
  const extracted_text = source === null ? null : extractReplyText(source);
  const max = opts.maxBodyChars;
  if (max === undefined) return { html, text, html_sanitized, extracted_text, truncated: false };
  let truncated = false;
  const clip = (s: string | null) => {
    if (s === null || s.length <= max) return s;
    truncated = true;
    return s.slice(0, max);
  };
  return { html: clip(html), text: clip(text), html_sanitized: clip(html_sanitized), extracted_text: clip(extracted_text), truncated };
}

// ---------------------------------------------------------------------------------------------
// Views

/** One item of `emails.receiving.list` (Resend's ListReceivingEmail). Needs no parse. */
export function receivedEmailListItem(row: MessageRowForView, attachments: AttachmentRowForView[]): ReceivedEmailListItemJson {
  return {
    id: row.id,
    to: addressList(row.to_json),
    from: row.from_header ?? '',
    created_at: iso(row.internal_date),
    subject: row.subject ?? '',
    bcc: orNull(addressList(row.bcc_json)),
    cc: orNull(addressList(row.cc_json)),
    reply_to: orNull(addressList(row.reply_to_json)),
    received_for: stringList(row.received_for_json),
    message_id: bracketed(row.message_id) ?? '',
    attachments: attachments.map(inboundAttachmentJson),
  };
}

/** `emails.receiving.get` (Resend's GetReceivingEmailResponseSuccess) plus Mailstack's extras. */
export function receivedEmailJson(input: ViewInput, opts: ViewOptions & { raw?: { download_url: string; expires_at: string } | null } = {}): ReceivedEmailJson {
  const { row, parsed, attachments } = input;
  const b = bodies(parsed, opts);
  return {
    object: 'email',
    ...receivedEmailListItem(row, attachments),
    html: b.html,
    text: b.text,
    headers: parsed ? headersRecord(parsed) : null,
    ...(opts.raw !== undefined ? { raw: opts.raw } : {}),
    html_sanitized: b.html_sanitized,
    extracted_text: b.extracted_text,
    inbox_id: row.mailbox_id,
    thread_id: row.thread_id,
    auth: parseAuth(row.auth_json),
    ...(b.truncated ? { truncated: true as const } : {}),
  };
}

/**
 * The `email.received` webhook data: Resend's ReceivedEmailEventData (email_id, created_at,
 * from, to, bcc, cc, received_for, message_id, subject, attachments without size) plus the
 * bodies and extras, so an agent needs no second request. Bodies are cut at `maxBodyChars`
 * (default 1,000,000) to bound the webhook's size.
 */
export function receivedEventJson(input: ViewInput, opts: ViewOptions & { inboxMode?: string } = {}) {
  const { row, parsed, attachments } = input;
  const b = bodies(parsed, { htmlFormat: 'cid', ...opts, maxBodyChars: opts.maxBodyChars ?? 1_000_000 });
  const item = receivedEmailListItem(row, attachments);
  return {
    email_id: row.id,
    created_at: item.created_at,
    from: item.from,
    to: item.to,
    bcc: item.bcc ?? [],
    cc: item.cc ?? [],
    received_for: item.received_for,
    message_id: item.message_id,
    subject: item.subject,
    attachments: attachments.map((a) => ({ id: a.id, filename: a.filename, content_type: a.content_type, content_disposition: a.disposition, content_id: a.content_id })),
    inbox_id: row.mailbox_id,
    ...(opts.inboxMode !== undefined ? { inbox_mode: opts.inboxMode } : {}),
    thread_id: row.thread_id,
    in_reply_to: bracketed(row.in_reply_to),
    text: b.text,
    html: b.html,
    html_sanitized: b.html_sanitized,
    extracted_text: b.extracted_text,
    headers: parsed ? headersRecord(parsed) : null,
    auth: parseAuth(row.auth_json),
    ...(b.truncated ? { truncated: true as const } : {}),
  };
}

/** `inboxes.threads.emails.get` (Resend's InboxMessage) plus Mailstack's extras. */
export function inboxMessageJson(input: ViewInput, opts: ViewOptions = {}) {
  const { row, parsed, attachments } = input;
  const b = bodies(parsed, { htmlFormat: 'cid', ...opts });
  return {
    id: row.id,
    direction: row.direction,
    from: row.from_header ?? '',
    to: addressList(row.to_json),
    cc: addressList(row.cc_json),
    bcc: addressList(row.bcc_json),
    reply_to: addressList(row.reply_to_json),
    subject: row.subject,
    message_id: bracketed(row.message_id),
    html: b.html,
    text: b.text,
    attachments: attachments.map((a) => ({ id: a.id, filename: a.filename, size: a.size === null ? null : Number(a.size) })),
    read: Number(row.seen) === 1,
    received_at: iso(row.internal_date),
    html_sanitized: b.html_sanitized,
    extracted_text: b.extracted_text,
    inbox_id: row.mailbox_id,
    thread_id: row.thread_id,
    auth: parseAuth(row.auth_json),
  };
}
