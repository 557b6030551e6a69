// Folder commands: LIST (RFC 9051 §6.3.9 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
// SPECIAL-USE RFC 6154), LSUB (RFC 3501 §6.3.9), STATUS (§6.3.11, STATUS=SIZE RFC 8438,
// HIGHESTMODSEQ RFC 7162), CREATE/DELETE/RENAME (§6.3.4–6), SUBSCRIBE/UNSUBSCRIBE, and QUOTA
// (GETQUOTA, GETQUOTAROOT, SETQUOTA; RFC 9208).
import { mailTransaction } from '../../mailstore/changes.ts';
import { type Folder, createFolder, deleteFolder, folderByName, listFolders, orphanSubscriptions, renameFolder, setSubscribed } from '../../mailstore/folders.ts';
import { quotaOf } from '../../mailstore/mailboxes.ts';
import { type Command, type Completion, type Session, no, ok } from '../session.ts';
import { folderStatus } from '../../mailstore/read.ts';
import { Bad, type Token, atomOf, stringOf } from '../syntax.ts';
import { mutf7Error } from '../utf7.ts';

const SPECIAL_USE_ATTR: Record<string, string> = { sent: '\\Sent', drafts: '\\Drafts', trash: '\\Trash', junk: '\\Junk', archive: '\\Archive' };

/** A LIST pattern ('*' matches anything, '%' anything but the delimiter) as a RegExp. */
function patternRegex(pattern: string): RegExp {
  let re = '^';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

interface ListEntry {
  name: string;
  folder: Folder | null;
  attrs: string[];
  childInfo?: string[];
}

const STATUS_ITEMS = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ', 'RECENT', 'APPENDLIMIT'];

function statusItems(tokens: Token[]): string[] {
  const items = tokens.map((t) => {
    const a = atomOf(t)?.toUpperCase();
    if (!a || !STATUS_ITEMS.includes(a)) throw new Bad('Unknown STATUS item');
    return a;
  });
  if (!items.length) throw new Bad('STATUS needs items');
  return items;
}

/** Messages no session has claimed as \Recent yet (RFC 3501 §6.3.10), i.e. above the folder's mark. */
async function recentCount(s: Session, folder: Folder): Promise<number> {
  const r = await s.core.db.selectFrom('messages').select((e) => e.fn.countAll<number>().as('n')).where('folder_id', '=', folder.id).where('uid', '>', Number(folder.recent_uid)).executeTakeFirst();
  return Number(r?.n ?? 0);
}

async function statusLine(s: Session, folder: Folder, items: string[]): Promise<string> {
  const needCounts = items.some((i) => ['MESSAGES', 'UNSEEN', 'DELETED', 'SIZE'].includes(i));
  const st = needCounts ? await folderStatus(s.core.db, s.mailbox!.id, folder.id) : null;
  const out: string[] = [];
  for (const i of items) {
    if (i === 'MESSAGES') out.push(`MESSAGES ${st!.messages}`);
    else if (i === 'UIDNEXT') out.push(`UIDNEXT ${folder.uid_next}`);
    else if (i === 'UIDVALIDITY') out.push(`UIDVALIDITY ${folder.uid_validity}`);
    else if (i === 'UNSEEN') out.push(`UNSEEN ${st!.unseen}`);
    else if (i === 'DELETED') out.push(`DELETED ${st!.deleted}`);
    else if (i === 'SIZE') out.push(`SIZE ${st!.size}`);
    else if (i === 'HIGHESTMODSEQ') out.push(`HIGHESTMODSEQ ${folder.highest_modseq}`);
    else if (i === 'RECENT') out.push(`RECENT ${await recentCount(s, folder)}`);
    else if (i === 'APPENDLIMIT') out.push(`APPENDLIMIT ${s.door.maxMessageBytes}`);
  }
  return out.join(' ');
}

function writeStatus(s: Session, name: string, line: string): void {
  const n = s.nameOut(name);
  s.untagged('STATUS ', n, ` (${line})`);
}

/** LIST and LSUB. */
export async function list(s: Session, cmd: Command): Promise<Completion> {
  const lsub = cmd.name === 'LSUB';
  const args = cmd.args;
  const selection = new Set<string>();
  const ret = new Set<string>();
  let statusReq: string[] | null = null;
  const sel = lsub ? undefined : args.optionalList();
  if (sel) for (const t of sel) selection.add((atomOf(t) ?? '').toUpperCase());
  for (const o of selection) if (!['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'].includes(o)) throw new Bad(`Unknown LIST selection option ${o}`);
  // RFC 5258 §3.1: RECURSIVEMATCH alone (or with only REMOTE) is a syntax error.
  if (selection.has('RECURSIVEMATCH') && ![...selection].some((o) => o !== 'RECURSIVEMATCH' && o !== 'REMOTE')) throw new Bad('RECURSIVEMATCH needs another selection option');
  const reference = s.nameIn(stringOf(args.next()) ?? '').replace(/^INBOX$/, 'INBOX');
  const patTok = args.next();
  const patterns: string[] = patTok.t === 'list' ? patTok.v.map((t) => stringOf(t) ?? '') : [stringOf(patTok) ?? ''];
  if (patTok.t === 'list' && !patterns.length) throw new Bad('Empty pattern list');
  if (!lsub && !args.done) {
    const kw = atomOf(args.next())?.toUpperCase();
    if (kw !== 'RETURN') throw new Bad('Expected RETURN');
    const opts = args.list();
    for (let i = 0; i < opts.length; i++) {
      const o = (atomOf(opts[i]) ?? '').toUpperCase();
      if (o === 'STATUS') {
        const items = opts[++i];
        if (items?.t !== 'list') throw new Bad('STATUS needs a list');
        statusReq = statusItems(items.v);
      } else if (['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE'].includes(o)) ret.add(o);
      else throw new Bad(`Unknown LIST return option ${o}`);
    }
  }
  args.end();

  // `LIST "" ""` asks for the delimiter and the root (RFC 9051 §6.3.9).
  if (patterns.length === 1 && patterns[0] === '') {
    s.untagged(lsub ? 'LSUB (\\Noselect) "/" ""' : 'LIST (\\Noselect) "/" ""');
    return ok(`${cmd.name} completed`);
  }

  const folders = await listFolders(s.core.db, s.mailbox!.id);
  const byName = new Map(folders.map((f) => [f.name, f]));
  // Subscribed names: folders' own and those kept after their folder was deleted (RFC 9051 §6.3.7).
  const subscribedNames = new Set([...folders.filter((f) => f.subscribed).map((f) => f.name), ...(await orphanSubscriptions(s.core.db, s.mailbox!.id))]);
  const withParents = (list: Iterable<string>) => {
    const out = new Set<string>();
    for (const n of list) {
      const parts = n.split('/');
      for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('/'));
    }
    return out;
  };
  // Every folder and every parent of one (a parent that is not a folder shows as \NonExistent).
  const existing = withParents(folders.map((f) => f.name));
  const hasChildren = (n: string) => [...existing].some((o) => o.startsWith(n + '/'));
  const regexes = patterns.map((p) => {
    const full = reference && !p.startsWith('/') ? (reference.endsWith('/') ? reference : reference + '/') + p : p;
    const decoded = s.nameIn(full);
    return { re: patternRegex(decoded), inbox: /^inbox$/i.test(decoded), percent: decoded.includes('%') };
  });
  const matches = (name: string) => regexes.some((r) => r.re.test(name) || (r.inbox && name === 'INBOX'));
  const subscribedOnly = lsub || selection.has('SUBSCRIBED');
  const recursive = selection.has('RECURSIVEMATCH');
  const specialOf = (f: Folder | null) => (f?.special_use ? SPECIAL_USE_ATTR[f.special_use] : undefined);
  /** Whether the name passes the selection options (RFC 5258 §3.1). */
  const selected = (name: string) => {
    if (subscribedOnly && !subscribedNames.has(name)) return false;
    if (selection.has('SPECIAL-USE') && !specialOf(byName.get(name) ?? null)) return false;
    return true;
  };
  const universe = subscribedOnly ? new Set([...existing, ...withParents(subscribedNames)]) : existing;
  const sorted = [...universe].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const entries: ListEntry[] = [];
  for (const name of sorted) {
    if (!matches(name)) continue;
    const folder = byName.get(name) ?? null;
    const subscribed = subscribedNames.has(name);
    if (lsub) {
      // RFC 3501 §6.3.9: a subscribed name; with '%', a level that is not subscribed but has
      // subscribed names below it is returned as \Noselect.
      if (subscribed) entries.push({ name, folder, attrs: folder ? [] : ['\\Noselect'] });
      else if (regexes.some((r) => r.percent && r.re.test(name)) && [...subscribedNames].some((n) => n.startsWith(name + '/'))) entries.push({ name, folder, attrs: ['\\Noselect'] });
      continue;
    }
    // RECURSIVEMATCH (RFC 5258 §3.5): CHILDINFO names the options a descendant meets when that
    // descendant is not itself returned (it does not match the patterns).
    const childInfo = recursive && sorted.some((d) => d.startsWith(name + '/') && selected(d) && !matches(d)) ? [...selection].filter((o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE') : undefined;
    if (!selected(name) && !childInfo) continue;
    const attrs: string[] = [];
    if (!folder) attrs.push(selection.size || ret.size ? '\\NonExistent' : '\\Noselect');
    if (existing.has(name) || ret.has('CHILDREN')) attrs.push(hasChildren(name) ? '\\HasChildren' : '\\HasNoChildren');
    if ((subscribedOnly || ret.has('SUBSCRIBED')) && subscribed) attrs.push('\\Subscribed');
    const special = specialOf(folder);
    if (special) attrs.push(special);
    entries.push({ name, folder, attrs, childInfo });
  }
  for (const e of entries) {
    const extra = e.childInfo ? ` ("CHILDINFO" ("${e.childInfo.join('" "')}"))` : '';
    s.untagged(`${lsub ? 'LSUB' : 'LIST'} (${e.attrs.join(' ')}) "/" `, s.nameOut(e.name), extra);
    if (statusReq && e.folder) writeStatus(s, e.name, await statusLine(s, e.folder, statusReq));
    await s.maybeFlush();
  }
  return ok(`${cmd.name} completed`);
}

export async function status(s: Session, cmd: Command): Promise<Completion> {
  const name = s.nameIn(cmd.args.astring());
  const items = statusItems(cmd.args.list());
  cmd.args.end();
  const folder = await folderByName(s.core.db, s.mailbox!.id, name);
  if (!folder) return no('No such mailbox', 'NONEXISTENT');
  writeStatus(s, folder.name, await statusLine(s, folder, items));
  return ok('STATUS completed');
}

export async function create(s: Session, cmd: Command): Promise<Completion> {
  const raw = cmd.args.astring();
  const name = s.nameIn(raw);
  // CREATE-SPECIAL-USE (RFC 6154 §3) is not offered: a trailing (USE …) list is refused.
  cmd.args.end();
  const bad = s.utf8 ? null : mutf7Error(raw);
  if (bad) return no(`Invalid mailbox name: not modified UTF-7 (${bad})`, 'CANNOT');
  if (name === 'INBOX') return no('INBOX always exists', 'ALREADYEXISTS');
  await mailTransaction(s.core, (tx, emit) => createFolder(s.core, tx, emit, s.mailbox!.id, name, { subscribed: false }));
  return ok('CREATE completed');
}

export async function del(s: Session, cmd: Command): Promise<Completion> {
  const name = s.nameIn(cmd.args.astring());
  cmd.args.end();
  if (name === 'INBOX') return no('INBOX cannot be deleted', 'CANNOT');
  await mailTransaction(s.core, (tx, emit) => deleteFolder(s.core, tx, emit, s.mailbox!.id, name));
  return ok('DELETE completed');
}

export async function rename(s: Session, cmd: Command): Promise<Completion> {
  const from = s.nameIn(cmd.args.astring());
  const rawTo = cmd.args.astring();
  const to = s.nameIn(rawTo);
  cmd.args.end();
  const bad = s.utf8 ? null : mutf7Error(rawTo);
  if (bad) return no(`Invalid mailbox name: not modified UTF-7 (${bad})`, 'CANNOT');
  await mailTransaction(s.core, (tx, emit) => renameFolder(s.core, tx, emit, s.mailbox!.id, from, to, { subscribed: false }));
  return ok('RENAME completed');
}

export async function subscribe(s: Session, cmd: Command): Promise<Completion> {
  const name = s.nameIn(cmd.args.astring());
  cmd.args.end();
  const on = cmd.name === 'SUBSCRIBE';
  await mailTransaction(s.core, (tx, emit) => setSubscribed(s.core, tx, emit, s.mailbox!.id, name, on));
  return ok(`${cmd.name} completed`);
}

// ---- QUOTA (RFC 9208): one root "" per mailbox, STORAGE in KiB ---------------------------------

async function quotaResponse(s: Session): Promise<void> {
  const mb = await s.core.db.selectFrom('mailboxes').selectAll().where('id', '=', s.mailbox!.id).executeTakeFirstOrThrow();
  const used = Math.ceil(Number(mb.used_bytes) / 1024);
  const limit = Math.floor(quotaOf(s.core, mb) / 1024);
  s.untagged(`QUOTA "" (STORAGE ${used} ${limit})`);
}

export async function getquotaroot(s: Session, cmd: Command): Promise<Completion> {
  const name = s.nameIn(cmd.args.astring());
  cmd.args.end();
  const folder = await folderByName(s.core.db, s.mailbox!.id, name);
  if (!folder) return no('No such mailbox', 'NONEXISTENT');
  s.untagged('QUOTAROOT ', s.nameOut(folder.name), ' ""');
  await quotaResponse(s);
  return ok('GETQUOTAROOT completed');
}

export async function getquota(s: Session, cmd: Command): Promise<Completion> {
  const root = cmd.args.astring();
  cmd.args.end();
  if (root !== '') return no('No such quota root', 'NONEXISTENT');
  await quotaResponse(s);
  return ok('GETQUOTA completed');
}

export async function setquota(_s: Session, _cmd: Command): Promise<Completion> {
  return no('Quotas are set by the administrator', 'NOPERM');
}

