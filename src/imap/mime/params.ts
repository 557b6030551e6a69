// Structured MIME header values: Content-Type and Content-Disposition with their parameters
// (RFC 2045 §5.1, RFC 2183), parameter continuations and charsets (RFC 2231).
//
// Implementation notes:
// - Input is the raw header value as a latin1 string (one char per byte), folding included;
//   CR/LF count as white space, comments in parentheses are skipped (RFC 5322 CFWS).
// - Tolerant where real mail needs it: an unquoted value runs to the next ';' or white space even
//   when it holds tspecials such as '=' or '/', and a parameter without '=' is dropped.
// - RFC 2231: `name*0`, `name*1*`… are joined in index order into one parameter. A parameter with
//   any extended segment is reported as `name*` with value `charset'language'%xx…` (segments that
//   were not extended are percent-encoded as needed) — the form IMAP servers (Dovecot) send in
//   BODYSTRUCTURE, which clients decode. `decodeParam` turns such a value into text.
import { decodeCharset } from './decode.ts';

export interface ContentType {
  type: string;
  subtype: string;
  params: [string, string][];
}

const TSPECIALS = new Set('()<>@,;:\\"/[]?='.split(''));

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 32 && code < 127 && !TSPECIALS.has(c);
}

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  cfws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.i++;
      else if (c === '(') {
        let depth = 0;
        while (this.i < s.length) {
          const d = s[this.i];
          if (d === '\\') this.i += 2;
          else {
            this.i++;
            if (d === '(') depth++;
            else if (d === ')' && --depth === 0) break;
          }
        }
      } else break;
    }
  }

  token(): string {
    const start = this.i;
    while (this.i < this.s.length && isTokenChar(this.s[this.i])) this.i++;
    return this.s.slice(start, this.i);
  }

  quoted(): string {
    // at '"'
    let out = '';
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i++];
      if (c === '"') return out;
      if (c === '\\' && this.i < this.s.length) out += this.s[this.i++];
      else if (c !== '\r' && c !== '\n') out += c;
    }
    return out;
  }

  /** An unquoted parameter value: up to ';' or white space (tolerant of tspecials). */
  loose(): string {
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === ';' || c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '(' || c === '"') break;
      this.i++;
    }
    return this.s.slice(start, this.i);
  }

  skipTo(ch: string): void {
    while (this.i < this.s.length && this.s[this.i] !== ch) {
      if (this.s[this.i] === '"') this.quoted();
      else this.i++;
    }
  }
}

function readParams(r: Reader): [string, string][] {
  const raw: [string, string][] = [];
  for (let guard = 0; r.i < r.s.length && guard < 10_000; guard++) {
    r.cfws();
    if (r.s[r.i] !== ';') {
      // junk between parameters: skip to the next ';'
      r.skipTo(';');
      if (r.i >= r.s.length) break;
    }
    r.i++; // ';'
    r.cfws();
    const name = r.token().toLowerCase();
    r.cfws();
    if (!name || r.s[r.i] !== '=') continue;
    r.i++;
    r.cfws();
    const value = r.s[r.i] === '"' ? r.quoted() : r.loose();
    raw.push([name, value]);
  }
  return joinContinuations(raw);
}

const HEX = '0123456789ABCDEF';

function percentEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 32 && c < 127 && !'*\'%()<>@,;:\\"/[]?='.includes(text[i])) out += text[i];
    else out += '%' + HEX[(c >> 4) & 15] + HEX[c & 15];
  }
  return out;
}

/** RFC 2231 §3-4: joins `name*0`, `name*1*`… and marks extended values with a trailing `*`. */
function joinContinuations(list: [string, string][]): [string, string][] {
  if (!list.some(([n]) => n.includes('*'))) return dedupe(list);
  const out: [string, string][] = [];
  const groups = new Map<string, { at: number; segs: Map<number, { v: string; ext: boolean }> }>();
  const slots: ([string, string] | string)[] = [];
  for (const [name, value] of list) {
    const m = /^([^*]+)\*(?:(\d{1,3})(\*)?|)$/.exec(name);
    // `name*` alone: a single extended segment (index 0, extended)
    const single = /^([^*]+)\*$/.exec(name);
    if (!m && !single) {
      slots.push([name, value]);
      continue;
    }
    const base = (m ?? single)![1];
    const index = m && m[2] !== undefined ? Number(m[2]) : 0;
    const ext = m && m[2] !== undefined ? m[3] === '*' : true;
    let g = groups.get(base);
    if (!g) {
      g = { at: slots.length, segs: new Map() };
      groups.set(base, g);
      slots.push(base);
    }
    if (!g.segs.has(index)) g.segs.set(index, { v: value, ext });
  }
  for (const slot of slots) {
    if (typeof slot !== 'string') {
      // a plain `name` beside `name*`: RFC 2231 prefers the extended one
      if (groups.has(slot[0])) continue;
      out.push(slot);
      continue;
    }
    const g = groups.get(slot)!;
    const segs: { v: string; ext: boolean }[] = [];
    for (let i = 0; g.segs.has(i); i++) segs.push(g.segs.get(i)!);
    if (!segs.length) continue;
    if (!segs.some((x) => x.ext)) {
      out.push([slot, segs.map((x) => x.v).join('')]);
      continue;
    }
    // charset'language' prefix comes only from the first segment, if extended
    let head = "''";
    let first = 0;
    let value = '';
    if (segs[0].ext) {
      const q1 = segs[0].v.indexOf("'");
      const q2 = q1 < 0 ? -1 : segs[0].v.indexOf("'", q1 + 1);
      if (q2 >= 0) {
        head = segs[0].v.slice(0, q2 + 1);
        value = segs[0].v.slice(q2 + 1);
      } else value = segs[0].v;
      first = 1;
    }
    for (let i = first; i < segs.length; i++) value += segs[i].ext ? segs[i].v : percentEncode(segs[i].v);
    out.push([slot + '*', head + value]);
  }
  return dedupe(out);
}

/** First occurrence of each parameter name wins. */
function dedupe(list: [string, string][]): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const p of list) {
    if (seen.has(p[0])) continue;
    seen.add(p[0]);
    out.push(p);
  }
  return out;
}

/** Parses a Content-Type value; null when it has no valid type/subtype. */
export function parseContentType(value: string): ContentType | null {
  const r = new Reader(value.length > 65536 ? value.slice(0, 65536) : value);
  r.cfws();
  const type = r.token().toLowerCase();
  r.cfws();
  if (!type || r.s[r.i] !== '/') return null;
  r.i++;
  r.cfws();
  const subtype = r.token().toLowerCase();
  if (!subtype) return null;
  return { type, subtype, params: readParams(r) };
}

/** Parses a Content-Disposition value (RFC 2183); null when it has no disposition type. */
export function parseDisposition(value: string): { type: string; params: [string, string][] } | null {
  const r = new Reader(value.length > 65536 ? value.slice(0, 65536) : value);
  r.cfws();
  const type = r.token().toLowerCase();
  if (!type) return null;
  return { type, params: readParams(r) };
}

/** The text of a parameter, decoding an RFC 2231 `charset'lang'%xx` value when `extended`. */
export function decodeParam(value: string, extended: boolean): string {
  if (!extended) return value;
  const q1 = value.indexOf("'");
  const q2 = q1 < 0 ? -1 : value.indexOf("'", q1 + 1);
  const charset = q2 >= 0 ? value.slice(0, q1) : '';
  const body = q2 >= 0 ? value.slice(q2 + 1) : value;
  const bytes = Buffer.from(body.replace(/%([0-9a-fA-F]{2})|([\s\S])/g, (_, h, c) => (h ? String.fromCharCode(parseInt(h, 16)) : c)), 'latin1');
  return decodeCharset(bytes, charset || 'us-ascii');
}
