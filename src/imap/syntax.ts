// Command syntax (RFC 9051 §4 and §9): turns the segments the reader collected into tokens, and a
// cursor with typed getters the command handlers use. Anything malformed throws `Bad`, which the
// session answers with a tagged BAD (RFC 9051 §7.1.5).
//
// Implementation notes:
// - Tokens: atoms (with an optional `[section]` and `<partial>` for FETCH items, RFC 9051 §6.4.5),
//   quoted strings, literals (a segment ending in `{n}`/`{n+}`/`~{n}` is followed by its bytes),
//   and parenthesised lists nested at most MAX_DEPTH deep (hostile input must not recurse deeply).
// - Tolerant where real clients are sloppy: repeated or trailing spaces. Strict where it matters:
//   unbalanced parentheses, unknown escapes in quoted strings and a missing `]` are BAD.
import type { Segment } from './reader.ts';

export class Bad extends Error {}

export const MAX_DEPTH = 32;

export type Token =
  | { t: 'atom'; v: string; section?: string; partial?: [number, number] }
  | { t: 'string'; v: string; bytes?: Buffer; literal: boolean; binary?: boolean }
  | { t: 'list'; v: Token[] };

class Scanner {
  private seg = 0;
  private pos = 0;
  constructor(private readonly segments: Segment[]) {}

  private get text(): string {
    const s = this.segments[this.seg];
    return typeof s === 'string' ? s : '';
  }

  atEnd(): boolean {
    return this.seg >= this.segments.length || (this.seg === this.segments.length - 1 && this.pos >= this.text.length);
  }

  peekChar(): string {
    return this.text[this.pos] ?? '';
  }

  skipSpaces(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }

  tokens(depth: number, closer: string | null): Token[] {
    const out: Token[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.pos >= this.text.length) {
        if (closer) throw new Bad('Unbalanced parentheses');
        if (this.seg < this.segments.length - 1) throw new Bad('Unexpected literal');
        return out;
      }
      const c = this.text[this.pos];
      if (c === ')') {
        if (closer !== ')') throw new Bad('Unbalanced parentheses');
        this.pos++;
        return out;
      }
      if (c === '(') {
        if (depth >= MAX_DEPTH) throw new Bad('Too deeply nested');
        this.pos++;
        out.push({ t: 'list', v: this.tokens(depth + 1, ')') });
      } else if (c === '"') {
        out.push({ t: 'string', v: this.quoted(), literal: false });
      } else if (c === '{' || (c === '~' && this.text[this.pos + 1] === '{')) {
        out.push(this.literal());
      } else {
        out.push(this.atom(depth));
      }
      const next = this.text[this.pos];
      if (next !== undefined && next !== ' ' && next !== ')' && next !== '(') {
        throw new Bad(`Unexpected character ${JSON.stringify(next)}`);
      }
    }
  }

  private quoted(): string {
    const text = this.text;
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Bad('Unterminated quoted string');
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        if (n !== '\\' && n !== '"') throw new Bad('Bad escape in quoted string');
        out += n;
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
    this.pos = i + 1;
    return out;
  }

  private literal(): Token {
    const m = /^(~?)\{(\d+)\+?\}$/.exec(this.text.slice(this.pos));
    if (!m) throw new Bad('Bad literal');
    const data = this.segments[this.seg + 1];
    if (!Buffer.isBuffer(data)) throw new Bad('Missing literal');
    if (!m[1] && data.includes(0)) throw new Bad('NUL in literal (use literal8)');
    this.seg += 2;
    this.pos = 0;
    // The literal is followed by the next line's text, which continues the command.
    if (this.seg >= this.segments.length) {
      this.segments.push('');
    }
    return { t: 'string', v: data.toString('utf8'), bytes: data, literal: true, binary: !!m[1] };
  }

  private atom(depth: number): Token {
    const text = this.text;
    let i = this.pos;
    while (i < text.length) {
      const c = text[i];
      if (c === ' ' || c === '(' || c === ')' || c === '"' || c === '{' || c.charCodeAt(0) < 0x20 || c === '\x7f') break;
      if (c === '[') break;
      i++;
    }
    const v = text.slice(this.pos, i);
    this.pos = i;
    if (text[i] === '[') {
      if (!v) throw new Bad('Unexpected [');
      // A section runs to its matching ']' (it may hold a list of header names).
      let j = i + 1;
      let nest = 0;
      for (; j < text.length; j++) {
        const c = text[j];
        if (c === '(') {
          if (++nest > 1) throw new Bad('Bad section');
        } else if (c === ')') nest--;
        else if (c === ']' && nest === 0) break;
      }
      if (j >= text.length || text.slice(i + 1, j).includes(' ') && !text.slice(i + 1, j).includes('(')) {
        // No section after all: '[' is an ordinary ATOM-CHAR (RFC 9051 §9), as in a mailbox
        // name like "a[b"; the atom runs to the next atom-special.
        let k = i;
        while (k < text.length && !' ()"{'.includes(text[k]) && text.charCodeAt(k) >= 0x20 && text[k] !== '\x7f') k++;
        this.pos = k;
        return { t: 'atom', v: text.slice(i - v.length, k) };
      }
      const section = text.slice(i + 1, j);
      this.pos = j + 1;
      let partial: [number, number] | undefined;
      if (text[this.pos] === '<') {
        const m = /^<(\d{1,15})\.(\d{1,15})>/.exec(text.slice(this.pos));
        if (!m) throw new Bad('Bad partial');
        partial = [Number(m[1]), Number(m[2])];
        if (partial[1] === 0) throw new Bad('Bad partial');
        this.pos += m[0].length;
      }
      // A literal cannot follow a section atom; any trailing atom characters are an error.
      if (this.pos < text.length && !' ()'.includes(text[this.pos])) throw new Bad('Bad section');
      void depth;
      return { t: 'atom', v, section, partial };
    }
    if (!v) throw new Bad(`Unexpected character ${JSON.stringify(text[i])}`);
    return { t: 'atom', v };
  }
}

/** Tokenises the arguments after the command name (and `UID`), given the command's segments. */
export function tokenize(segments: Segment[], skipHead: number): Token[] {
  const first = segments[0] as string;
  const segs = [...segments];
  segs[0] = first.slice(skipHead);
  return new Scanner(segs).tokens(0, null);
}

/** A cursor over a command's arguments. */
export class Args {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  next(): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new Bad('Missing argument');
    return t;
  }

  rest(): Token[] {
    const r = this.tokens.slice(this.i);
    this.i = this.tokens.length;
    return r;
  }

  end(): void {
    if (!this.done) throw new Bad('Too many arguments');
  }

  atom(): string {
    const t = this.next();
    if (t.t !== 'atom' || t.section !== undefined) throw new Bad('Expected an atom');
    return t.v;
  }

  /** astring: atom, quoted string or literal (RFC 9051 §9). */
  astring(): string {
    const t = this.next();
    if (t.t === 'atom' && t.section === undefined) return t.v;
    if (t.t === 'string') return t.v;
    throw new Bad('Expected a string');
  }

  /** A string with its bytes (APPEND's message). */
  bytes(): { data: Buffer; binary: boolean } {
    const t = this.next();
    if (t.t !== 'string') throw new Bad('Expected a literal');
    return { data: t.bytes ?? Buffer.from(t.v, 'utf8'), binary: !!t.binary };
  }

  number(): number {
    const v = this.atom();
    if (!/^\d{1,15}$/.test(v)) throw new Bad('Expected a number');
    return Number(v);
  }

  list(): Token[] {
    const t = this.next();
    if (t.t !== 'list') throw new Bad('Expected a list');
    return t.v;
  }

  /** The next token when it is a list, else undefined (nothing consumed). */
  optionalList(): Token[] | undefined {
    const t = this.peek();
    if (t?.t !== 'list') return undefined;
    this.i++;
    return t.v;
  }
}

export function atomOf(t: Token | undefined): string | undefined {
  return t?.t === 'atom' && t.section === undefined ? t.v : undefined;
}

export function stringOf(t: Token | undefined): string | undefined {
  if (!t) return undefined;
  if (t.t === 'string') return t.v;
  if (t.t === 'atom' && t.section === undefined) return t.v;
  return undefined;
}
