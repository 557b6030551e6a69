// Sessions on the same mailbox: each sees the others' changes (EXISTS, FETCH FLAGS, EXPUNGE or
// VANISHED) at its next command and during IDLE, never an EXPUNGE while answering FETCH/STORE/
// SEARCH, and two sessions agree after concurrent STORE and EXPUNGE. Also MOVE, UID EXPUNGE,
// CONDSTORE (UNCHANGEDSINCE, MODIFIED) and QRESYNC SELECT as raw transcripts.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mailTransaction } from '../mailstore/changes.ts';
import { createFolder, deleteFolder } from '../mailstore/folders.ts';
import { type ImapWorld, RawImap, deliver, rawMessage, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
let folder = '';
let n = 0;

beforeAll(async () => {
  w = await startImapWorld();
});
afterAll(async () => {
  await w?.stop();
});

/** Each test gets a fresh folder with `count` messages; returns their UIDs. */
async function freshFolder(count: number): Promise<number[]> {
  folder = `T${++n}`;
  await mailTransaction(w.core, (tx, emit) => createFolder(w.core, tx, emit, w.box.mailbox.id, folder));
  const uids: number[] = [];
  for (let i = 1; i <= count; i++) uids.push((await deliver(w, rawMessage({ subject: `${folder}-${i}` }), { folder })).uid);
  // A first SELECT claims them as \Recent (RFC 3501 §2.3.2), so the transcripts below show none.
  await w.core.db.updateTable('folders').set({ recent_uid: uids[uids.length - 1] ?? 0 }).where('mailbox_id', '=', w.box.mailbox.id).where('name', '=', folder).execute();
  return uids;
}

async function session(opts: { enable?: string } = {}): Promise<RawImap> {
  const c = await RawImap.connect(w.plain.port);
  await c.cmd('L', `LOGIN ${w.address} ${w.password}`);
  if (opts.enable) await c.cmd('E', `ENABLE ${opts.enable}`);
  return c;
}

let open: RawImap[] = [];
beforeEach(() => {
  for (const c of open) c.close();
  open = [];
});
async function selected(opts: { enable?: string } = {}): Promise<RawImap> {
  const c = await session(opts);
  open.push(c);
  expect(await c.cmd('S', `SELECT ${folder}`)).toMatch(/S OK \[READ-WRITE\]/);
  return c;
}

describe('two sessions on one folder', () => {
  it('see flag changes, new messages and expunges at the next command', async () => {
    const uids = await freshFolder(3);
    const a = await selected();
    const b = await selected();
    expect(await a.cmd('a1', 'STORE 2 +FLAGS.SILENT (\\Deleted)')).toBe('a1 OK STORE completed\r\n');
    expect(await b.cmd('b1', 'NOOP')).toBe(`* 2 FETCH (UID ${uids[1]} FLAGS (\\Deleted))\r\nb1 OK NOOP completed\r\n`);
    expect(await a.cmd('a2', 'EXPUNGE')).toBe('* 2 EXPUNGE\r\na2 OK EXPUNGE completed\r\n');
    // RFC 9051 §7.5.1: no EXPUNGE while answering FETCH; the message keeps its number meanwhile.
    expect(await b.cmd('b2', 'FETCH 1:* (UID)')).toBe(`* 1 FETCH (UID ${uids[0]})\r\n* 3 FETCH (UID ${uids[2]})\r\nb2 OK FETCH completed\r\n`);
    expect(await b.cmd('b3', 'SEARCH ALL')).toBe('* SEARCH 1 3\r\nb3 OK SEARCH completed\r\n');
    expect(await b.cmd('b4', 'NOOP')).toBe('* 2 EXPUNGE\r\nb4 OK NOOP completed\r\n');
    expect(await b.cmd('b5', 'FETCH 1:* (UID)')).toBe(`* 1 FETCH (UID ${uids[0]})\r\n* 2 FETCH (UID ${uids[2]})\r\nb5 OK FETCH completed\r\n`);
    const added = await deliver(w, rawMessage({ subject: 'late' }), { folder });
    // The first session to see the new message has it as \Recent, the other does not.
    expect(await a.cmd('a3', 'NOOP')).toBe('* 3 EXISTS\r\n* 1 RECENT\r\na3 OK NOOP completed\r\n');
    // UID FETCH may carry the EXISTS (and EXPUNGE) responses.
    expect(await b.cmd('b6', `UID FETCH ${added.uid} (UID)`)).toBe(`* 3 EXISTS\r\n* 0 RECENT\r\n* 3 FETCH (UID ${added.uid})\r\nb6 OK UID FETCH completed\r\n`);
  });

  it('agree after concurrent STOREs and EXPUNGEs', async () => {
    await freshFolder(20);
    const a = await selected();
    const b = await selected();
    const work: Promise<string>[] = [];
    for (let i = 1; i <= 20; i++) {
      const c = i % 2 ? a : b;
      work.push(c.cmd(`s${i}`, `STORE ${i} +FLAGS (${i % 3 ? '\\Deleted' : '\\Flagged'} $K${i % 4})`));
    }
    // Commands on one connection run in order; the two connections interleave in the store.
    await Promise.all(work);
    const ea = a.cmd('ea', 'EXPUNGE');
    const eb = b.cmd('eb', 'EXPUNGE');
    await Promise.all([ea, eb]);
    await a.cmd('na', 'NOOP');
    await b.cmd('nb', 'NOOP');
    const fa = await a.cmd('fa', 'FETCH 1:* (UID FLAGS)');
    const fb = await b.cmd('fb', 'FETCH 1:* (UID FLAGS)');
    expect(fa.replace(/^fa /m, 'X ')).toBe(fb.replace(/^fb /m, 'X '));
    // The messages left are exactly those without \Deleted (i % 3 === 0): 3, 6, …, 18.
    expect([...fa.matchAll(/FLAGS \(([^)]*)\)/g)].length).toBe(6);
    expect(fa).not.toContain('\\Deleted');
    const st = await a.cmd('st', `STATUS ${folder} (MESSAGES)`);
    expect(st).toContain('(MESSAGES 6)');
  });

  it('IDLE is woken by a delivery and by another session\'s STORE', async () => {
    const uids = await freshFolder(2);
    const a = await selected();
    const b = await selected();
    a.write('i IDLE\r\n');
    expect(await a.line()).toBe('+ idling');
    await deliver(w, rawMessage({ subject: 'pushed' }), { folder });
    expect(await a.line()).toBe('* 3 EXISTS');
    expect(await a.line()).toBe('* 1 RECENT');
    await b.cmd('b1', 'STORE 1 +FLAGS (\\Answered)');
    expect(await a.line()).toBe(`* 1 FETCH (UID ${uids[0]} FLAGS (\\Answered))`);
    await b.cmd('b2', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    // a's FETCH is awaited before b expunges: a session that catches up only after both changes
    // may legitimately report the EXPUNGE alone (the flag change of a message that is gone is moot).
    expect(await a.line()).toBe(`* 2 FETCH (UID ${uids[1]} FLAGS (\\Deleted))`);
    await b.cmd('b3', 'EXPUNGE');
    expect(await a.line()).toBe('* 2 EXPUNGE');
    a.write('DONE\r\n');
    expect(await a.until('i')).toBe('i OK IDLE terminated\r\n');
  });

  it('a folder deleted under a session ends it with BYE', async () => {
    await freshFolder(1);
    const a = await selected();
    await mailTransaction(w.core, (tx, emit) => deleteFolder(w.core, tx, emit, w.box.mailbox.id, folder));
    a.write('x NOOP\r\n');
    await a.waitFor((buf) => buf.includes('* BYE The selected mailbox was deleted\r\n'));
    await a.waitFor(() => a.closed);
  });
});

describe('MOVE, UIDPLUS, CONDSTORE, QRESYNC', () => {
  it('MOVE sends COPYUID then EXPUNGE; UID EXPUNGE removes only the named messages', async () => {
    const uids = await freshFolder(4);
    const a = await selected();
    const trashNext = Number((await w.core.db.selectFrom('folders').select('uid_next').where('mailbox_id', '=', w.box.mailbox.id).where('name', '=', 'Trash').executeTakeFirstOrThrow()).uid_next);
    const validity = (await w.core.db.selectFrom('folders').select('uid_validity').where('mailbox_id', '=', w.box.mailbox.id).where('name', '=', 'Trash').executeTakeFirstOrThrow()).uid_validity;
    expect(await a.cmd('m', 'MOVE 2:3 Trash')).toBe(`* OK [COPYUID ${validity} ${uids[1]}:${uids[2]} ${trashNext}:${trashNext + 1}] Moved\r\n* 3 EXPUNGE\r\n* 2 EXPUNGE\r\nm OK MOVE completed\r\n`);
    await a.cmd('d', 'STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    expect(await a.cmd('u', `UID EXPUNGE ${uids[3]}`)).toBe('* 2 EXPUNGE\r\nu OK UID EXPUNGE completed\r\n');
    expect(await a.cmd('f', 'FETCH 1:* (UID FLAGS)')).toBe(`* 1 FETCH (UID ${uids[0]} FLAGS (\\Deleted))\r\nf OK FETCH completed\r\n`);
    expect(await a.cmd('c', 'COPY 1 Nowhere')).toBe('c NO [TRYCREATE] No such mailbox\r\n');
  });

  it('CONDSTORE: MODSEQ, UNCHANGEDSINCE and MODIFIED', async () => {
    const uids = await freshFolder(2);
    const a = await selected();
    const f = await a.cmd('f', 'FETCH 1:2 (MODSEQ)');
    const m = [...f.matchAll(/MODSEQ \((\d+)\)/g)].map((x) => Number(x[1]));
    expect(m.length).toBe(2);
    expect(await a.cmd('s1', `STORE 1 (UNCHANGEDSINCE ${m[0]}) +FLAGS (\\Seen)`)).toMatch(new RegExp(`^\\* 1 FETCH \\(FLAGS \\(\\\\Seen\\) MODSEQ \\((\\d+)\\)\\)\\r\\ns1 OK STORE completed\\r\\n$`));
    // Message 1 changed since m[0]: the conditional store fails for it and succeeds for 2.
    const r = await a.cmd('s2', `UID STORE ${uids[0]},${uids[1]} (UNCHANGEDSINCE ${Math.max(...m)}) +FLAGS (\\Flagged)`);
    expect(r).toMatch(new RegExp(`^\\* 2 FETCH \\(UID ${uids[1]} FLAGS \\(\\\\Flagged\\) MODSEQ \\(\\d+\\)\\)\\r\\ns2 OK \\[MODIFIED ${uids[0]}\\] Some messages were modified since\\r\\n$`));
    const since = await a.cmd('c', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${Math.max(...m)})`);
    expect(since.match(/^\* \d+ FETCH/gm)!.length).toBe(2);
    expect(await a.cmd('st', `STATUS ${folder} (HIGHESTMODSEQ)`)).toMatch(/^\* STATUS "T\d+" \(HIGHESTMODSEQ \d+\)\r\n/);
  });

  it('QRESYNC: SELECT with known state reports VANISHED (EARLIER) and changed flags', async () => {
    const uids = await freshFolder(4);
    const a = await selected({ enable: 'QRESYNC' });
    const sel = await a.cmd('s2', `SELECT ${folder}`);
    const validity = /UIDVALIDITY (\d+)/.exec(sel)![1];
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
    const b = await selected();
    await b.cmd('b1', 'STORE 1 +FLAGS (\\Flagged)');
    await b.cmd('b2', 'STORE 3 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('b3', 'EXPUNGE');
    // While selected, the expunge reaches A as VANISHED (RFC 7162 §3.2.10).
    const noop = await a.cmd('n', 'NOOP');
    expect(noop).toContain(`* VANISHED ${uids[2]}\r\n`);
    expect(noop).toContain(`FETCH (UID ${uids[0]} FLAGS (\\Flagged) MODSEQ (`);
    expect(await a.cmd('u', 'UNSELECT')).toBe('u OK UNSELECT completed\r\n');
    const r = await a.cmd('q', `SELECT ${folder} (QRESYNC (${validity} ${modseq} 1:*))`);
    expect(r).toContain(`* VANISHED (EARLIER) ${uids[2]}\r\n`);
    expect(r).toMatch(new RegExp(`\\* 1 FETCH \\(UID ${uids[0]} FLAGS \\(\\\\Flagged\\) MODSEQ \\(\\d+\\)\\)\\r\\n`));
    expect(r).toContain('* 3 EXISTS\r\n');
    expect(r).toMatch(/q OK \[READ-WRITE\] SELECT completed\r\n$/);
    // Selecting again while selected closes the old mailbox first.
    expect(await a.cmd('q2', `EXAMINE ${folder}`)).toMatch(/^\* OK \[CLOSED\] /);
    // UID FETCH … (CHANGEDSINCE … VANISHED).
    const v = await a.cmd('v', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    expect(v).toMatch(new RegExp(`^\\* VANISHED \\(EARLIER\\) ${uids[2]}\\r\\n`));
  });

  it('IMAP4rev2: SEARCH answers ESEARCH, SELECT lists the mailbox, SAVE and $ work', async () => {
    await freshFolder(3);
    const a = await session({ enable: 'IMAP4rev2' });
    open.push(a);
    const sel = await a.cmd('s', `SELECT ${folder}`);
    expect(sel).not.toContain('RECENT');
    expect(sel).toContain(`* LIST () "/" "${folder}"\r\n`);
    expect(await a.cmd('f', 'SEARCH ALL')).toBe('* ESEARCH (TAG "f") ALL 1:3\r\nf OK SEARCH completed\r\n');
    expect(await a.cmd('g', 'SEARCH RETURN (SAVE) 2:3')).toBe('g OK SEARCH completed\r\n');
    expect(await a.cmd('h', 'FETCH $ (FLAGS)')).toBe('* 2 FETCH (FLAGS ())\r\n* 3 FETCH (FLAGS ())\r\nh OK FETCH completed\r\n');
    expect(await a.cmd('i', 'UID SEARCH RETURN (COUNT) $')).toBe('* ESEARCH (TAG "i") UID COUNT 2\r\ni OK UID SEARCH completed\r\n');
  });
});
