// Parsing a stored RFC 5322 message into the fields the mail store indexes and the API shows.
//
// Implementation notes (invariants a newcomer must not break):
// - `parseMessage` never throws for hostile input except with `ParseRefusal` (the MX answers
//   554 5.6.0). Everything else postal-mime or our mapping might throw is caught: we fall back
//   to `headerOnlyParse`, our own bounded reader of the top-level header block, and keep the
//   record (subject, addresses, ids) with no body.
// - postal-mime runs with limits: MIME nesting depth, total header bytes across all parts, and
//   inline message/rfc822 depth. Breadth (thousands of parts) is linear in postal-mime; we cap
//   what we keep (attachments, headers, addresses, references) so one message cannot blow up a
//   row or a JSON response.
// - Every string we return is safe for both stores: no NUL (PostgreSQL `text` refuses U+0000) and
//   well-formed UTF-16 (no lone surrogates), and bounded in length.
// - Message-IDs are returned without angle brackets (RFC 5322 §3.6.4 msg-id is `<id-left@id-right>`).
// - Attachment file names are reduced to a base name without path separators or control
//   characters: a `../../etc/passwd` name can never steer a consumer that writes files.
// - No regular expression here may backtrack on attacker input: each one is linear
//   (no nested quantifiers), and the 200 KB header line test in parse.fuzz.test.ts guards it.

import { isUtf8 } from 'node:buffer';
import PostalMime, { addressParser, decodeWords } from 'postal-mime';
import type { Address, Email } from 'postal-mime';

export interface ParsedAddress {
  name: string;
  address: string;
}

export interface ParsedAttachment {
  /** 0-based order among the message's attachments. */
  position: number;
  filename: string | null;
  contentType: string;
  contentId: string | null;
  /** 'attachment' | 'inline' | null */
  disposition: string | null;
  size: number;
  content: Buffer;
}

export interface ParsedHeader {
  /** Lower-cased header name. */
  name: string;
  /** Unfolded, RFC 2047-decoded value. */
  value: string;
}

export interface ParsedMessage {
  /** Message-ID without angle brackets. */
  messageId: string | null;
  inReplyTo: string | null;
  /** Message-IDs from References, without angle brackets, oldest first. */
  references: string[];
  subject: string | null;
  from: ParsedAddress | null;
  /** The From header as written for display: `Name <addr>` or `addr`. */
  fromHeader: string | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  bcc: ParsedAddress[];
  replyTo: ParsedAddress[];
  /** The Date header in epoch ms, when it parses. */
  date: number | null;
  headers: ParsedHeader[];
  text: string | null;
  html: string | null;
  attachments: ParsedAttachment[];
}

/** A message the store will not take (the MX answers 554 5.6.0 with `message`). */
export class ParseRefusal extends Error {
  override name = 'ParseRefusal';
}

/** Bounds on what a parse keeps. Exported so tests and docs can refer to them. */
export const PARSE_LIMITS = {
  /** MIME multipart nesting; real mail stays under ~10. Deeper: header-only record. */
  maxNestingDepth: 64,
  /** Total header bytes over all parts (postal-mime counts them together). */
  maxHeadersSize: 2 * 1024 * 1024,
  /** Inline message/rfc822 parsing depth; deeper ones stay attachments. */
  maxRfc822NestingDepth: 3,
  /** Above this size only the header block is read (the MX caps messages well below it). */
  maxFullParseBytes: 128 * 1024 * 1024,
  /** Headers kept in `headers`, and the characters kept of each value. */
  maxHeaders: 1000,
  maxHeaderValueChars: 64 * 1024,
  /** Subject characters kept. */
  maxSubjectChars: 8 * 1024,
  /** Addresses kept per field (To, Cc, …). */
  maxAddresses: 1000,
  /** Characters kept of a display name or an address. */
  maxAddressChars: 1024,
  /** Message-IDs kept from References: the first (thread root) and the most recent ones. */
  maxReferences: 100,
  /** Characters kept of one Message-ID. */
  maxMessageIdChars: 998,
  /** Attachments kept (position order); the raw message keeps the rest. */
  maxAttachments: 10_000,
  /** Characters kept of an attachment file name. */
  maxFilenameChars: 255,
} as const;

export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  if (!Buffer.isBuffer(raw)) throw new ParseRefusal('message is not a byte buffer');
  if (isBlank(raw)) throw new ParseRefusal('message is empty');

  if (raw.length <= PARSE_LIMITS.maxFullParseBytes) {
    try {
      const email = await PostalMime.parse(latin1HeadersToUtf8(withHeaderBlock(raw)), {
        attachmentEncoding: 'arraybuffer',
        maxNestingDepth: PARSE_LIMITS.maxNestingDepth,
        maxHeadersSize: PARSE_LIMITS.maxHeadersSize,
        maxRfc822NestingDepth: PARSE_LIMITS.maxRfc822NestingDepth,
      });
      return fromPostalMime(email);
    } catch {
      // Fall through: postal-mime refused (a limit) or failed on something malformed.
    }
  }
  try {
    return headerOnlyParse(raw);
  } catch (err) {
    // headerOnlyParse is written not to throw; this is the last line of defence.
    throw new ParseRefusal(`message could not be parsed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// postal-mime result → ParsedMessage

function fromPostalMime(email: Email): ParsedMessage {
  const headers = mapHeaders(email.headers.map((h) => ({ name: h.key, value: h.value })));
  const fields = fieldsFromHeaders(headers, email);
  const attachments: ParsedAttachment[] = [];
  for (const a of email.attachments) {
    if (attachments.length >= PARSE_LIMITS.maxAttachments) break;
    const content = toBuffer(a.content);
    attachments.push({
      position: attachments.length,
      filename: safeFilename(a.filename),
      contentType: cleanContentType(a.mimeType),
      contentId: a.contentId ? stripBrackets(clean(a.contentId, PARSE_LIMITS.maxMessageIdChars)) || null : null,
      disposition: a.disposition ? clean(a.disposition.toLowerCase(), 64) || null : null,
      size: content.length,
      content,
    });
  }
  return {
    ...fields,
    headers,
    text: typeof email.text === 'string' ? clean(email.text) : null,
    html: typeof email.html === 'string' ? clean(email.html) : null,
    attachments,
  };
}

type Fields = Omit<ParsedMessage, 'headers' | 'text' | 'html' | 'attachments'>;

/**
 * The envelope fields. postal-mime's own values are used where it gives them (its address
 * parser and date parser are well tested); the first header of each name wins (RFC 5322 §3.6
 * allows one of each; a duplicate is hostile or broken and the first is what most clients show).
 */
function fieldsFromHeaders(headers: ParsedHeader[], email: Partial<Email> & Pick<Email, 'headers'>): Fields {
  const first = (name: string): string | null => headers.find((h) => h.name === name)?.value ?? null;

  const fromList = email.from ? flatten([email.from]) : parseAddresses(rawFirst(email, 'from'));
  const from = fromList[0] ?? null;
  const subjectRaw = email.subject ?? first('subject');
  return {
    messageId: firstMessageId(rawFirst(email, 'message-id')),
    inReplyTo: firstMessageId(rawFirst(email, 'in-reply-to')),
    references: referenceIds(rawFirst(email, 'references')),
    subject: subjectRaw == null ? null : clean(subjectRaw, PARSE_LIMITS.maxSubjectChars).trim(),
    from,
    fromHeader: from ? formatAddress(from) : null,
    to: email.to ? flatten(email.to) : parseAddresses(rawFirst(email, 'to')),
    cc: email.cc ? flatten(email.cc) : parseAddresses(rawFirst(email, 'cc')),
    bcc: email.bcc ? flatten(email.bcc) : parseAddresses(rawFirst(email, 'bcc')),
    replyTo: email.replyTo ? flatten(email.replyTo) : parseAddresses(rawFirst(email, 'reply-to')),
    date: parseDate(email.date ?? first('date')),
  };
}

/** The undecoded value of the first header `name` (ids must be read before RFC 2047 decoding). */
function rawFirst(email: Pick<Email, 'headers'>, name: string): string | null {
  const h = email.headers.find((x) => x.key === name);
  return h ? h.value : null;
}

function mapHeaders(list: { name: string; value: string }[]): ParsedHeader[] {
  const out: ParsedHeader[] = [];
  for (const h of list) {
    if (out.length >= PARSE_LIMITS.maxHeaders) break;
    const name = clean(h.name, 256).trim().toLowerCase();
    // RFC 5322 §3.6.8 field-name: printable US-ASCII except ':'; anything else is body text or garbage.
    if (!/^[!-9;-~]+$/.test(name)) continue;
    // Decode on the bounded slice: decoding a 200 KB line of encoded words buys nothing.
    const value = clean(safeDecodeWords(h.value.slice(0, PARSE_LIMITS.maxHeaderValueChars * 2)), PARSE_LIMITS.maxHeaderValueChars).trim();
    out.push({ name, value });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fallback: the top-level header block only (RFC 5322 §2.2: header fields end at the first empty
// line; §2.2.3 unfolding). Linear, bounded, and tolerant of bare LF and bare CR line ends.

function headerOnlyParse(raw: Buffer): ParsedMessage {
  const limit = Math.min(raw.length, PARSE_LIMITS.maxHeadersSize);
  const block = raw.subarray(0, limit).toString('utf8');
  const lines = splitLines(block);
  const fields: { name: string; value: string }[] = [];
  for (const line of lines) {
    if (line === '') break; // end of the header block
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) {
      const last = fields[fields.length - 1];
      if (last.value.length < PARSE_LIMITS.maxHeaderValueChars * 2) last.value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      // Not a header line: a message without a header block starts its body here.
      if (fields.length === 0) break;
      continue;
    }
    fields.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
    if (fields.length >= PARSE_LIMITS.maxHeaders) break;
  }
  const headers = mapHeaders(fields);
  const rawHeaders = fields.map((f) => ({ key: f.name.trim().toLowerCase(), originalKey: f.name, value: f.value.trim() }));
  return { ...fieldsFromHeaders(headers, { headers: rawHeaders }), headers, text: null, html: null, attachments: [] };
}

/**
 * A message whose first line is not a header field has no header block: everything is body.
 * postal-mime would read the body lines as headers, so an empty header block is put in front.
 * An mbox `From ` separator line (not a header, RFC 4155) is dropped.
 */
function withHeaderBlock(raw: Buffer): Buffer {
  const firstLine = (b: Buffer) => {
    const end = b.indexOf(0x0a);
    return { end: end < 0 ? b.length : end, text: b.subarray(0, Math.min(end < 0 ? b.length : end, 1000)).toString('latin1') };
  };
  let line = firstLine(raw);
  if (line.text.startsWith('From ')) {
    raw = raw.subarray(line.end + 1); // once: only the first line can be an mbox separator
    line = firstLine(raw);
  }
  if (line.text === '' || line.text === '\r' || /^[!-9;-~]+[ \t]*:/.test(line.text)) return raw;
  return Buffer.concat([Buffer.from('\r\n'), raw]);
}

/**
 * Headers must be ASCII (RFC 5322 §2.2) or UTF-8 (RFC 6532), but old mailers still send raw
 * Latin-1. postal-mime decodes header bytes as UTF-8, turning them into U+FFFD; so a top-level
 * header line that is not valid UTF-8 is re-encoded from windows-1252 (a Latin-1 superset, what
 * browsers assume) before parsing. Only the top-level header block is touched; bodies and part
 * headers are left to postal-mime's charset handling.
 */
function latin1HeadersToUtf8(raw: Buffer): Buffer {
  const end = headerBlockEnd(raw, PARSE_LIMITS.maxHeadersSize);
  const head = raw.subarray(0, end);
  if (isUtf8(head)) return raw;
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= head.length; i++) {
    if (i === head.length || head[i] === 0x0a) {
      const line = head.subarray(start, i);
      out.push(isUtf8(line) ? line : Buffer.from(decodeWindows1252(line), 'utf8'));
      if (i < head.length) out.push(head.subarray(i, i + 1));
      start = i + 1;
    }
  }
  out.push(raw.subarray(end));
  return Buffer.concat(out);
}

// windows-1252's 0x80–0x9F (Node's TextDecoder maps them as Latin-1 C1 controls without full ICU).
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';

function decodeWindows1252(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x80 && b <= 0x9f ? CP1252_HIGH[b - 0x80] : String.fromCharCode(b);
  return s;
}

/** Offset just past the blank line ending the header block, or `max`/the length if none. */
function headerBlockEnd(raw: Buffer, max: number): number {
  const limit = Math.min(raw.length, max);
  for (let i = 0; i < limit; i++) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a) return i + 2;
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return i + 3;
  }
  return limit;
}

function splitLines(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || c === 13) {
      out.push(s.slice(start, i));
      if (c === 13 && s.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  if (start < s.length) out.push(s.slice(start));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field helpers

function flatten(list: Address[]): ParsedAddress[] {
  const out: ParsedAddress[] = [];
  const push = (name: string | undefined, address: string | undefined) => {
    if (out.length >= PARSE_LIMITS.maxAddresses) return;
    const addr = clean(address ?? '', PARSE_LIMITS.maxAddressChars).trim();
    if (!addr) return; // a name without an address, or an empty group: nothing to deliver to
    out.push({ name: clean(name ?? '', PARSE_LIMITS.maxAddressChars).trim(), address: addr });
  };
  for (const a of list) {
    if (a.group) for (const m of a.group) push(m.name, m.address);
    else push(a.name, a.address);
  }
  return out;
}

function parseAddresses(value: string | null): ParsedAddress[] {
  if (!value) return [];
  try {
    return flatten(addressParser(value.slice(0, PARSE_LIMITS.maxHeaderValueChars)));
  } catch {
    return [];
  }
}

/** `Name <addr>`, quoting the name when it holds RFC 5322 specials (§3.2.3), or `addr`. */
export function formatAddress(a: ParsedAddress): string {
  if (!a.name) return a.address;
  const name = /[()<>[\]:;@\\,."]/.test(a.name) ? `"${a.name.replace(/[\\"]/g, (c) => `\\${c}`)}"` : a.name;
  return `${name} <${a.address}>`;
}

/** All `<id>` tokens of a msg-id list (RFC 5322 §3.6.4), or whitespace-separated words if none. */
function messageIds(value: string | null, max: number): string[] {
  if (!value) return [];
  const v = value.slice(0, max * (PARSE_LIMITS.maxMessageIdChars + 3));
  const ids: string[] = [];
  let i = 0;
  while (i < v.length) {
    const open = v.indexOf('<', i);
    if (open < 0) break;
    const close = v.indexOf('>', open + 1);
    if (close < 0) break;
    // `<<<a@b>`: the id starts after the last '<' before the '>'.
    const start = v.lastIndexOf('<', close);
    const id = clean(v.slice(start + 1, close), PARSE_LIMITS.maxMessageIdChars).replace(/\s+/g, '');
    if (id) ids.push(id);
    i = close + 1;
  }
  if (ids.length === 0) {
    for (const word of v.split(/\s+/)) {
      const id = clean(word, PARSE_LIMITS.maxMessageIdChars).replace(/[<>]/g, '');
      if (id) ids.push(id);
    }
  }
  return ids;
}

function firstMessageId(value: string | null): string | null {
  return messageIds(value, 1)[0] ?? null;
}

/** References, oldest first; when too many, keep the root and the most recent ones. */
function referenceIds(value: string | null): string[] {
  if (!value) return [];
  const max = PARSE_LIMITS.maxReferences;
  // Read a bounded tail plus the head: the root is first, the parent is last.
  const window = max * (PARSE_LIMITS.maxMessageIdChars + 3);
  const ids =
    value.length <= window * 2
      ? messageIds(value, Infinity)
      : [...messageIds(value.slice(0, window), 1).slice(0, 1), ...messageIds(value.slice(value.indexOf('<', value.length - window)), Infinity)];
  const unique = [...new Set(ids)];
  return unique.length <= max ? unique : [unique[0], ...unique.slice(unique.length - (max - 1))];
}

function parseDate(value: string | null): number | null {
  if (!value) return null;
  const ms = Date.parse(value.slice(0, 256));
  return Number.isFinite(ms) ? ms : null;
}

function safeDecodeWords(value: string): string {
  try {
    return decodeWords(value);
  } catch {
    return value;
  }
}

function stripBrackets(id: string): string {
  // Index loops, not /^<+|>+$/: a '>+$' search is quadratic on a long run of '>'.
  let start = 0;
  let end = id.length;
  while (start < end && (id[start] === '<' || id[start] === ' ' || id[start] === '\t')) start++;
  while (end > start && (id[end - 1] === '>' || id[end - 1] === ' ' || id[end - 1] === '\t')) end--;
  return id.slice(start, end);
}

function cleanContentType(value: string | undefined): string {
  const t = clean(value ?? '', 255).trim().toLowerCase();
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(t) ? t : 'application/octet-stream';
}

/** A base name with no path, no control characters and no leading dots; null when nothing is left. */
export function safeFilename(name: string | null | undefined): string | null {
  if (!name) return null;
  let n = clean(name, 4096);
  n = n.replace(/[\u0000-\u001f\u007f]/g, '');
  n = n.slice(Math.max(n.lastIndexOf('/'), n.lastIndexOf('\\')) + 1);
  n = n.replace(/^[.\s]+/, '').trim();
  if (n.length > PARSE_LIMITS.maxFilenameChars) n = n.slice(0, PARSE_LIMITS.maxFilenameChars);
  return n || null;
}

function toBuffer(content: ArrayBuffer | Uint8Array | string): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof ArrayBuffer) return Buffer.from(content);
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** No NULs, well-formed UTF-16, at most `max` characters: safe for SQLite, PostgreSQL and JSON. */
function clean(s: string, max = Infinity): string {
  let out = s.length > max ? s.slice(0, max) : s;
  if (out.includes('\u0000')) out = out.replaceAll('\u0000', '');
  // String.prototype.toWellFormed is in Node 20 (ES2024); the project's lib is ES2023.
  return (out as unknown as { toWellFormed(): string }).toWellFormed();
}

function isBlank(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x00) return false;
  }
  return true;
}
