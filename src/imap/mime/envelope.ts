// ENVELOPE (RFC 9051 §7.5.2): date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
// message-id of a message (top-level or encapsulated).
//
// Implementation notes:
// - Strings are the header's raw bytes, unfolded, leading white space removed; RFC 2047 words stay
//   encoded (the RFC requires the raw value; clients decode). Bytes are carried as Buffers so
//   8-bit headers round-trip unchanged.
// - The first occurrence of each field counts. Sender and Reply-To default to From when absent or
//   empty (RFC 9051 §7.5.2). An absent field is NIL; an address list with no address is NIL.
import type { MimeNode } from './index-mime.ts';
import { headerLines, unfoldedValue } from './headers.ts';
import { parseAddressList, type ImapAddress } from './address.ts';
import { type ImapValue, concat } from './serialize.ts';

const WANTED = ['date', 'subject', 'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'in-reply-to', 'message-id'];

function bytes(s: string | null): Buffer | null {
  return s === null ? null : Buffer.from(s, 'latin1');
}

function addresses(value: string | undefined): ImapValue {
  if (value === undefined) return null;
  const list = parseAddressList(value);
  if (!list.length) return null;
  // RFC 9051 §9: env-from = "(" 1*address ")": the addresses follow each other without a space.
  return [concat(list.map((a: ImapAddress) => [bytes(a.name), bytes(a.adl), bytes(a.mailbox), bytes(a.host)]))];
}

function trimmed(b: Buffer): string {
  return b.toString('latin1').replace(/^[ \t]+/, '');
}

/** The ENVELOPE of a message entity (the root, or a message/rfc822 part's `message`). */
export function envelope(node: MimeNode, raw: Buffer): ImapValue {
  const found = new Map<string, string>();
  for (const line of headerLines(raw, node)) {
    if (found.has(line.name) || !WANTED.includes(line.name)) continue;
    found.set(line.name, trimmed(unfoldedValue(raw, line)));
    if (found.size === WANTED.length) break;
  }
  const text = (name: string): Buffer | null => {
    const v = found.get(name);
    return v === undefined ? null : bytes(v);
  };
  const from = addresses(found.get('from'));
  const sender = addresses(found.get('sender'));
  const replyTo = addresses(found.get('reply-to'));
  return [
    text('date'),
    text('subject'),
    from,
    sender ?? from,
    replyTo ?? from,
    addresses(found.get('to')),
    addresses(found.get('cc')),
    addresses(found.get('bcc')),
    text('in-reply-to'),
    text('message-id'),
  ];
}
