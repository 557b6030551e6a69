// Trace header fields of an inbound message (RFC 5321 §4.4, RFC 5322 §3.6.7): the Received line
// we add, the Return-Path of final delivery, and reading what earlier hops wrote (loop detection,
// our own forwarding markers).
//
// Implementation notes:
// - Everything taken from the client (HELO name, addresses) is cleaned of CR, LF and control
//   characters before it goes into a header: a hostile HELO must not be able to add header lines.
// - "for <address>" is written only for a single recipient: with several, it would tell each
//   recipient who else (Bcc included) received the same stored copy (RFC 5321 §7.2).
// - Reading headers looks only at the header section (up to the first empty line), at most
//   HEADER_SCAN_BYTES of it, so a hostile 50 MB "header" costs a bounded scan.
import { newId } from '../core/ids.ts';

/** Our forwarding marker: one line per hosted mailbox that forwarded the message (its id). */
export const FORWARD_MARKER = 'X-Mailstack-Forwarded';
const HEADER_SCAN_BYTES = 2 * 1024 * 1024;

function clean(text: string, max = 255): string {
  return text.replace(/[\u0000-\u001f\u007f()\\]/g, '').slice(0, max);
}

/** RFC 5322 §3.3 date-time in UTC: `Tue, 01 Jul 2025 12:00:00 +0000`. */
export function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}

/** RFC 5321 §4.1.3 address literal for the client's IP. */
function addressLiteral(ip: string | null): string {
  if (!ip) return '[unknown]';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) return `[${v4}]`;
  return ip.includes(':') ? `[IPv6:${clean(ip, 64)}]` : `[${clean(ip, 64)}]`;
}

export interface ReceivedInput {
  heloName: string | null;
  clientHostname?: string | null;
  remoteAddress: string | null;
  hostname: string;
  secure?: boolean;
  recipients: string[];
  now: number;
}

/** The Received line (folded, CRLF-terminated) for one accepted message. */
export function receivedHeader(i: ReceivedInput): string {
  const helo = clean(i.heloName ?? 'unknown');
  const client = [i.clientHostname ? clean(i.clientHostname) : null, addressLiteral(i.remoteAddress)].filter(Boolean).join(' ');
  // RFC 3848: ESMTPS when the session was protected by STARTTLS.
  const via = i.secure ? 'ESMTPS' : 'ESMTP';
  const forClause = i.recipients.length === 1 ? `\r\n\tfor <${clean(i.recipients[0], 320)}>` : '';
  return `Received: from ${helo} (${client})\r\n\tby ${clean(i.hostname)} (Mailstack) with ${via} id ${newId(i.now)}${forClause};\r\n\t${rfc5322Date(i.now)}\r\n`;
}

/** The Return-Path of final delivery (RFC 5321 §4.4): the envelope sender, `<>` for none. */
export function returnPathHeader(mailFrom: string): string {
  return `Return-Path: <${clean(mailFrom, 320).replace(/[<>\s]/g, '')}>\r\n`;
}

/** The header section of a raw message (latin1 text), bounded. */
function headerSection(raw: Buffer): string {
  const head = raw.subarray(0, HEADER_SCAN_BYTES).toString('latin1');
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  const ends = [crlf, lf].filter((n) => n >= 0);
  return ends.length ? head.slice(0, Math.min(...ends) + 1) : head;
}

/** Unfolded values of every header field named `name` (case-insensitive), in order. */
export function headerValues(raw: Buffer, name: string): string[] {
  const lines = headerSection(raw).split(/\r?\n/);
  const out: string[] = [];
  const prefix = `${name.toLowerCase()}:`;
  let current: string | null = null;
  for (const line of lines) {
    if (current !== null && /^[ \t]/.test(line)) {
      current += ` ${line.trim()}`;
      continue;
    }
    if (current !== null) out.push(current.trim());
    current = line.toLowerCase().startsWith(prefix) ? line.slice(prefix.length) : null;
  }
  if (current !== null) out.push(current.trim());
  return out;
}

/** How many Received fields earlier hops added: the loop counter of RFC 5321 §6.3. */
export function receivedCount(raw: Buffer): number {
  let n = 0;
  for (const line of headerSection(raw).split(/\r?\n/)) if (/^received:/i.test(line)) n++;
  return n;
}
