// Changing messages: STORE (RFC 9051 §6.4.6, UNCHANGEDSINCE RFC 7162 §3.1.3), COPY (§6.4.7,
// COPYUID RFC 4315 §3), MOVE (RFC 6851) and APPEND (§6.3.12, APPENDUID RFC 4315, MULTIAPPEND
// RFC 3502, UTF8 RFC 6855 §4, APPENDLIMIT RFC 7889).
import { blobStore } from '../../outbound/accept.ts';
import { mailTransaction } from '../../mailstore/changes.ts';
import { folderByName } from '../../mailstore/folders.ts';
import { quotaAllows } from '../../mailstore/mailboxes.ts';
import { appendMessage, copyMessages, moveMessages, storeFlags } from '../../mailstore/messages.ts';
import { ParseRefusal, type ParsedMessage, parseMessage } from '../../mailstore/parse.ts';
import { parseSeqSet, compact, ordered } from '../sequence.ts';
import { type Command, type Completion, type Session, no, ok } from '../session.ts';
import { messagesByUids } from '../store-read.ts';
import { Bad, type Token, atomOf } from '../syntax.ts';

const SYSTEM: Record<string, string> = { '\\SEEN': '\\Seen', '\\ANSWERED': '\\Answered', '\\FLAGGED': '\\Flagged', '\\DELETED': '\\Deleted', '\\DRAFT': '\\Draft' };
const KEYWORD = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;

/** A flag as stored: system flags in their canonical case, keywords as written (RFC 9051 §2.3.2). */
export function parseFlag(t: Token): string {
  const a = atomOf(t);
  if (!a) throw new Bad('Bad flag');
  if (a.startsWith('\\')) {
    const sys = SYSTEM[a.toUpperCase()];
    // \Recent cannot be stored (RFC 3501 §2.3.2); other \-flags are not defined.
    if (!sys) throw new Bad(`Flag ${a.slice(0, 40)} cannot be stored`);
    return sys;
  }
  if (!KEYWORD.test(a) || a.length > 100) throw new Bad('Bad keyword');
  return a;
}

function flagList(tokens: Token[]): string[] {
  return [...new Set(tokens.map(parseFlag))];
}

export async function store(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  const set = parseSeqSet(cmd.args.atom());
  let unchangedSince: number | undefined;
  const mods = cmd.args.optionalList();
  if (mods) {
    if (mods.length !== 2 || atomOf(mods[0])?.toUpperCase() !== 'UNCHANGEDSINCE' || !/^\d{1,19}$/.test(atomOf(mods[1]) ?? '')) throw new Bad('Bad STORE modifier');
    unchangedSince = Number(atomOf(mods[1]));
    s.enableCondstore();
  }
  const op = cmd.args.atom().toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(op);
  if (!m) throw new Bad('Expected FLAGS, +FLAGS or -FLAGS');
  const rest = cmd.args.rest();
  const flags = flagList(rest.length === 1 && rest[0].t === 'list' ? rest[0].v : rest);
  if (!rest.length) throw new Bad('Missing flags');
  if (sel.readOnly) return no('The mailbox is read-only', 'READ-ONLY');
  const uids = s.uidsFor(set, cmd.uid);
  const mode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
  const silent = !!m[2];
  const result = uids.length
    ? await mailTransaction(s.core, (tx, emit) => storeFlags(s.core, tx, emit, { folderId: sel.folder.id, uids, mode, flags, unchangedSince, mailboxId: s.mailbox!.id }))
    : { updated: [], modified: [] };
  for (const u of result.updated) {
    const seq = sel.seqOf(u.uid);
    if (!seq) continue;
    if (u.changed) sel.reported.set(u.uid, u.modseq);
    const uidPart = cmd.uid || s.qresync ? `UID ${u.uid} ` : '';
    const modseq = s.condstore ? ` MODSEQ (${u.modseq})` : '';
    const shown = s.shownFlags(u.uid, u.flags);
    if (!silent) s.untagged(`${seq} FETCH (${uidPart}FLAGS (${shown.join(' ')})${modseq})`);
    // RFC 7162 §3.1.3: with UNCHANGEDSINCE, a changed message is reported with its MODSEQ even when silent.
    else if (unchangedSince !== undefined && u.changed) s.untagged(`${seq} FETCH (${uidPart}MODSEQ (${u.modseq}))`);
  }
  if (result.modified.length) {
    const list = cmd.uid ? result.modified : result.modified.map((u) => sel.seqOf(u)).filter((n) => n > 0);
    return ok('Some messages were modified since', `MODIFIED ${compact(list)}`);
  }
  return ok(`${cmd.uid ? 'UID ' : ''}STORE completed`);
}

/** COPY and MOVE. */
export async function copy(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  const set = parseSeqSet(cmd.args.atom());
  const name = s.nameIn(cmd.args.astring());
  cmd.args.end();
  const move = cmd.name === 'MOVE';
  if (move && sel.readOnly) return no('The mailbox is read-only', 'READ-ONLY');
  const dest = await folderByName(s.core.db, s.mailbox!.id, name);
  if (!dest) return no('No such mailbox', 'TRYCREATE');
  const uids = s.uidsFor(set, cmd.uid);
  if (!uids.length) return ok(`${cmd.name} completed`);
  if (!move) {
    const rows = await messagesByUids(s.core.db, sel.folder.id, uids, ['size']);
    const bytes = rows.reduce((n, r) => n + Number(r.size), 0);
    const mb = await s.core.db.selectFrom('mailboxes').selectAll().where('id', '=', s.mailbox!.id).executeTakeFirstOrThrow();
    if (!quotaAllows(s.core, mb, bytes)) return no('Over quota', 'OVERQUOTA');
  }
  const fn = move ? moveMessages : copyMessages;
  const res = await mailTransaction(s.core, (tx, emit) => fn(s.core, tx, emit, { fromFolderId: sel.folder.id, toFolderId: dest.id, uids, mailboxId: s.mailbox!.id, allowSameFolder: true }));
  if (!res.mapping.length) return ok(`${cmd.name} completed`);
  const code = `COPYUID ${res.uidValidity} ${ordered(res.mapping.map(([a]) => a))} ${ordered(res.mapping.map(([, b]) => b))}`;
  if (!move) return ok('COPY completed', code);
  // RFC 6851 §4.3: COPYUID in an untagged OK before the expunges.
  s.untagged(`OK [${code}] Moved`);
  s.expunged(res.mapping.map(([a]) => a));
  return ok(`${cmd.uid ? 'UID ' : ''}MOVE completed`);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** date-time (RFC 9051 §9): "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be space-padded). */
export function parseDateTime(text: string): number {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) throw new Bad('Bad date-time');
  const month = MONTHS.indexOf(m[2].toLowerCase());
  if (month < 0) throw new Bad('Bad date-time');
  const [d, y, hh, mm, ss, zh, zm] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(Number);
  if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59) throw new Bad('Bad date-time');
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm) * 60_000;
  return Date.UTC(y, month, d, hh, mm, Math.min(ss, 59)) - offset;
}

interface Incoming {
  flags: string[];
  date?: number;
  data: Buffer;
}

export async function append(s: Session, cmd: Command): Promise<Completion> {
  const name = s.nameIn(cmd.args.astring());
  const messages: Incoming[] = [];
  // MULTIAPPEND (RFC 3502): one or more [flags] [date-time] message groups.
  while (!cmd.args.done) {
    const msg: Incoming = { flags: [], data: Buffer.alloc(0) };
    const fl = cmd.args.optionalList();
    if (fl) msg.flags = flagList(fl);
    const next = cmd.args.peek();
    if (next?.t === 'string' && !next.literal) {
      msg.date = parseDateTime(next.v);
      cmd.args.next();
    }
    const body = cmd.args.peek();
    if (body?.t === 'atom' && body.v.toUpperCase() === 'UTF8') {
      // RFC 6855 §4: APPEND … UTF8 (~{n}…) carries a message with UTF-8 headers.
      cmd.args.next();
      const inner = cmd.args.list();
      if (inner.length !== 1 || inner[0].t !== 'string' || !inner[0].literal) throw new Bad('UTF8 takes one literal');
      msg.data = inner[0].bytes ?? Buffer.from(inner[0].v);
    } else {
      if (body?.t !== 'string' || !body.literal) throw new Bad('APPEND needs the message as a literal');
      msg.data = cmd.args.bytes().data;
    }
    messages.push(msg);
    if (messages.length > 1000) throw new Bad('Too many messages in one APPEND');
  }
  if (!messages.length) throw new Bad('APPEND needs a message');
  const folder = await folderByName(s.core.db, s.mailbox!.id, name);
  if (!folder) return no('No such mailbox', 'TRYCREATE');
  const total = messages.reduce((n, m) => n + m.data.length, 0);
  for (const m of messages) {
    if (m.data.length > s.door.maxMessageBytes) return no('Message too large', 'TOOBIG');
    if (m.data.length === 0) return no('Empty message', 'CANNOT');
  }
  const mb = await s.core.db.selectFrom('mailboxes').selectAll().where('id', '=', s.mailbox!.id).executeTakeFirstOrThrow();
  if (!quotaAllows(s.core, mb, total)) return no('Over quota', 'OVERQUOTA');
  // The bodies are fsynced before the rows are committed (the blob store's rule), outside the lock.
  const blobs = blobStore(s.core);
  const prepared: { blobId: string; parsed: ParsedMessage; m: Incoming }[] = [];
  for (const m of messages) {
    let parsed: ParsedMessage;
    try {
      parsed = await parseMessage(m.data);
    } catch (err) {
      if (err instanceof ParseRefusal) return no(`Message refused: ${err.message}`.slice(0, 200), 'PARSE');
      throw err;
    }
    prepared.push({ blobId: await blobs.put(m.data), parsed, m });
  }
  const now = s.core.clock.now();
  const appended = await mailTransaction(s.core, async (tx, emit) => {
    const current = await tx.selectFrom('mailboxes').selectAll().where('id', '=', s.mailbox!.id).executeTakeFirstOrThrow();
    const out = [];
    for (const p of prepared) {
      out.push(
        await appendMessage(s.core, tx, emit, {
          mailbox: current,
          folderId: folder.id,
          blobId: p.blobId,
          raw: p.m.data,
          size: p.m.data.length,
          parsed: p.parsed,
          internalDate: p.m.date ?? now,
          flags: p.m.flags,
          direction: folder.special_use === 'sent' || folder.special_use === 'drafts' ? 'outbound' : 'inbound',
        }),
      );
    }
    return out;
  });
  const uids = appended.map((a) => a.uid);
  return ok('APPEND completed', `APPENDUID ${appended[0].uidValidity} ${ordered(uids)}`);
}
