// Conformance points Dovecot's imaptest checks, in our own words and over raw sockets so CI proves
// them without imaptest: \Recent (RFC 3501 §2.3.2), keywords announced in FLAGS before use (RFC
// 9051 §7.3.5), and the rest of the cases listed in the tests below.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapWorld, RawImap, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
const open: RawImap[] = [];

beforeAll(async () => {
  w = await startImapWorld();
});
afterAll(async () => {
  for (const c of open) c.close();
  await w?.stop();
});

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.connect(w.plain.port);
  open.push(c);
  expect(await c.cmd('L', `LOGIN "${w.address}" "${w.password}"`)).toMatch(/^L OK /m);
  return c;
}

let folders = 0;
/** A fresh folder holding `n` messages appended over IMAP (each with its own subject). */
async function folderWith(c: RawImap, n: number, make: (i: number) => string = (i) => `Subject: m${i}\r\n\r\nbody ${i}\r\n`): Promise<string> {
  const name = `F${++folders}`;
  expect(await c.cmd('c', `CREATE ${name}`)).toMatch(/^c OK/m);
  for (let i = 1; i <= n; i++) {
    const msg = make(i);
    expect(await c.cmd('a', `APPEND ${name} {${Buffer.byteLength(msg)}+}\r\n${msg}`)).toMatch(/^a OK/m);
  }
  return name;
}

describe('\\Recent (RFC 3501 §2.3.2)', () => {
  it('EXAMINE shows RECENT without claiming, SELECT claims, STATUS counts what is unclaimed', async () => {
    const c = await loggedIn();
    const f = await folderWith(c, 2);
    expect(await c.cmd('s1', `STATUS ${f} (MESSAGES RECENT)`)).toContain(`* STATUS "${f}" (MESSAGES 2 RECENT 2)`);
    const ex = await c.cmd('e', `EXAMINE ${f}`);
    expect(ex).toContain('* 2 RECENT\r\n');
    expect(await c.cmd('f', 'FETCH 1:2 (FLAGS)')).toContain('* 1 FETCH (FLAGS (\\Recent))');
    await c.cmd('x', 'CLOSE');
    expect(await c.cmd('s2', `STATUS ${f} (RECENT)`)).toContain(`(RECENT 2)`);
    expect(await c.cmd('s', `SELECT ${f}`)).toContain('* 2 RECENT\r\n');
    expect(await c.cmd('k', 'SEARCH RECENT')).toContain('* SEARCH 1 2\r\n');
    await c.cmd('x2', 'CLOSE');
    expect(await c.cmd('s3', `STATUS ${f} (RECENT)`)).toContain(`(RECENT 0)`);
    // The next session to select sees none of them as recent.
    const d = await loggedIn();
    expect(await d.cmd('s', `SELECT ${f}`)).toContain('* 0 RECENT\r\n');
    expect(await d.cmd('f', 'FETCH 1 (FLAGS)')).toContain('* 1 FETCH (FLAGS ())');
  });

  it('a COPY into a folder another session has selected is recent there, with RECENT after EXISTS', async () => {
    const a = await loggedIn();
    const b = await loggedIn();
    const src = await folderWith(a, 2);
    const dst = await folderWith(a, 0);
    expect(await b.cmd('s', `SELECT ${dst}`)).toContain('* 0 RECENT');
    await a.cmd('s', `SELECT ${src}`);
    await a.cmd('st', 'STORE 1 FLAGS (\\Seen)');
    expect(await a.cmd('cp', `COPY 1:2 ${dst}`)).toMatch(/^cp OK/m);
    expect(await b.cmd('n', 'NOOP')).toMatch(/\* 2 EXISTS\r\n\* 2 RECENT\r\n/);
    const f = await b.cmd('f', 'FETCH 1:2 (FLAGS)');
    expect(f).toContain('* 1 FETCH (FLAGS (\\Recent \\Seen))');
    expect(f).toContain('* 2 FETCH (FLAGS (\\Recent))');
    expect(await b.cmd('k1', 'SEARCH NEW')).toContain('* SEARCH 2\r\n');
    expect(await b.cmd('k2', 'SEARCH OLD')).toContain('* SEARCH\r\n');
    // Only one session gets them: a second one selecting now sees none recent.
    const c = await loggedIn();
    expect(await c.cmd('s', `SELECT ${dst}`)).toContain('* 0 RECENT');
    expect(await c.cmd('k', 'SEARCH OLD')).toContain('* SEARCH 1 2\r\n');
  });

  it('an IMAP4rev2 session sees no \\Recent', async () => {
    const c = await loggedIn();
    const f = await folderWith(c, 1);
    await c.cmd('en', 'ENABLE IMAP4rev2');
    const s = await c.cmd('s', `SELECT ${f}`);
    expect(s).not.toContain('RECENT');
    expect(await c.cmd('f', 'FETCH 1 (FLAGS)')).toContain('* 1 FETCH (FLAGS ())');
  });
});

describe('keywords in FLAGS (RFC 9051 §7.3.5, §6.3.2)', () => {
  it('SELECT announces the folder keywords in FLAGS and PERMANENTFLAGS; a new keyword gets an untagged FLAGS before it is used', async () => {
    const a = await loggedIn();
    const f = await folderWith(a, 2);
    await a.cmd('s', `SELECT ${f}`);
    const st = await a.cmd('st', 'STORE 1 +FLAGS ($Label1)');
    // The FLAGS announcement comes before the FETCH that uses the keyword.
    expect(st).toMatch(/\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Label1\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$Label1 \\\*\)\][^\r\n]*\r\n\* 1 FETCH \(FLAGS \(\\Recent \$Label1\)\)/);
    const b = await loggedIn();
    const sel = await b.cmd('s', `SELECT ${f}`);
    expect(sel).toContain('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\r\n');
    expect(sel).toMatch(/\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Label1 \\\*\)\]/);
    // Another session's new keyword reaches b as FLAGS first, then the FETCH.
    await a.cmd('st2', 'STORE 2 +FLAGS ($Other)');
    const n = await b.cmd('n', 'NOOP');
    expect(n.indexOf('* FLAGS (')).toBeGreaterThan(-1);
    expect(n.indexOf('* FLAGS (')).toBeLessThan(n.indexOf('* 2 FETCH'));
    expect(n).toContain('$Other');
    expect(n).not.toContain('NIL');
    // EXAMINE's PERMANENTFLAGS is empty (nothing can be stored).
    const c = await loggedIn();
    expect(await c.cmd('e', `EXAMINE ${f}`)).toContain('* OK [PERMANENTFLAGS ()]');
  });
});

describe('SEARCH "contains" (RFC 9051 §6.4.4)', () => {
  const msgs = [
    'From: user-from@domain.org\r\nTo: RealTo <user-to@domain.org>\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nSubject: Hello beautiful world\r\nX-Extra: qwertyuiop\r\n\r\nasdfghjkl body\r\n',
    'From: <user-from (comment)@ (comment) domain.org>\r\nTo: groupname: g1@domain.org, g2@domain.org;\r\nDate: Sun, 25 Mar 2007 00:00:00 +0200\r\nSubject: other\r\n\r\nzxcvbnm\r\n',
    'From: user-from1@domain.org, user-from2@domain.org (RealFrom)\r\nDate: Mon, 26 Mar 2007 00:00:00 +0300\r\nSubject: third\r\n\r\nnothing here\r\n',
  ];
  let c: RawImap;
  beforeAll(async () => {
    c = await loggedIn();
    const f = await folderWith(c, 3, (i) => msgs[i - 1]);
    await c.cmd('s', `SELECT ${f}`);
  });
  const search = async (q: string) => (await c.cmd('q', `SEARCH ${q}`)).split('\r\n')[0];

  it('FROM/TO match the address behind comments, display names in comments, other addresses of the list, and group names', async () => {
    expect(await search('FROM user-from@domain.org')).toBe('* SEARCH 1 2');
    expect(await search('FROM user-from2')).toBe('* SEARCH 3');
    expect(await search('FROM realfrom')).toBe('* SEARCH 3');
    expect(await search('TO groupname')).toBe('* SEARCH 2');
    expect(await search('TO realto')).toBe('* SEARCH 1');
  });

  it('SUBJECT, BODY and TEXT match substrings inside words; TEXT covers every header field', async () => {
    expect(await search('SUBJECT "eautiful worl"')).toBe('* SEARCH 1');
    expect(await search('BODY sdfghjk')).toBe('* SEARCH 1');
    expect(await search('BODY xcvbn')).toBe('* SEARCH 2');
    expect(await search('TEXT wertyuio')).toBe('* SEARCH 1');
    expect(await search('BODY wertyuio')).toBe('* SEARCH');
    // A whole word is still found (by the index).
    expect(await search('BODY zxcvbnm')).toBe('* SEARCH 2');
  });

  it('SENTBEFORE/SENTON/SENTSINCE use the Date field in its own zone', async () => {
    // 24 Mar 23:00 +0200 is 21:00 UTC on the 24th; 25 Mar 00:00 +0200 is the 24th in UTC but the 25th where it was sent.
    expect(await search('SENTON 24-Mar-2007')).toBe('* SEARCH 1');
    expect(await search('SENTON 25-Mar-2007')).toBe('* SEARCH 2');
    expect(await search('SENTBEFORE 26-Mar-2007')).toBe('* SEARCH 1 2');
    expect(await search('SENTSINCE 26-Mar-2007')).toBe('* SEARCH 3');
  });
});

describe('SORT and THREAD (RFC 5256)', () => {
  it('SORT (SUBJECT) uses the base subject compared by i;ascii-casemap; SORT (CC) the first addr-mailbox, a group name included', async () => {
    const c = await loggedIn();
    const subjects = ['a', 'C', 'b', '_', '[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)', 'b (a)', 'Re: [FWD: c]', '[xyz]', null, '=?iso-8859-1?q?_?=', 're: [fwd: [fwd: re: [fwd: babylon]]]'];
    const f = await folderWith(c, subjects.length, (i) => `${subjects[i - 1] === null ? '' : `Subject: ${subjects[i - 1]}\r\n`}Date: Mon, 1 Jan 2024 00:00:0${i % 10} +0000\r\n\r\nx\r\n`);
    await c.cmd('s', `SELECT ${f}`);
    expect((await c.cmd('o', 'SORT (SUBJECT) US-ASCII ALL')).split('\r\n')[0]).toBe('* SORT 9 10 1 3 5 6 11 2 7 8 4');
    const g = await folderWith(c, 3, (i) => ['Cc: user2@domain2.org (foo bar)\r\n', 'Cc: user2: blah@domain1.org;\r\n', 'Cc: user1@domain1.org\r\n'][i - 1] + '\r\nx\r\n');
    await c.cmd('s2', `SELECT ${g}`);
    expect((await c.cmd('o2', 'SORT (CC) US-ASCII ALL')).split('\r\n')[0]).toBe('* SORT 3 1 2');
    expect((await c.cmd('o3', 'SORT (REVERSE CC) US-ASCII ALL')).split('\r\n')[0]).toBe('* SORT 1 2 3');
  });

  it('THREAD=REFERENCES follows the references, breaks a loop the RFC way, and groups by base subject', async () => {
    const c = await loggedIn();
    const raw = [
      'Message-ID: <a@b>\r\nDate: Fri, 22 Feb 2008 17:06:23 +0000\r\n\r\nbody\r\n',
      'Message-ID: <b@b>\r\nReferences: <a@b> <c@b>\r\nDate: Fri, 22 Feb 2008 15:06:23 +0000\r\n\r\nbody\r\n',
      'Message-ID: <c@b>\r\nReferences: <b@b>\r\nDate: Fri, 22 Feb 2008 16:06:25 +0000\r\n\r\nbody\r\n',
    ];
    const f = await folderWith(c, 3, (i) => raw[i - 1]);
    await c.cmd('s', `SELECT ${f}`);
    expect((await c.cmd('t', 'THREAD REFERENCES US-ASCII ALL')).split('\r\n')[0]).toBe('* THREAD (3 2)(1)');
    // Same base subject, no references: the reply goes under the original; two originals become siblings under a dummy.
    const g = await folderWith(c, 4, (i) => [`Subject: topic\r\nMessage-ID: <t1@x>\r\nDate: Mon, 1 Jan 2024 00:00:01 +0000\r\n\r\nx\r\n`, `Subject: Re: topic\r\nMessage-ID: <t2@x>\r\nDate: Mon, 1 Jan 2024 00:00:02 +0000\r\n\r\nx\r\n`, `Subject: other\r\nMessage-ID: <o1@x>\r\nDate: Mon, 1 Jan 2024 00:00:03 +0000\r\n\r\nx\r\n`, `Subject: other\r\nMessage-ID: <o2@x>\r\nDate: Mon, 1 Jan 2024 00:00:04 +0000\r\n\r\nx\r\n`][i - 1]);
    await c.cmd('s2', `SELECT ${g}`);
    expect((await c.cmd('t2', 'THREAD REFERENCES US-ASCII ALL')).split('\r\n')[0]).toBe('* THREAD (1 2)((3)(4))');
  });
});

describe('names, MOVE, CONDSTORE', () => {
  it('a mailbox name of atom characters with "[" is a NO for a missing mailbox, not a BAD', async () => {
    const c = await loggedIn();
    expect(await c.cmd('s', "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}")).toMatch(/^s NO /m);
    expect(await c.cmd('l', `LIST "" !#$&'+,-.0123456789:;<=>?@^_\`|[}%*`)).toMatch(/^l OK /m);
  });

  it('MOVE to the selected folder itself gives the messages new UIDs (RFC 6851 §3.3)', async () => {
    const c = await loggedIn();
    const f = await folderWith(c, 2);
    const sel = await c.cmd('s', `SELECT ${f}`);
    const validity = /UIDVALIDITY (\d+)/.exec(sel)![1];
    const r = await c.cmd('m', `MOVE 1 ${f}`);
    expect(r).toContain(`* OK [COPYUID ${validity} 1 3] Moved\r\n* 1 EXPUNGE\r\n`);
    expect(r).toMatch(/^m OK /m);
    expect(await c.cmd('f', 'UID FETCH 1:* (UID)')).toMatch(/\* 1 FETCH \(UID 2\)\r\n\* 2 FETCH \(UID 3\)\r\n/);
  });

  it('the first CONDSTORE-enabling FETCH sends OK [HIGHESTMODSEQ]; ESEARCH MIN/MAX carry the MODSEQ of those messages', async () => {
    const c = await loggedIn();
    const f = await folderWith(c, 3);
    await c.cmd('s', `SELECT ${f}`);
    const first = await c.cmd('f', 'FETCH 1 (MODSEQ)');
    expect(first).toMatch(/^\* OK \[HIGHESTMODSEQ \d+\][^\r\n]*\r\n\* 1 FETCH \(MODSEQ \(\d+\)\)/);
    expect(await c.cmd('f2', 'FETCH 1 (MODSEQ)')).not.toContain('HIGHESTMODSEQ');
    const ms = [...(await c.cmd('f3', 'FETCH 1:3 (MODSEQ)')).matchAll(/\* (\d) FETCH \(MODSEQ \((\d+)\)\)/g)].map((m) => Number(m[2]));
    await c.cmd('st', 'STORE 3 +FLAGS (\\Flagged)');
    const m3 = Number(/MODSEQ \((\d+)\)/.exec(await c.cmd('f4', 'FETCH 3 (MODSEQ)'))![1]);
    expect(await c.cmd('q1', 'SEARCH RETURN (MIN) MODSEQ 1')).toContain(`ESEARCH (TAG "q1") MIN 1 MODSEQ ${ms[0]}\r\n`);
    expect(await c.cmd('q2', 'SEARCH RETURN (MAX) MODSEQ 1')).toContain(`ESEARCH (TAG "q2") MAX 3 MODSEQ ${m3}\r\n`);
  });
});

describe('CREATE and RENAME take only valid modified UTF-7 (RFC 3501 §5.1.3)', () => {
  it('refuses an unclosed shift, a lone surrogate, encoded ASCII and bad padding with NO; takes valid names', async () => {
    const c = await loggedIn();
    for (const bad of ['"&-&AAA"', '"&AGEAYgBj"', '"&2D0-"', '"&3gA-"', '"&AGE-"', '"&AGEA-"', '"&2D3eAAA-"']) {
      const r = await c.cmd('c', `CREATE ${bad}`);
      expect(r, bad).toMatch(/^c NO \[CANNOT\] Invalid mailbox name: not modified UTF-7/m);
    }
    // Nothing was created for any of them.
    const list = await c.cmd('l', 'LIST "" "*"');
    expect(list).not.toMatch(/&AAA|AGEAYgBj|2D0|3gA|AGE/);
    // Valid: "&-" is '&', a BMP run, a surrogate pair (U+1F600 = &2D3eAA-), and plain ASCII.
    for (const good of ['"A&-B"', '"&ZeVnLIqe-"', '"smile &2D3eAA-"']) expect(await c.cmd('g', `CREATE ${good}`), good).toMatch(/^g OK/m);
    expect(await c.cmd('l2', 'LIST "" "*"')).toContain('"smile &2D3eAA-"');
    expect(await c.cmd('r', 'RENAME "A&-B" "&2D0-"')).toMatch(/^r NO \[CANNOT\]/m);
    expect(await c.cmd('r2', 'RENAME "A&-B" "A&-C"')).toMatch(/^r2 OK/m);
  });

  it('a UTF-8 session (ENABLE UTF8=ACCEPT) names mailboxes in UTF-8, with no modified UTF-7 rule', async () => {
    const c = await loggedIn();
    expect(await c.cmd('e', 'ENABLE UTF8=ACCEPT')).toMatch(/^e OK/m);
    expect(await c.cmd('c', 'CREATE "&2D0-utf8"')).toMatch(/^c OK/m);
  });
});
