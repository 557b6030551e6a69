// Writing IMAP response values (RFC 9051 §4, §9 formal syntax).
//
// Implementation notes:
// - A JS string is written as a quoted string when it is short, 7-bit and free of CR, LF and NUL;
//   otherwise as a synchronising literal `{n}\r\n…` (a server never sends non-synchronising
//   literals). `\` and `"` are escaped inside quoted strings (RFC 9051 §4.3).
// - A Buffer is always a string too, chosen the same way; `literal()` forces a literal and
//   `literal8()` writes `~{n}` (RFC 3516 / RFC 9051 §4.3 literal8, needed for BINARY with NUL).
// - `null` is NIL, numbers are written as integers, arrays as parenthesised lists, `atom()` as is
//   (the caller guarantees atom syntax: flags, keywords, `BODY[1]`-style response item names).
// - Strings are serialised as bytes: a JS string becomes UTF-8.
// - NUL is never written inside a (non-8) literal: it is sent as 0x80 (see withoutNul).

export interface ImapAtom {
  readonly atom: string;
}

export interface ImapLiteral {
  readonly literal: Buffer;
  /** Write as literal8 (`~{n}`), for BINARY content that may hold NUL. */
  readonly binary?: boolean;
}

/**
 * Values written back to back with no space between them: RFC 9051's grammar has `1*address`
 * inside an address list and `1*body` before a multipart's subtype, so `((…)(…))`, never `((…) (…))`.
 */
export interface ImapConcat {
  readonly concat: readonly ImapValue[];
}

/** Bytes already in IMAP syntax (a serialised value kept in a cache), written as they are. */
export interface ImapRaw {
  readonly raw: Buffer;
}

export type ImapValue = null | number | bigint | string | Buffer | ImapAtom | ImapLiteral | ImapConcat | ImapRaw | readonly ImapValue[];

export const NIL = null;

export function atom(text: string): ImapAtom {
  return { atom: text };
}

export function literal(data: Buffer | string): ImapLiteral {
  return { literal: typeof data === 'string' ? Buffer.from(data, 'utf8') : data };
}

export function rawValue(bytes: Buffer): ImapRaw {
  return { raw: bytes };
}

export function concat(values: readonly ImapValue[]): ImapConcat {
  return { concat: values };
}

export function literal8(data: Buffer): ImapLiteral {
  return { literal: data, binary: true };
}

/** Longest string sent quoted; longer ones go as literals (keeps lines short for clients). */
const MAX_QUOTED = 1024;

function quotable(bytes: Buffer): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0 || c === 0x0d || c === 0x0a || c >= 0x80) return false;
  }
  return true;
}

function quotableString(text: string): boolean {
  if (text.length > MAX_QUOTED) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c === 0x0d || c === 0x0a || c >= 0x80) return false;
  }
  return true;
}

/**
 * A literal may not carry NUL (RFC 9051 §4.3; only literal8 may): each NUL becomes 0x80, as
 * Dovecot does, which keeps the length (so RFC822.SIZE and partial offsets stay right).
 */
function withoutNul(b: Buffer): Buffer {
  if (b.indexOf(0) < 0) return b;
  const copy = Buffer.from(b);
  for (let i = copy.indexOf(0); i >= 0; i = copy.indexOf(0, i + 1)) copy[i] = 0x80;
  return copy;
}

function quote(text: string): string {
  return '"' + text.replace(/[\\"]/g, '\\$&') + '"';
}

class Writer {
  private chunks: Buffer[] = [];
  private text = '';

  str(s: string): void {
    this.text += s;
  }

  bytes(b: Buffer): void {
    if (this.text) {
      this.chunks.push(Buffer.from(this.text, 'utf8'));
      this.text = '';
    }
    this.chunks.push(b);
  }

  done(): Buffer {
    if (this.text) this.chunks.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }
}

function write(w: Writer, value: ImapValue): void {
  if (value === null || value === undefined) {
    w.str('NIL');
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('serialize: not a finite number');
    w.str(String(Math.trunc(value)));
  } else if (typeof value === 'bigint') {
    w.str(value.toString());
  } else if (typeof value === 'string') {
    if (quotableString(value)) w.str(quote(value));
    else {
      const b = Buffer.from(value, 'utf8');
      w.str(`{${b.length}}\r\n`);
      w.bytes(b);
    }
  } else if (Buffer.isBuffer(value)) {
    if (quotable(value)) w.str(quote(value.toString('latin1')));
    else {
      w.str(`{${value.length}}\r\n`);
      w.bytes(withoutNul(value));
    }
  } else if (Array.isArray(value)) {
    w.str('(');
    for (let i = 0; i < value.length; i++) {
      if (i) w.str(' ');
      write(w, value[i]);
    }
    w.str(')');
  } else if ('atom' in (value as object)) {
    w.str((value as ImapAtom).atom);
  } else if ('raw' in (value as object)) {
    w.bytes((value as ImapRaw).raw);
  } else if ('concat' in (value as object)) {
    for (const v of (value as ImapConcat).concat) write(w, v);
  } else if ('literal' in (value as object)) {
    const lit = value as ImapLiteral;
    w.str(`${lit.binary ? '~' : ''}{${lit.literal.length}}\r\n`);
    w.bytes(lit.binary ? lit.literal : withoutNul(lit.literal));
  } else {
    throw new TypeError('serialize: not an IMAP value');
  }
}

/** Serialise one IMAP value (a list is written with its parentheses). */
export function serialize(value: ImapValue): Buffer {
  const w = new Writer();
  write(w, value);
  return w.done();
}

/**
 * Serialise a sequence of values separated by single spaces, without surrounding parentheses:
 * handy for `* 1 FETCH (` + serializeItems([atom('UID'), 5, atom('FLAGS'), [...]]) + `)`.
 */
export function serializeItems(values: readonly ImapValue[]): Buffer {
  const w = new Writer();
  for (let i = 0; i < values.length; i++) {
    if (i) w.str(' ');
    write(w, values[i]);
  }
  return w.done();
}
