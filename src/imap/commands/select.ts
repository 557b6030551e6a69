// The selected state: SELECT/EXAMINE (RFC 9051 §6.3.2–3, CONDSTORE and QRESYNC parameters RFC
// 7162 §3.1.8 and §3.2.5), CLOSE, UNSELECT, CHECK, EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC
// 4315 §2.1), and IDLE (RFC 2177, RFC 9051 §6.3.13).
import { mailTransaction } from '../../mailstore/changes.ts';
import { claimRecent, folderByName } from '../../mailstore/folders.ts';
import { expungeMessages } from '../../mailstore/messages.ts';
import { parseSeqSet, resolve, compact, lowerBound, type SeqRange } from '../sequence.ts';
import { type Command, type Completion, type Session, Selected, no, ok } from '../session.ts';
import { changedSince, expungedSince, firstUnseenUid, folderKeywords, folderUids, imapFlags } from '../store-read.ts';
import { Bad, atomOf } from '../syntax.ts';

interface Qresync {
  uidValidity: number;
  modseq: number;
  known?: SeqRange[];
}

export async function select(s: Session, cmd: Command): Promise<Completion> {
  const readOnly = cmd.name === 'EXAMINE';
  const name = s.nameIn(cmd.args.astring());
  let condstore = false;
  let qresync: Qresync | null = null;
  const params = cmd.args.optionalList();
  cmd.args.end();
  for (let i = 0; params && i < params.length; i++) {
    const p = atomOf(params[i])?.toUpperCase();
    if (p === 'CONDSTORE') condstore = true;
    else if (p === 'QRESYNC') {
      const q = params[++i];
      if (q?.t !== 'list' || q.v.length < 2 || q.v.length > 4) throw new Bad('Bad QRESYNC parameter');
      const num = (t: (typeof q.v)[number]) => {
        const a = atomOf(t);
        if (!a || !/^\d{1,19}$/.test(a)) throw new Bad('Bad QRESYNC parameter');
        return Number(a);
      };
      qresync = { uidValidity: num(q.v[0]), modseq: num(q.v[1]) };
      if (q.v[2]) {
        const known = atomOf(q.v[2]);
        if (!known) throw new Bad('Bad QRESYNC known UIDs');
        const set = parseSeqSet(known);
        if (set === '$') throw new Bad('Bad QRESYNC known UIDs');
        qresync.known = set;
      }
      // The sequence-match data (4th element) only speeds up servers without expunge history; ours has it.
    } else throw new Bad('Unknown SELECT parameter');
  }
  // RFC 7162 §3.2.5: QRESYNC parameters without ENABLE QRESYNC are a protocol error.
  if (qresync && !s.qresync) return { status: 'BAD', text: 'ENABLE QRESYNC first' };

  if (s.selected) {
    s.deselect();
    // RFC 7162 §3.2.11, RFC 9051 §7.1: the old mailbox is closed before the new one's responses.
    s.untagged('OK [CLOSED] Previous mailbox is now closed');
  }
  const folder = await folderByName(s.core.db, s.mailbox!.id, name);
  if (!folder) return no('No such mailbox', 'NONEXISTENT');
  // SELECT (CONDSTORE) turns CONDSTORE on for the session (RFC 7162 §3.1.8).
  if (condstore) s.enabled.add('CONDSTORE');
  const highest = Number(folder.highest_modseq);
  const uids = await folderUids(s.core.db, folder.id);
  const sel = new Selected(folder, readOnly, uids, highest);
  // \Recent (RFC 3501 §2.3.2): SELECT claims what no session has seen yet; EXAMINE only looks.
  const last = uids.length ? uids[uids.length - 1] : 0;
  const mark = readOnly ? Number(folder.recent_uid) : await claimRecent(s.core.db, folder.id, last);
  for (let i = lowerBound(uids, mark + 1); i < uids.length; i++) sel.recent.add(uids[i]);
  for (const k of await folderKeywords(s.core.db, folder.id)) sel.keywords.add(k);

  s.untagged(`${uids.length} EXISTS`);
  if (!s.rev2) s.untagged(`${sel.recent.size} RECENT`);
  // The folder's keywords are in FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5, §6.3.2).
  s.announceFlags(sel);
  if (!s.rev2) {
    const unseen = await firstUnseenUid(s.core.db, folder.id);
    if (unseen !== null && sel.seqOf(unseen)) s.untagged(`OK [UNSEEN ${sel.seqOf(unseen)}] First unseen`);
  }
  s.untagged(`OK [UIDVALIDITY ${folder.uid_validity}] UIDs valid`);
  s.untagged(`OK [UIDNEXT ${folder.uid_next}] Predicted next UID`);
  s.untagged(`OK [HIGHESTMODSEQ ${highest}] Highest`);
  if (s.rev2) s.untagged('LIST () "/" ', s.nameOut(folder.name));

  if (qresync && qresync.uidValidity === Number(folder.uid_validity)) {
    // RFC 7162 §3.2.5.2: what vanished and what changed since the client's MODSEQ.
    let vanished = await expungedSince(s.core.db, folder.id, qresync.modseq);
    if (qresync.known) vanished = vanished.filter((u) => resolve(qresync!.known!, [u], true).length > 0);
    if (vanished.length) s.untagged(`VANISHED (EARLIER) ${compact(vanished)}`);
    for (const row of await changedSince(s.core.db, folder.id, qresync.modseq, highest)) {
      const seq = sel.seqOf(row.uid);
      if (!seq) continue;
      s.untagged(`${seq} FETCH (UID ${row.uid} FLAGS (${s.shownFlags(row.uid, imapFlags(row)).join(' ')}) MODSEQ (${row.modseq}))`);
      await s.maybeFlush();
    }
  }
  s.selected = sel;
  s.state = 'selected';
  return ok(`${cmd.name} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

export async function close(s: Session, cmd: Command): Promise<Completion> {
  cmd.args.end();
  const sel = s.selected!;
  // CLOSE expunges silently (RFC 9051 §6.4.1); UNSELECT does not.
  if (cmd.name === 'CLOSE' && !sel.readOnly) {
    await mailTransaction(s.core, (tx, emit) => expungeMessages(s.core, tx, emit, { folderId: sel.folder.id, mailboxId: s.mailbox!.id }));
  }
  s.deselect();
  return ok(`${cmd.name} completed`);
}

export async function check(_s: Session, cmd: Command): Promise<Completion> {
  cmd.args.end();
  return ok('CHECK completed');
}

export async function expunge(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  let uids: number[] | undefined;
  if (cmd.uid) {
    const set = parseSeqSet(cmd.args.atom());
    uids = set === '$' ? s.saved.filter((u) => sel.seqOf(u)) : resolve(set, sel.uids, true);
  }
  cmd.args.end();
  if (sel.readOnly) return no('The mailbox is read-only', 'READ-ONLY');
  if (uids && !uids.length) return ok('EXPUNGE completed');
  const removed = await mailTransaction(s.core, (tx, emit) => expungeMessages(s.core, tx, emit, { folderId: sel.folder.id, uids, mailboxId: s.mailbox!.id }));
  s.expunged(removed);
  return ok(`${cmd.uid ? 'UID ' : ''}EXPUNGE completed`);
}

export async function idle(s: Session, cmd: Command): Promise<Completion | void> {
  cmd.args.end();
  s.send('+ idling');
  await s.sync(true);
  await s.flush();
  const line = s.lineReader();
  let lineDone = false;
  void line.then(() => (lineDone = true));
  for (;;) {
    const winner = await Promise.race([line.then(() => 'line' as const), s.changed().then(() => 'change' as const)]);
    if (s.isClosed) return;
    if (winner === 'change' && !lineDone) {
      await s.sync(true);
      await s.flush();
      continue;
    }
    const got = await line;
    if (!got) {
      s.end();
      return;
    }
    if ('tooLong' in got || got.line.toString('latin1').trim().toUpperCase() !== 'DONE') return { status: 'BAD', text: 'Expected DONE' };
    return ok('IDLE terminated');
  }
}
