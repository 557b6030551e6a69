// RFC 5322 §3.4 address lists (with the obsolete forms of §4.4) parsed into the IMAP address
// structure (RFC 9051 §7.5.2 ENVELOPE): name, source route (adl), mailbox, host; group syntax as
// a start marker (NIL NIL name NIL) and an end marker (NIL NIL NIL NIL).
//
// Implementation notes:
// - Works on a latin1 string (one char per byte) so 8-bit bytes come back unchanged; the caller
//   turns strings back into bytes with latin1. Encoded words (RFC 2047) are left as they are.
// - Tolerant and total: never throws, linear in the input; junk that is no address is dropped,
//   an address without a domain keeps host "" (NIL would mean a group marker).

export interface ImapAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

type Tok = { k: 'atom' | 'qs' | 'dlit' | 'comment' | 'sp'; v: string } | { k: 'ch'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        if (s[i] !== '\r' && s[i] !== '\n') v += s[i];
        i++;
      }
      i++;
      out.push({ k: 'qs', v });
    } else if (c === '(') {
      let depth = 0;
      let v = '';
      while (i < s.length) {
        const d = s[i];
        if (d === '\\' && i + 1 < s.length) {
          v += s[i + 1];
          i += 2;
          continue;
        }
        i++;
        if (d === '(') {
          if (depth++ > 0) v += d;
        } else if (d === ')') {
          if (--depth === 0) break;
          v += d;
        } else v += d;
      }
      out.push({ k: 'comment', v });
    } else if (c === '[') {
      const end = s.indexOf(']', i);
      const stop = end < 0 ? s.length : end + 1;
      out.push({ k: 'dlit', v: s.slice(i, stop) });
      i = stop;
    } else if ('<>@,;:.'.includes(c)) {
      out.push({ k: 'ch', v: c });
      i++;
    } else {
      const start = i;
      while (i < s.length && !' \t\r\n"()[]<>@,;:.'.includes(s[i])) i++;
      if (i === start) {
        // a stray ")" or "]": a special of its own (and the loop must always move on)
        out.push({ k: 'ch', v: c });
        i++;
      } else out.push({ k: 'atom', v: s.slice(start, i) });
    }
  }
  return out;
}

function isCh(t: Tok | undefined, c: string): boolean {
  return !!t && t.k === 'ch' && t.v === c;
}

/** Phrase (display name): words separated by single spaces; '.' kept (obs-phrase). */
function phrase(toks: Tok[]): string | null {
  const words: string[] = [];
  for (const t of toks) {
    if (t.k === 'atom' || t.k === 'qs') words.push(t.v);
    else if (t.k === 'ch' && t.v === '.' && words.length) words[words.length - 1] += '.';
  }
  return words.length ? words.join(' ') : null;
}

function quoteLocal(v: string): string {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff]+)*$/.test(v)
    ? v
    : '"' + v.replace(/[\\"]/g, '\\$&') + '"';
}

/** addr-spec tokens → [mailbox, host]. */
function addrSpec(toks: Tok[]): [string, string] | null {
  const at = toks.findIndex((t) => isCh(t, '@'));
  const localToks = (at < 0 ? toks : toks.slice(0, at)).filter((t) => t.k !== 'comment');
  const domToks = at < 0 ? [] : toks.slice(at + 1).filter((t) => t.k !== 'comment');
  let local = '';
  for (const t of localToks) {
    if (t.k === 'qs') local += localToks.length === 1 ? quoteLocal(t.v) : t.v;
    else if (t.k === 'atom' || (t.k === 'ch' && t.v === '.')) local += t.v;
    else if (t.k === 'ch') local += t.v;
  }
  let host = '';
  for (const t of domToks) {
    if (t.k === 'atom' || t.k === 'dlit' || (t.k === 'ch' && t.v === '.')) host += t.v;
  }
  if (!local && !host) return null;
  return [local, host];
}

function mailbox(toks: Tok[]): ImapAddress | null {
  const lt = toks.findIndex((t) => isCh(t, '<'));
  if (lt >= 0) {
    let gt = toks.findIndex((t, j) => j > lt && isCh(t, '>'));
    if (gt < 0) gt = toks.length;
    const name = phrase(toks.slice(0, lt).filter((t) => t.k !== 'comment'));
    let inner = toks.slice(lt + 1, gt);
    // obs-route: "@a,@b:" before the addr-spec
    let adl: string | null = null;
    const colon = inner.findIndex((t) => isCh(t, ':'));
    if (colon >= 0 && isCh(inner[0], '@')) {
      adl = inner
        .slice(0, colon)
        .map((t) => t.v)
        .join('');
      inner = inner.slice(colon + 1);
    }
    const spec = addrSpec(inner);
    if (!spec) {
      // "<>" (null return path) or junk: keep a name-only entry only when there is a name
      if (!name) return null;
      return { name, adl, mailbox: '', host: '' };
    }
    return { name, adl, mailbox: spec[0], host: spec[1] };
  }
  const spec = addrSpec(toks);
  if (!spec) return null;
  // obs: "user@host (Real Name)": the trailing comment is the name
  const comments = toks.filter((t) => t.k === 'comment' && t.v.trim());
  const name = comments.length ? comments[comments.length - 1].v.trim() : null;
  return { name, adl: null, mailbox: spec[0], host: spec[1] };
}

const MAX_ADDRESSES = 10_000;

/** Parses an unfolded address-list header value (latin1 string). */
export function parseAddressList(value: string): ImapAddress[] {
  const toks = tokenize(value);
  const out: ImapAddress[] = [];
  let inGroup = false;
  let i = 0;
  while (i < toks.length && out.length < MAX_ADDRESSES) {
    const t = toks[i];
    if (isCh(t, ',')) {
      i++;
      continue;
    }
    if (isCh(t, ';')) {
      if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
      inGroup = false;
      i++;
      continue;
    }
    // one segment: up to a top-level ',' or ';' (angle brackets protect ',' and ':' in routes)
    let j = i;
    let angle = false;
    let groupColon = -1;
    for (; j < toks.length; j++) {
      const u = toks[j];
      if (u.k !== 'ch') continue;
      if (u.v === '<') angle = true;
      else if (u.v === '>') angle = false;
      else if (!angle && (u.v === ',' || u.v === ';')) break;
      else if (!angle && u.v === ':' && !inGroup && groupColon < 0) {
        groupColon = j;
        break;
      }
    }
    if (groupColon >= 0) {
      const name = phrase(toks.slice(i, groupColon).filter((x) => x.k !== 'comment')) ?? '';
      out.push({ name: null, adl: null, mailbox: name, host: null });
      inGroup = true;
      i = groupColon + 1;
      continue;
    }
    const a = mailbox(toks.slice(i, j));
    if (a) out.push(a);
    i = j;
  }
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}
