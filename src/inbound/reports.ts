// Parsing the two machine-readable reports that come back to a return path: delivery status
// notifications (RFC 3464) and abuse feedback reports (ARF, RFC 5965). Pure functions of the
// message bytes: nothing here touches the store, so every hostile input can be tried in a unit test.
//
// Implementation notes:
// - The message is outside input. postal-mime parses it with tight limits (nesting depth, header
//   bytes); everything we keep is cleaned of control characters and bounded in length, because it
//   ends up in text columns (PostgreSQL refuses U+0000) and in webhook payloads.
// - A report is recognised by its parts, not only by the top-level `report-type` parameter: some
//   MTAs wrap the multipart/report in a multipart/mixed, and some forget the parameter.
// - Field blocks (RFC 3464 §2.1, RFC 5965 §3.1) are header-like: "Name: value" lines, folded
//   continuation lines, groups separated by blank lines. Field names are case-insensitive.
import PostalMime from 'postal-mime';

/** The per-recipient fields of a DSN (RFC 3464 §2.3) that we use. */
export interface DsnRecipient {
  /** Final-Recipient's address (RFC 3464 §2.3.2), lower-cased, or null. */
  finalRecipient: string | null;
  /** Original-Recipient's address (RFC 3464 §2.3.1), lower-cased, or null. */
  originalRecipient: string | null;
  /** failed | delayed | delivered | relayed | expanded (RFC 3464 §2.3.3), lower-cased. */
  action: string;
  /** The RFC 3463 status code, e.g. "5.1.1", or null when missing or malformed (§2.3.4). */
  status: string | null;
  /** Diagnostic-Code text (§2.3.6), e.g. "smtp; 550 5.1.1 User unknown". */
  diagnostic: string | null;
  remoteMta: string | null;
}

/** What we learn of the message a report is about, from its returned copy or headers. */
export interface OriginalMessage {
  messageId: string | null;
  returnPath: string | null;
}

export interface DsnReport {
  kind: 'dsn';
  reportingMta: string | null;
  recipients: DsnRecipient[];
  original: OriginalMessage;
}

export interface ArfReport {
  kind: 'arf';
  /** abuse | fraud | virus | other | not-spam | auth-failure … (RFC 5965 §7.3), lower-cased. */
  feedbackType: string;
  userAgent: string | null;
  reportingMta: string | null;
  /** Original-Rcpt-To (RFC 5965 §3.2), lower-cased. */
  originalRcptTo: string | null;
  originalMailFrom: string | null;
  original: OriginalMessage;
}

export type Report = DsnReport | ArfReport;

/** Parser limits: a report is small; anything deeper or larger is not one we need to read. */
const PARSE_LIMITS = { maxNestingDepth: 32, maxHeadersSize: 512 * 1024, maxRfc822NestingDepth: 0 } as const;
/** How much of a report part (and of a returned message's header block) we read. */
const PART_LIMIT = 256 * 1024;

/** Removes control characters (U+0000 included) and bounds the length of text we keep. */
export function clean(text: string | null | undefined, max = 1000): string | null {
  if (text === null || text === undefined) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  const out = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return out ? out.slice(0, max) : null;
}

/** Splits header-like text into groups of fields (RFC 3464 §2.1), unfolding continuation lines. */
export function parseFieldGroups(text: string): Map<string, string>[] {
  const groups: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  let last: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      current = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line) && current && last) {
      current.set(last, `${current.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~]+)[ \t]*:(.*)$/.exec(line);
    if (!m) continue;
    if (!current) groups.push((current = new Map()));
    last = m[1].toLowerCase();
    // The first occurrence wins, like a header block read by a person.
    if (!current.has(last)) current.set(last, m[2].trim());
    else last = null;
  }
  return groups;
}

/** "rfc822; User@Example.com" → "user@example.com" (RFC 3464 §2.3.2 address-type; address). */
function typedAddress(value: string | undefined): string | null {
  if (!value) return null;
  const semi = value.indexOf(';');
  const address = (semi >= 0 ? value.slice(semi + 1) : value).trim().replace(/^<|>$/g, '');
  return clean(address.toLowerCase(), 320);
}

/** The RFC 3463 code at the start of a Status field: class.subject.detail, class 2, 4 or 5. */
function statusCode(value: string | undefined): string | null {
  const m = /^\s*([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(value ?? '');
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : null;
}

function decode(content: ArrayBuffer | string | Uint8Array): string {
  if (typeof content === 'string') return content.slice(0, PART_LIMIT);
  const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, PART_LIMIT)).toString('utf8');
}

/** The header block of a returned message (message/rfc822 or text/rfc822-headers). */
function originalOf(text: string | null): OriginalMessage {
  if (!text) return { messageId: null, returnPath: null };
  const end = text.search(/\r?\n\r?\n/);
  const [fields] = parseFieldGroups(end >= 0 ? text.slice(0, end) : text);
  const messageId = clean(fields?.get('message-id'), 998);
  const returnPath = clean(fields?.get('return-path')?.replace(/^<|>$/g, '').toLowerCase(), 320);
  return { messageId: messageId && normalizeMessageId(messageId), returnPath };
}

/** "<a@b>", "a@b", " <a@b> (comment)" → "<a@b>". */
export function normalizeMessageId(raw: string): string | null {
  const m = /<([^<>\s]+)>/.exec(raw) ?? /^\s*([^<>\s]+@[^<>\s]+)\s*$/.exec(raw);
  return m ? `<${m[1]}>` : null;
}

/** The `report-type` parameter of a Content-Type value (RFC 6522 §3), lower-cased, or null. */
export function reportTypeOf(contentType: string | undefined): string | null {
  if (!contentType || !/^\s*multipart\/report\b/i.test(contentType)) return null;
  const m = /;\s*report-type\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(contentType);
  return (m?.[1] ?? m?.[2])?.toLowerCase() ?? null;
}

/** Thrown when the message cannot be parsed as MIME at all (limits exceeded, say). */
export class UnparseableMessage extends Error {}

/**
 * Reads a DSN or an ARF report out of a message; null when the message is neither (a plain-text
 * bounce, an auto-reply, spam to the return path). Throws UnparseableMessage when the MIME
 * parser gives up on the message.
 */
export async function parseReport(raw: Buffer | Uint8Array): Promise<Report | null> {
  let email: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    email = await PostalMime.parse(raw, { ...PARSE_LIMITS, attachmentEncoding: 'arraybuffer', forceRfc822Attachments: true });
  } catch (err) {
    throw new UnparseableMessage((err as Error).message);
  }
  const reportType = reportTypeOf(email.headers.find((h) => h.key === 'content-type')?.value);
  const part = (...types: string[]) => email.attachments.find((a) => types.includes(a.mimeType.toLowerCase()));
  const status = part('message/delivery-status', 'message/global-delivery-status');
  const feedback = part('message/feedback-report');
  const returned = part('message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers');
  const original = originalOf(returned ? decode(returned.content) : null);

  // RFC 5965 §2: multipart/report; report-type=feedback-report, second part message/feedback-report.
  if (feedback && (reportType === 'feedback-report' || reportType === null)) {
    const [fields] = parseFieldGroups(decode(feedback.content));
    if (!fields) return null;
    return {
      kind: 'arf',
      feedbackType: clean(fields.get('feedback-type')?.toLowerCase(), 50) ?? 'other',
      userAgent: clean(fields.get('user-agent'), 200),
      reportingMta: clean(fields.get('reporting-mta'), 300),
      originalRcptTo: clean(fields.get('original-rcpt-to')?.replace(/^<|>$/g, '').toLowerCase(), 320),
      originalMailFrom: clean(fields.get('original-mail-from')?.replace(/^<|>$/g, '').toLowerCase(), 320),
      original,
    };
  }

  // RFC 3464 §2: multipart/report; report-type=delivery-status, second part message/delivery-status
  // holding one per-message group then one group per recipient. RFC 6533 adds the global forms.
  if (status && (reportType === 'delivery-status' || reportType === 'global-delivery-status' || reportType === null)) {
    const [perMessage, ...perRecipient] = parseFieldGroups(decode(status.content));
    const recipients: DsnRecipient[] = [];
    for (const g of perRecipient.slice(0, 100)) {
      const action = clean(g.get('action')?.toLowerCase(), 20);
      if (!action) continue;
      recipients.push({
        finalRecipient: typedAddress(g.get('final-recipient')),
        originalRecipient: typedAddress(g.get('original-recipient')),
        action: action.split(/[\s(]/)[0],
        status: statusCode(g.get('status')),
        diagnostic: clean(g.get('diagnostic-code')),
        remoteMta: clean(g.get('remote-mta'), 300),
      });
    }
    if (!recipients.length) return null;
    return { kind: 'dsn', reportingMta: clean(perMessage?.get('reporting-mta'), 300), recipients, original };
  }
  return null;
}

/** Resend's bounce detail for a failed DSN recipient. Status class per RFC 3463 §3.1. */
export function bounceOf(r: DsnRecipient): { type: 'Permanent' | 'Transient' | 'Undetermined'; subType: string; message: string } {
  const type = r.status?.startsWith('5.') ? 'Permanent' : r.status?.startsWith('4.') ? 'Transient' : 'Undetermined';
  return { type, subType: subTypeOf(r.status), message: r.diagnostic ?? (r.status ? `Status ${r.status}` : 'The remote server reported a failure') };
}

/**
 * Resend's bounce sub-types (SES's vocabulary) from the RFC 3463 subject and detail:
 * X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad address syntax, X.1.6 mailbox moved,
 * X.1.10 null MX (RFC 7505) → NoEmail; X.2.2 mailbox full → MailboxFull; X.2.3 / X.3.4 message
 * too big → MessageTooLarge; X.6.x media and X.7.1 / X.7.x policy → ContentRejected.
 */
export function subTypeOf(status: string | null): string {
  if (!status) return 'General';
  const [, subject, detail] = status.split('.').map(Number);
  if (subject === 1 && [1, 2, 3, 6, 10].includes(detail)) return 'NoEmail';
  if (subject === 2 && detail === 2) return 'MailboxFull';
  if ((subject === 2 && detail === 3) || (subject === 3 && detail === 4)) return 'MessageTooLarge';
  if (subject === 6 || (subject === 7 && detail !== 0)) return 'ContentRejected';
  return 'General';
}
