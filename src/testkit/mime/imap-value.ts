// A small reader of IMAP response values (RFC 9051 §9), used to compare our serialised values with
// Dovecot's recorded answers as trees, so quoted-vs-literal choices do not matter.
// Strings come back as latin1 JS strings (one char per byte), NIL as null, numbers as numbers.

export type Value = null | number | string | Value[];

export class Cursor {
  i = 0;
  constructor(readonly b: Buffer) {}

  ws(): void {
    while (this.b[this.i] === 32) this.i++;
  }

  value(): Value {
    this.ws();
    const c = this.b[this.i];
    if (c === 40 /* ( */) {
      this.i++;
      const list: Value[] = [];
      for (;;) {
        this.ws();
        if (this.b[this.i] === 41) {
          this.i++;
          return list;
        }
        if (this.i >= this.b.length) throw new Error('unterminated list');
        list.push(this.value());
      }
    }
    if (c === 34 /* " */) {
      this.i++;
      let s = '';
      while (this.i < this.b.length && this.b[this.i] !== 34) {
        if (this.b[this.i] === 92) this.i++;
        s += String.fromCharCode(this.b[this.i++]);
      }
      this.i++;
      return s;
    }
    if (c === 123 /* { */ || (c === 126 && this.b[this.i + 1] === 123)) {
      if (c === 126) this.i++;
      const close = this.b.indexOf(125, this.i);
      const n = Number(this.b.toString('latin1', this.i + 1, close));
      const start = close + 3; // }\r\n
      this.i = start + n;
      return this.b.toString('latin1', start, start + n);
    }
    const start = this.i;
    while (this.i < this.b.length && this.b[this.i] !== 32 && this.b[this.i] !== 41 && this.b[this.i] !== 40) {
      if (this.b[this.i] === 91 /* [ */) {
        const close = this.b.indexOf(93, this.i);
        this.i = close < 0 ? this.b.length : close + 1;
        continue;
      }
      this.i++;
    }
    const a = this.b.toString('latin1', start, this.i);
    if (a === 'NIL') return null;
    if (/^\d+$/.test(a)) return Number(a);
    return a;
  }
}

/** Parses `seq (NAME VALUE NAME VALUE …)` into its items. */
export function parseFetch(b: Buffer): Map<string, Value> {
  const c = new Cursor(b);
  while (c.i < b.length && b[c.i] !== 40) c.i++;
  const list = c.value() as Value[];
  const out = new Map<string, Value>();
  for (let i = 0; i + 1 < list.length; i += 2) out.set(String(list[i]), list[i + 1]);
  return out;
}

/** Parses one serialised value. */
export function parseValue(b: Buffer): Value {
  return new Cursor(b).value();
}
