// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731, RETURN MIN MAX COUNT ALL),
// SAVE and "$" (SEARCHRES, RFC 5182), the MODSEQ criterion (RFC 7162 §3.1.5), and SORT (RFC 5256).
//
// Implementation notes:
// - The criteria become a tree first (syntax errors are BAD before anything is read), then the
//   folder's rows are read once and the tree is evaluated per row. Text criteria (SUBJECT, FROM,
//   TO, CC, BCC, BODY, TEXT) are answered by the mail store's full-text index (`searchText`: the
//   index narrows, the stored text is checked for the substring); other HEADER fields are read
//   from the messages themselves with the MIME indexer.
// - BEFORE/ON/SINCE compare the internal date's calendar day in UTC; SENTBEFORE/SENTON/SENTSINCE
//   the Date field's day in the field's own zone (RFC 9051 §6.4.4), ignoring the time.
// - FROM/TO/CC/BCC match a substring of the field as written or of any parsed address (name,
//   mailbox@host, group name); TEXT adds every header field to the indexed text. Both read the
//   stored header, as HEADER does; BODY and SUBJECT use the index alone unless it finds nothing
//   (see src/mailstore/search.ts).
// - CHARSET: UTF-8 and US-ASCII; anything else is NO [BADCHARSET (UTF-8 US-ASCII)].
import { blobStore } from '../../outbound/accept.ts';
import { type SearchField, searchText } from '../../mailstore/search.ts';
import { headerField, indexMime } from '../mime/index.ts';
import { parseAddressList } from '../mime/address.ts';
import { bytesToText, decodeWords } from '../mime/decode.ts';
import { headerLines, unfoldedValue } from '../mime/headers.ts';
import { type SeqSet, compact, contains, isSeqSet, parseSeqSet } from '../sequence.ts';
import { type Command, type Completion, type Session, no, ok } from '../session.ts';
import { messagesByUids } from '../store-read.ts';
import { threadReferences } from '../thread.ts';
import { Args, Bad, type Token, atomOf, stringOf } from '../syntax.ts';

type Crit =
  | { k: 'all' }
  | { k: 'none' }
  | { k: 'recent'; want: boolean }
  | { k: 'and'; v: Crit[] }
  | { k: 'or'; a: Crit; b: Crit }
  | { k: 'not'; v: Crit }
  | { k: 'flag'; col: 'seen' | 'answered' | 'flagged' | 'deleted' | 'draft'; want: boolean }
  | { k: 'keyword'; kw: string; want: boolean }
  | { k: 'set'; set: SeqSet; uid: boolean }
  | { k: 'text'; field: SearchField; needle: string; ids?: Set<string>; hits?: Set<number> }
  | { k: 'header'; name: string; needle: string; hits?: Set<number> }
  | { k: 'date'; sent: boolean; op: 'before' | 'on' | 'since'; day: number }
  | { k: 'size'; larger: boolean; n: number }
  | { k: 'modseq'; n: number }
  | { k: 'age'; older: boolean; seconds: number };

const FLAG_KEYS: Record<string, [Extract<Crit, { k: 'flag' }>['col'], boolean]> = {
  ANSWERED: ['answered', true], DELETED: ['deleted', true], DRAFT: ['draft', true], FLAGGED: ['flagged', true], SEEN: ['seen', true],
  UNANSWERED: ['answered', false], UNDELETED: ['deleted', false], UNDRAFT: ['draft', false], UNFLAGGED: ['flagged', false], UNSEEN: ['seen', false],
};
const TEXT_KEYS: Record<string, SearchField> = { SUBJECT: 'subject', FROM: 'from', TO: 'to', CC: 'cc', BCC: 'bcc', BODY: 'body', TEXT: 'text' };
const SYSTEM_FLAG_COLUMN: Record<string, Extract<Crit, { k: 'flag' }>['col']> = { '\\SEEN': 'seen', '\\ANSWERED': 'answered', '\\FLAGGED': 'flagged', '\\DELETED': 'deleted', '\\DRAFT': 'draft' };
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function parseDate(t: Token): number {
  const v = stringOf(t) ?? '';
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(v);
  const month = m ? MONTHS.indexOf(m[2].toLowerCase()) : -1;
  if (!m || month < 0) throw new Bad('Bad date');
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}

const dayOf = (ms: number) => Math.floor(ms / 86_400_000) * 86_400_000;

class CritParser {
  constructor(
    private readonly args: Args,
    private readonly depth = 0,
  ) {}

  all(): Crit {
    const out: Crit[] = [];
    while (!this.args.done) out.push(this.one());
    if (!out.length) throw new Bad('Missing search criteria');
    return out.length === 1 ? out[0] : { k: 'and', v: out };
  }

  private str(): string {
    const t = this.args.next();
    const v = stringOf(t);
    if (v === undefined) throw new Bad('Expected a string');
    return v;
  }

  private num(): number {
    const v = this.args.atom();
    if (!/^\d{1,19}$/.test(v)) throw new Bad('Expected a number');
    return Number(v);
  }

  one(): Crit {
    const t = this.args.next();
    if (t.t === 'list') {
      if (this.depth > 20) throw new Bad('Search criteria too deeply nested');
      return new CritParser(new Args(t.v), this.depth + 1).all();
    }
    const a = atomOf(t);
    if (!a) throw new Bad('Bad search key');
    const key = a.toUpperCase();
    if (isSeqSet(a)) return { k: 'set', set: parseSeqSet(a), uid: false };
    if (FLAG_KEYS[key]) return { k: 'flag', col: FLAG_KEYS[key][0], want: FLAG_KEYS[key][1] };
    if (TEXT_KEYS[key]) return { k: 'text', field: TEXT_KEYS[key], needle: this.str() };
    switch (key) {
      case 'ALL':
        return { k: 'all' };
      // \Recent in this session (RFC 3501 §6.4.4; IMAP4rev2 dropped the keys, IMAP4rev1 clients use them).
      case 'RECENT':
        return { k: 'recent', want: true };
      case 'OLD':
        return { k: 'recent', want: false };
      case 'NEW':
        return { k: 'and', v: [{ k: 'recent', want: true }, { k: 'flag', col: 'seen', want: false }] };
      case 'NOT':
        if (this.depth > 20) throw new Bad('Search criteria too deeply nested');
        return { k: 'not', v: new CritParser(this.args, this.depth + 1).one() };
      case 'OR': {
        if (this.depth > 20) throw new Bad('Search criteria too deeply nested');
        const p = new CritParser(this.args, this.depth + 1);
        return { k: 'or', a: p.one(), b: p.one() };
      }
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const kw = this.args.atom();
        const sys = SYSTEM_FLAG_COLUMN[kw.toUpperCase()];
        if (sys) return { k: 'flag', col: sys, want: key === 'KEYWORD' };
        return { k: 'keyword', kw, want: key === 'KEYWORD' };
      }
      case 'HEADER': {
        const name = this.str();
        const needle = this.str();
        const field = TEXT_KEYS[name.toUpperCase()];
        if (field && field !== 'body' && field !== 'text' && needle) return { k: 'text', field, needle };
        return { k: 'header', name, needle };
      }
      case 'BEFORE':
      case 'ON':
      case 'SINCE':
        return { k: 'date', sent: false, op: key.toLowerCase() as 'before', day: parseDate(this.args.next()) };
      case 'SENTBEFORE':
      case 'SENTON':
      case 'SENTSINCE':
        return { k: 'date', sent: true, op: key.slice(4).toLowerCase() as 'before', day: parseDate(this.args.next()) };
      case 'LARGER':
      case 'SMALLER':
        return { k: 'size', larger: key === 'LARGER', n: this.num() };
      case 'UID':
        return { k: 'set', set: parseSeqSet(this.args.atom()), uid: true };
      case 'MODSEQ': {
        // MODSEQ ["entry-name" entry-type] n (RFC 7162 §3.1.5): the entry is accepted and ignored.
        if (this.args.peek()?.t === 'string') {
          this.args.next();
          const type = this.args.atom().toLowerCase();
          if (!['priv', 'shared', 'all'].includes(type)) throw new Bad('Bad MODSEQ entry type');
        }
        return { k: 'modseq', n: this.num() };
      }
      case 'OLDER':
      case 'YOUNGER':
        return { k: 'age', older: key === 'OLDER', seconds: this.num() };
      default:
        throw new Bad(`Unknown search key ${a.slice(0, 40)}`);
    }
  }
}

interface Row {
  id: string;
  uid: number;
  modseq: number;
  size: number;
  internal_date: number;
  sent_date: number | null;
  seen: number;
  answered: number;
  flagged: number;
  deleted: number;
  draft: number;
  keywords: string;
}

function walk(c: Crit, fn: (c: Crit) => void): void {
  fn(c);
  if (c.k === 'and') c.v.forEach((x) => walk(x, fn));
  else if (c.k === 'or') (walk(c.a, fn), walk(c.b, fn));
  else if (c.k === 'not') walk(c.v, fn);
}

function test(c: Crit, r: Row, seq: number, ctx: { uids: number[]; saved: number[]; recent: ReadonlySet<number>; sentDay: ReadonlyMap<number, number>; now: number; kw: (r: Row) => string[] }): boolean {
  switch (c.k) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'recent':
      return ctx.recent.has(r.uid) === c.want;
    case 'and':
      return c.v.every((x) => test(x, r, seq, ctx));
    case 'or':
      return test(c.a, r, seq, ctx) || test(c.b, r, seq, ctx);
    case 'not':
      return !test(c.v, r, seq, ctx);
    case 'flag':
      return !!r[c.col] === c.want;
    case 'keyword': {
      const has = ctx.kw(r).some((k) => k.toLowerCase() === c.kw.toLowerCase());
      return has === c.want;
    }
    case 'set':
      if (c.set === '$') return ctx.saved.includes(r.uid);
      return c.uid ? contains(c.set, r.uid, ctx.uids[ctx.uids.length - 1] ?? 0) : contains(c.set, seq, ctx.uids.length);
    case 'text':
      return c.ids!.has(r.id) || !!c.hits?.has(r.uid);
    case 'header':
      return c.hits!.has(r.uid);
    case 'date': {
      const d = c.sent ? (ctx.sentDay.get(r.uid) ?? dayOf(r.sent_date ?? r.internal_date)) : dayOf(r.internal_date);
      return c.op === 'before' ? d < c.day : c.op === 'on' ? d === c.day : d >= c.day;
    }
    case 'size':
      return c.larger ? r.size > c.n : r.size < c.n;
    case 'modseq':
      return r.modseq >= c.n;
    case 'age':
      return c.older ? ctx.now - r.internal_date >= c.seconds * 1000 : ctx.now - r.internal_date <= c.seconds * 1000;
  }
}

/**
 * FROM/TO/CC/BCC "contains" (RFC 9051 §6.4.4) over the fields as written: the field text itself
 * (comments included), and each parsed address as display name, mailbox@host, and group name.
 */
function addressMatches(values: string[], needle: string): boolean {
  for (const v of values) {
    if (v.toLowerCase().includes(needle)) return true;
    for (const a of parseAddressList(v)) {
      const parts = [a.name ?? '', a.mailbox && a.host !== null ? `${a.mailbox}@${a.host}` : (a.mailbox ?? '')];
      if (parts.some((p) => p.toLowerCase().includes(needle))) return true;
    }
  }
  return false;
}

/** The zone of a Date field ("+0200", "EST", "GMT"…) in ms east of UTC; 0 when there is none. */
export function zoneOffsetMs(date: string): number {
  const v = date.replace(/\([^)]*\)/g, ' ').trim();
  const m = /([+-])(\d\d)(\d\d)\s*$/.exec(v);
  if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  const named: Record<string, number> = { EDT: -4, EST: -5, CDT: -5, CST: -6, MDT: -6, MST: -7, PDT: -7, PST: -8 };
  const z = /([A-Za-z]{2,3})\s*$/.exec(v)?.[1]?.toUpperCase();
  return z && named[z] !== undefined ? named[z] * 3_600_000 : 0;
}

/** Evaluates criteria over the selected folder; returns the matching rows in UID order. */
async function run(s: Session, crit: Crit): Promise<Row[]> {
  const sel = s.selected!;
  const db = s.core.db;
  const texts: Extract<Crit, { k: 'text' }>[] = [];
  const headers: Extract<Crit, { k: 'header' }>[] = [];
  walk(crit, (c) => {
    if (c.k === 'text') texts.push(c);
    if (c.k === 'header') headers.push(c);
  });
  for (const c of texts) {
    c.ids = c.needle ? await searchText(db, { mailboxId: s.mailbox!.id, folderId: sel.folder.id, field: c.field, needle: c.needle }) : undefined;
    // An empty string matches every message (every message has the field, if only empty).
    if (!c.needle) c.ids = new Set((await db.selectFrom('messages').select('id').where('folder_id', '=', sel.folder.id).execute()).map((r) => r.id));
  }
  const visible = sel.uids.filter((u) => !sel.deferred.has(u));
  const rows = (await messagesByUids(db, sel.folder.id, visible, ['id', 'modseq', 'size', 'internal_date', 'sent_date', 'seen', 'answered', 'flagged', 'deleted', 'draft', 'keywords'])) as Row[];
  // What only the message's own header can answer (read from the stored bytes, by batch):
  // HEADER fields; FROM/TO/CC/BCC as written (comments, groups, every address); TEXT's header part;
  // SENT* dates in the Date field's own zone.
  const addressTexts = texts.filter((c) => c.needle && (c.field === 'from' || c.field === 'to' || c.field === 'cc' || c.field === 'bcc'));
  const fullTexts = texts.filter((c) => c.needle && c.field === 'text');
  let sentDates = false;
  walk(crit, (c) => {
    if (c.k === 'date' && c.sent) sentDates = true;
  });
  const sentDay = new Map<number, number>();
  if (headers.length || addressTexts.length || fullTexts.length || sentDates) {
    for (const h of headers) h.hits = new Set();
    for (const c of [...addressTexts, ...fullTexts]) c.hits = new Set();
    const blobs = blobStore(s.core);
    const withBlob = await messagesByUids(db, sel.folder.id, visible, ['blob_id', 'sent_date']);
    for (let i = 0; i < withBlob.length; i += 32) {
      const batch = withBlob.slice(i, i + 32);
      const raws = await Promise.all(batch.map((r) => blobs.get(r.blob_id).catch(() => null)));
      batch.forEach((r, j) => {
        const raw = raws[j];
        if (!raw) return;
        const root = indexMime(raw);
        for (const h of headers) {
          const values = headerField(root, raw, h.name);
          const needle = h.needle.toLowerCase();
          if (values.length && values.some((v) => v.toLowerCase().includes(needle))) h.hits!.add(r.uid);
        }
        for (const c of addressTexts) if (addressMatches(headerField(root, raw, c.field), c.needle.toLowerCase())) c.hits!.add(r.uid);
        if (fullTexts.length) {
          const head = headerLines(raw, root)
            .map((l) => decodeWords(bytesToText(unfoldedValue(raw, l))))
            .join('\n')
            .toLowerCase();
          for (const c of fullTexts) if (head.includes(c.needle.toLowerCase())) c.hits!.add(r.uid);
        }
        if (sentDates && r.sent_date !== null) {
          const offset = zoneOffsetMs(headerField(root, raw, 'date')[0] ?? '');
          sentDay.set(r.uid, dayOf(Number(r.sent_date) + offset));
        }
      });
    }
  }
  const kwCache = new Map<string, string[]>();
  const ctx = {
    uids: sel.uids,
    saved: s.saved,
    recent: sel.recent,
    sentDay,
    now: s.core.clock.now(),
    kw: (r: Row) => {
      let k = kwCache.get(r.keywords);
      if (!k) {
        try {
          k = JSON.parse(r.keywords || '[]') as string[];
        } catch {
          k = [];
        }
        kwCache.set(r.keywords, k);
      }
      return k;
    },
  };
  return rows.filter((r) => test(crit, r, sel.seqOf(r.uid), ctx));
}

/** RETURN (…) and CHARSET, common to SEARCH and the search part of SORT. */
function charsetOk(charset: string | undefined): boolean {
  return charset === undefined || ['UTF-8', 'US-ASCII', 'UTF8'].includes(charset.toUpperCase());
}

export async function search(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  let ret: Set<string> | null = null;
  if (atomOf(cmd.args.peek())?.toUpperCase() === 'RETURN') {
    cmd.args.next();
    ret = new Set(cmd.args.list().map((t) => (atomOf(t) ?? '').toUpperCase()));
    for (const r of ret) if (!['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'].includes(r)) throw new Bad(`Unknown RETURN option ${r.slice(0, 20)}`);
    if (!ret.size) ret.add('ALL');
  }
  let charset: string | undefined;
  if (atomOf(cmd.args.peek())?.toUpperCase() === 'CHARSET') {
    cmd.args.next();
    charset = cmd.args.astring();
  }
  const crit = new CritParser(cmd.args).all();
  if (!charsetOk(charset)) return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  let usesModseq = false;
  walk(crit, (c) => {
    if (c.k === 'modseq') usesModseq = true;
  });
  if (usesModseq) s.enableCondstore();
  const rows = await run(s, crit);
  const nums = rows.map((r) => (cmd.uid ? r.uid : sel.seqOf(r.uid)));
  const maxModseq = rows.reduce((m, r) => Math.max(m, r.modseq), 0);
  if (ret?.has('SAVE')) s.saved = rows.map((r) => r.uid);
  if (ret === null && !s.rev2) {
    s.untagged(`SEARCH${nums.length ? ' ' + nums.join(' ') : ''}${usesModseq && nums.length ? ` (MODSEQ ${maxModseq})` : ''}`);
    return ok(`${cmd.uid ? 'UID ' : ''}SEARCH completed`);
  }
  const opts = ret ?? new Set(['ALL']);
  // RFC 5182 §2.1: SAVE alone returns no ESEARCH.
  if (opts.size === 1 && opts.has('SAVE')) return ok(`${cmd.uid ? 'UID ' : ''}SEARCH completed`);
  // RFC 7162 §3.1.5: with only MIN and/or MAX, the MODSEQ is the highest of the messages returned.
  let modseq = maxModseq;
  if (!opts.has('ALL') && !opts.has('COUNT') && rows.length) {
    const picked = [];
    if (opts.has('MIN')) picked.push(rows[nums.indexOf(Math.min(...nums))]);
    if (opts.has('MAX')) picked.push(rows[nums.indexOf(Math.max(...nums))]);
    modseq = picked.reduce((m, r) => Math.max(m, r.modseq), 0);
  }
  s.untagged(esearch(cmd.tag, cmd.uid, nums, opts, usesModseq ? modseq : 0));
  return ok(`${cmd.uid ? 'UID ' : ''}SEARCH completed`);
}

function esearch(tag: string, uid: boolean, nums: number[], opts: Set<string>, modseq: number): string {
  let line = `ESEARCH (TAG "${tag.replace(/[\\"]/g, '\\$&')}")${uid ? ' UID' : ''}`;
  if (nums.length) {
    if (opts.has('MIN')) line += ` MIN ${Math.min(...nums)}`;
    if (opts.has('MAX')) line += ` MAX ${Math.max(...nums)}`;
  }
  if (opts.has('COUNT')) line += ` COUNT ${nums.length}`;
  if (opts.has('ALL') && nums.length) line += ` ALL ${compact(nums)}`;
  if (modseq && nums.length) line += ` MODSEQ ${modseq}`;
  return line;
}

// ---- SORT (RFC 5256 §3) ---------------------------------------------------------------------

const SORT_KEYS = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAY']);

const BLOB = /^\[[^[\]]*\][ \t]*/;
const LEADER = /^(?:\[[^[\]]*\][ \t]*)*(?:re|fwd?)[ \t]*(?:\[[^[\]]*\][ \t]*)?:/i;

/**
 * RFC 5256 §2.1 base subject, exactly: white space collapsed, "(fwd)" trailers, then "Re:"/"Fw:"/
 * "Fwd:" leaders with their [blobs] and a leading [blob] that leaves something, repeated; a whole
 * "[fwd: …]" unwrapped and everything again. Upper-cased: i;ascii-casemap compares that way
 * (RFC 4790 §9.2), so "C" < "[xyz]" < "_".
 */
export function baseSubject(subject: string | null): string {
  return subjectBase(subject).base;
}

/** The base subject, and whether a reply or forward marker was removed to get it (RFC 5256 §2.1). */
export function subjectBase(subject: string | null): { base: string; reply: boolean } {
  let reply = false;
  let s = (subject ?? '').replace(/[ \t\r\n]+/g, ' ');
  for (let outer = 0; outer < 100; outer++) {
    // (2) trailers: "(fwd)" and white space at the end.
    for (let t = 0; t < 100; t++) {
      const next = s.replace(/(?:[ \t]|\(fwd\))$/i, '');
      if (next === s) break;
      if (/\(fwd\)$/i.test(s)) reply = true;
      s = next;
    }
    // (3)-(5) leaders and leading blobs until none is left.
    for (let l = 0; l < 1000; l++) {
      const before = s;
      s = s.replace(/^[ \t]+/, '');
      const m = LEADER.exec(s);
      if (m) {
        s = s.slice(m[0].length);
        reply = true;
      }
      else {
        const b = BLOB.exec(s);
        if (b && s.length > b[0].length) s = s.slice(b[0].length);
      }
      if (s === before) break;
    }
    // (6) "[fwd: …]" unwrapped, then from (2) again.
    if (/^\[fwd:/i.test(s) && s.endsWith(']')) {
      s = s.slice(5, -1);
      reply = true;
      continue;
    }
    break;
  }
  return { base: s.toUpperCase(), reply };
}

/** The first address of an address field as SORT wants it (RFC 5256 §3: addr-mailbox; RFC 5957 DISPLAY). */
function firstAddress(values: string[], display: boolean): string {
  const a = values.length ? parseAddressList(values[0])[0] : undefined;
  if (!a) return '';
  if (display) return (a.name ? decodeWords(a.name) : a.mailbox && a.host !== null ? `${a.mailbox}@${a.host}` : (a.mailbox ?? '')).toUpperCase();
  return (a.mailbox ?? '').toUpperCase();
}

export async function sort(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  const keys = cmd.args.list().map((t) => (atomOf(t) ?? '').toUpperCase());
  const charset = cmd.args.astring();
  const crit = new CritParser(cmd.args).all();
  const spec: { key: string; reverse: boolean }[] = [];
  for (let i = 0; i < keys.length; i++) {
    const reverse = keys[i] === 'REVERSE';
    const key = reverse ? keys[++i] : keys[i];
    if (!key || !SORT_KEYS.has(key)) throw new Bad('Bad sort key');
    spec.push({ key, reverse });
  }
  if (!spec.length) throw new Bad('Missing sort keys');
  if (!charsetOk(charset)) return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  const rows = await run(s, crit);
  const meta = new Map((await messagesByUids(s.core.db, sel.folder.id, rows.map((r) => r.uid), ['subject', 'blob_id'])).map((m) => [m.uid, m]));
  // Address keys come from the fields as written (groups included), read from the stored header.
  const addressKeys = spec.filter((k) => ['FROM', 'TO', 'CC', 'DISPLAY'].includes(k.key)).map((k) => k.key);
  const addr = new Map<string, string>();
  if (addressKeys.length) {
    const blobs = blobStore(s.core);
    for (const r of rows) {
      const raw = await blobs.get(meta.get(r.uid)?.blob_id ?? '').catch(() => null);
      const root = raw ? indexMime(raw) : null;
      for (const key of addressKeys) {
        const field = key === 'DISPLAY' ? 'from' : key.toLowerCase();
        addr.set(`${r.uid} ${key}`, root && raw ? firstAddress(headerField(root, raw, field), key === 'DISPLAY') : '');
      }
    }
  }
  const subjects = new Map<number, string>();
  const value = (r: Row, key: string): string | number => {
    switch (key) {
      case 'ARRIVAL':
        return r.internal_date;
      case 'DATE':
        return r.sent_date ?? r.internal_date;
      case 'SIZE':
        return r.size;
      case 'SUBJECT': {
        let v = subjects.get(r.uid);
        if (v === undefined) subjects.set(r.uid, (v = baseSubject(meta.get(r.uid)?.subject ?? null)));
        return v;
      }
      default:
        return addr.get(`${r.uid} ${key}`) ?? '';
    }
  };
  rows.sort((a, b) => {
    for (const { key, reverse } of spec) {
      const va = value(a, key);
      const vb = value(b, key);
      const c = va < vb ? -1 : va > vb ? 1 : 0;
      if (c) return reverse ? -c : c;
    }
    return a.uid - b.uid;
  });
  const nums = rows.map((r) => (cmd.uid ? r.uid : sel.seqOf(r.uid)));
  s.untagged(`SORT${nums.length ? ' ' + nums.join(' ') : ''}`);
  return ok(`${cmd.uid ? 'UID ' : ''}SORT completed`);
}

/** THREAD (RFC 5256 §3): ORDEREDSUBJECT, and REFERENCES by the RFC's algorithm (thread.ts). */
export async function thread(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  const algo = cmd.args.atom().toUpperCase();
  const charset = cmd.args.astring();
  const crit = new CritParser(cmd.args).all();
  if (algo !== 'ORDEREDSUBJECT' && algo !== 'REFERENCES') return no('Unknown threading algorithm', 'CANNOT');
  if (!charsetOk(charset)) return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  const rows = await run(s, crit);
  const n = (r: Row) => (cmd.uid ? r.uid : sel.seqOf(r.uid));
  const date = (r: Row) => r.sent_date ?? r.internal_date;
  const meta = new Map(
    (await messagesByUids(s.core.db, sel.folder.id, rows.map((r) => r.uid), ['subject', 'message_id', 'in_reply_to', 'references_json'])).map((m) => [m.uid, m]),
  );
  let text: string;
  if (algo === 'REFERENCES') {
    text = threadReferences(
      rows.map((r) => {
        const m = meta.get(r.uid);
        let references: string[] = [];
        try {
          const v = JSON.parse(m?.references_json ?? '[]');
          if (Array.isArray(v)) references = v.filter((x): x is string => typeof x === 'string');
        } catch {
          references = [];
        }
        return { n: n(r), messageId: m?.message_id ?? null, references, inReplyTo: m?.in_reply_to ?? null, ...subjectBase(m?.subject ?? null), date: date(r) };
      }),
    );
  } else {
    // ORDEREDSUBJECT (RFC 5256 §3): by base subject, each thread flat under its first message.
    const groups = new Map<string, Row[]>();
    for (const r of rows) {
      const key = baseSubject(meta.get(r.uid)?.subject ?? null);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(r);
    }
    const threads = [...groups.values()].map((g) => g.sort((a, b) => date(a) - date(b) || a.uid - b.uid));
    threads.sort((a, b) => date(a[0]) - date(b[0]) || a[0].uid - b[0].uid);
    text = threads.map((t) => (t.length === 1 ? `(${n(t[0])})` : t.length === 2 ? `(${n(t[0])} ${n(t[1])})` : `(${n(t[0])} ${t.slice(1).map((r) => `(${n(r)})`).join('')})`)).join('');
  }
  s.untagged(`THREAD${text ? ' ' + text : ''}`);
  return ok(`${cmd.uid ? 'UID ' : ''}THREAD completed`);
}
