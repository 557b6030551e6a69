// Reading header fields of one entity on demand (RFC 5322 §2.2): for ENVELOPE, HEADER.FIELDS and
// SEARCH.
//
// Implementation notes:
// - A field runs from its name line through its folded continuation lines (lines starting with a
//   space or tab), line endings included. Lines that are neither a field nor a continuation are
//   listed with the name "" (so HEADER.FIELDS and HEADER.FIELDS.NOT partition the header, as in
//   Dovecot). Only the range [headerStart, fieldsEnd) of the entity is read.
// - Names are compared case-insensitively (lower-cased latin1).
import type { MimeNode } from './index-mime.ts';
import { bytesToText, decodeWords } from './decode.ts';
import { parseDate } from './date.ts';

export interface HeaderLine {
  /** Lower-cased field name. */
  name: string;
  /** The field's bytes, from its name to after its last line ending (or fieldsEnd). */
  start: number;
  end: number;
  /** The value: after the colon, up to before the last line ending. */
  valueStart: number;
  valueEnd: number;
}

/** The header fields of an entity, in order. */
export function headerLines(raw: Buffer, node: MimeNode): HeaderLine[] {
  const out: HeaderLine[] = [];
  const limit = Math.min(node.fieldsEnd, raw.length);
  let pos = node.headerStart;
  let cur: HeaderLine | null = null;
  while (pos < limit) {
    const nl = raw.indexOf(10, pos);
    let next = limit;
    let le = limit;
    if (nl >= 0 && nl < limit) {
      next = nl + 1;
      le = nl > pos && raw[nl - 1] === 13 ? nl - 1 : nl;
    }
    const c = raw[pos];
    if ((c === 32 || c === 9) && cur) {
      cur.end = next;
      cur.valueEnd = le;
    } else {
      // search this line only: a search past it would make colon-less lines quadratic
      const rel = raw.subarray(pos, le).indexOf(58);
      const colon = rel < 0 ? -1 : pos + rel;
      let name = '';
      let valueStart = le;
      if (colon >= pos && colon < le) {
        let ne = colon;
        while (ne > pos && (raw[ne - 1] === 32 || raw[ne - 1] === 9)) ne--;
        name = raw.toString('latin1', pos, ne).toLowerCase();
        valueStart = colon + 1;
      }
      // A line that is no field (no colon, empty name) is kept under the name "" so that
      // HEADER.FIELDS.NOT still returns it and never matches a requested name.
      if (!name || name.charCodeAt(0) === 32 || name.charCodeAt(0) === 9) name = '';
      cur = { name, start: pos, end: next, valueStart, valueEnd: le };
      out.push(cur);
      if (!name) cur = null;
    }
    pos = next;
  }
  return out;
}

/** A field's value bytes with folding removed (CRLF/LF before white space), as latin1-safe bytes. */
export function unfoldedValue(raw: Buffer, line: HeaderLine): Buffer {
  const v = raw.subarray(line.valueStart, line.valueEnd);
  if (v.indexOf(10) < 0) return v;
  const out = Buffer.allocUnsafe(v.length);
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === 13 && v[i + 1] === 10) continue;
    if (c === 10) continue;
    out[n++] = c;
  }
  return out.subarray(0, n);
}

/** Unfolded values of every field with this name, leading white space removed, RFC 2047-decoded. */
export function headerField(node: MimeNode, raw: Buffer, name: string): string[] {
  const want = name.toLowerCase();
  const out: string[] = [];
  if (!want) return out;
  for (const line of headerLines(raw, node)) {
    if (line.name !== want) continue;
    out.push(decodeWords(bytesToText(unfoldedValue(raw, line)).replace(/^[ \t]+/, '')));
  }
  return out;
}

/**
 * The HEADER.FIELDS / HEADER.FIELDS.NOT subset (RFC 9051 §6.4.5): the matching fields as stored,
 * in order, followed by the blank line (when the entity's header has one).
 */
export function headerFieldsRaw(raw: Buffer, node: MimeNode, names: readonly string[], not: boolean): Buffer {
  const want = new Set(names.map((n) => n.toLowerCase()));
  const parts: Buffer[] = [];
  for (const line of headerLines(raw, node)) {
    if ((line.name !== '' && want.has(line.name)) === not) continue;
    parts.push(raw.subarray(line.start, line.end));
    if (raw[line.end - 1] !== 10) parts.push(Buffer.from('\r\n'));
  }
  // the blank line that ends the header, when the entity has one
  if (node.headerEnd > node.fieldsEnd) parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** The first Date header in epoch ms (RFC 5322 §3.3), or null. */
export function messageDate(node: MimeNode, raw: Buffer): number | null {
  for (const line of headerLines(raw, node)) {
    if (line.name === 'date') return parseDate(unfoldedValue(raw, line).toString('latin1'));
  }
  return null;
}
