// Raw IMAP transcripts over real sockets: the exact responses to the core commands, literals
// (synchronising and LITERAL+), partial fetches, UID ranges with '*', 8-bit and UTF-8 mailbox names,
// state rules, STARTTLS and the login rules before TLS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapWorld, RawImap, deliver, rawMessage, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
const uids: number[] = [];

beforeAll(async () => {
  w = await startImapWorld();
  for (let i = 1; i <= 5; i++) {
    const m = await deliver(w, rawMessage({ subject: `Message ${i}`, text: `Body number ${i} with the word zebra${i}`, from: `Sender ${i} <s${i}@sender.example>` }));
    uids.push(m.uid);
  }
});
afterAll(async () => {
  await w?.stop();
});

async function loggedIn(): Promise<RawImap> {
  const c = await RawImap.connect(w.plain.port);
  const r = await c.cmd('L', `LOGIN "${w.address}" "${w.password}"`);
  expect(r).toMatch(/^L OK \[CAPABILITY [^\]]*IMAP4rev2[^\]]*\] Logged in\r\n$/m);
  return c;
}

describe('greeting, capability, login', () => {
  it('greets with capabilities and answers CAPABILITY', async () => {
    const c = await RawImap.connect(w.plain.port);
    expect(c.greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*AUTH=PLAIN.*\] /);
    const r = await c.cmd('a1', 'CAPABILITY');
    expect(r).toMatch(/^\* CAPABILITY IMAP4rev1 IMAP4rev2 [^\r\n]*IDLE[^\r\n]*\r\na1 OK CAPABILITY completed\r\n$/);
    expect(r).toContain(' UIDPLUS ');
    expect(r).toContain(' MOVE ');
    expect(r).toContain(' CONDSTORE ');
    expect(r).toContain(' QRESYNC ');
    c.close();
  });

  it('refuses a wrong password with AUTHENTICATIONFAILED', async () => {
    const c = await RawImap.connect(w.plain.port);
    expect(await c.cmd('a1', `LOGIN ${w.address} wrongpassword`)).toBe('a1 NO [AUTHENTICATIONFAILED] Invalid user name or password\r\n');
    c.close();
  });

  it('logs in with a synchronising literal password', async () => {
    const c = await RawImap.connect(w.plain.port);
    c.write(`a1 LOGIN {${w.address.length}}\r\n`);
    expect(await c.line()).toBe('+ Ready for literal data');
    c.write(`${w.address} {${w.password.length}}\r\n`);
    expect(await c.line()).toBe('+ Ready for literal data');
    c.write(`${w.password}\r\n`);
    expect(await c.until('a1')).toMatch(/^a1 OK \[CAPABILITY .*\] Logged in\r\n$/);
    c.close();
  });

  it('logs in with non-synchronising literals (LITERAL+) and no continuation', async () => {
    const c = await RawImap.connect(w.plain.port);
    c.write(`a1 LOGIN {${w.address.length}+}\r\n${w.address} {${w.password.length}+}\r\n${w.password}\r\n`);
    const r = await c.until('a1');
    expect(r).not.toContain('+ Ready');
    expect(r).toMatch(/^a1 OK /);
    c.close();
  });

  it('AUTHENTICATE PLAIN with SASL-IR and with a continuation', async () => {
    const token = Buffer.from(`\0${w.address}\0${w.password}`).toString('base64');
    const c = await RawImap.connect(w.plain.port);
    expect(await c.cmd('a1', `AUTHENTICATE PLAIN ${token}`)).toMatch(/^a1 OK \[CAPABILITY /);
    c.close();
    const d = await RawImap.connect(w.plain.port);
    d.write('a2 AUTHENTICATE PLAIN\r\n');
    expect(await d.line()).toBe('+ ');
    d.write(token + '\r\n');
    expect(await d.until('a2')).toMatch(/^a2 OK /);
    d.close();
  });

  it('commands in the wrong state are BAD', async () => {
    const c = await RawImap.connect(w.plain.port);
    expect(await c.cmd('a1', 'SELECT INBOX')).toBe('a1 BAD SELECT needs login first\r\n');
    expect(await c.cmd('a2', 'FETCH 1 FLAGS')).toBe('a2 BAD FETCH needs login first\r\n');
    await c.cmd('a3', `LOGIN ${w.address} ${w.password}`);
    expect(await c.cmd('a4', 'FETCH 1 FLAGS')).toBe('a4 BAD FETCH needs a selected mailbox\r\n');
    expect(await c.cmd('a5', `LOGIN ${w.address} ${w.password}`)).toBe('a5 BAD LOGIN is not allowed after login\r\n');
    expect(await c.cmd('a6', 'FOO')).toBe('a6 BAD Unknown command FOO\r\n');
    c.close();
  });

  it('LOGOUT says BYE then OK and closes', async () => {
    const c = await RawImap.connect(w.plain.port);
    expect(await c.cmd('z', 'LOGOUT')).toBe('* BYE Logging out\r\nz OK LOGOUT completed\r\n');
    await c.waitFor(() => c.closed);
  });
});

describe('selected state', () => {
  it('SELECT INBOX reports the folder', async () => {
    const c = await loggedIn();
    const r = await c.cmd('s', 'SELECT INBOX');
    expect(r).toContain('* 5 EXISTS\r\n');
    // The first SELECT after delivery: all five are \Recent in this session (RFC 3501 §2.3.2).
    expect(r).toContain('* 5 RECENT\r\n');
    expect(r).toContain('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n');
    expect(r).toContain('* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n');
    expect(r).toMatch(/\* OK \[UIDVALIDITY \d+\] UIDs valid\r\n/);
    expect(r).toContain(`* OK [UIDNEXT ${uids[4] + 1}] Predicted next UID\r\n`);
    expect(r).toContain('* OK [UNSEEN 1] First unseen\r\n');
    expect(r).toMatch(/s OK \[READ-WRITE\] SELECT completed\r\n$/);
    c.close();
  });

  it('FETCH flags, UID ranges with *, and partial bodies', async () => {
    const c = await loggedIn();
    await c.cmd('s', 'EXAMINE INBOX');
    expect(await c.cmd('f1', 'FETCH 1:2 (UID FLAGS)')).toBe(`* 1 FETCH (UID ${uids[0]} FLAGS ())\r\n* 2 FETCH (UID ${uids[1]} FLAGS ())\r\nf1 OK FETCH completed\r\n`);
    expect(await c.cmd('f2', `UID FETCH ${uids[3]}:* (FLAGS)`)).toBe(`* 4 FETCH (UID ${uids[3]} FLAGS ())\r\n* 5 FETCH (UID ${uids[4]} FLAGS ())\r\nf2 OK UID FETCH completed\r\n`);
    // n:* where n is above the highest UID still names the last message (RFC 9051 §6.4.8).
    expect(await c.cmd('f3', `UID FETCH ${uids[4] + 100}:* (FLAGS)`)).toBe(`* 5 FETCH (UID ${uids[4]} FLAGS ())\r\nf3 OK UID FETCH completed\r\n`);
    expect(await c.cmd('f4', 'FETCH * (UID)')).toBe(`* 5 FETCH (UID ${uids[4]})\r\nf4 OK FETCH completed\r\n`);
    const r = await c.cmd('f5', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.11>)');
    expect(r).toBe('* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: Message 1\r\n\r\n BODY[TEXT]<0> {11}\r\nBody number)\r\nf5 OK FETCH completed\r\n');
    // EXAMINE is read-only: BODY[] does not set \Seen.
    await c.cmd('f6', 'FETCH 1 BODY[TEXT]');
    expect(await c.cmd('f7', 'FETCH 1 FLAGS')).toBe('* 1 FETCH (FLAGS ())\r\nf7 OK FETCH completed\r\n');
    c.close();
  });

  it('BODY[] without PEEK sets \\Seen and reports FLAGS', async () => {
    const c = await loggedIn();
    await c.cmd('s', 'SELECT INBOX');
    const r = await c.cmd('f1', 'FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])');
    expect(r).toBe('* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {22}\r\nSubject: Message 2\r\n\r\n FLAGS (\\Seen))\r\nf1 OK FETCH completed\r\n');
    const row = await w.core.db.selectFrom('messages').select('seen').where('folder_id', '=', (await w.core.db.selectFrom('folders').select('id').where('mailbox_id', '=', w.box.mailbox.id).where('name', '=', 'INBOX').executeTakeFirstOrThrow()).id).where('uid', '=', uids[1]).executeTakeFirstOrThrow();
    expect(Number(row.seen)).toBe(1);
    expect(await c.cmd('f2', 'STORE 2 -FLAGS.SILENT (\\Seen)')).toBe('f2 OK STORE completed\r\n');
    c.close();
  });

  it('STORE, SEARCH, UID SEARCH and ESEARCH', async () => {
    const c = await loggedIn();
    await c.cmd('s', 'SELECT INBOX');
    // $Work is new: announced in FLAGS before its first use (RFC 9051 §7.3.5).
    expect(await c.cmd('t1', 'STORE 1,3 +FLAGS (\\Flagged $Work)')).toBe(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted\r\n* 1 FETCH (FLAGS (\\Flagged $Work))\r\n* 3 FETCH (FLAGS (\\Flagged $Work))\r\nt1 OK STORE completed\r\n',
    );
    expect(await c.cmd('t2', 'SEARCH FLAGGED')).toBe('* SEARCH 1 3\r\nt2 OK SEARCH completed\r\n');
    expect(await c.cmd('t3', 'SEARCH KEYWORD $work NOT 1')).toBe('* SEARCH 3\r\nt3 OK SEARCH completed\r\n');
    expect(await c.cmd('t4', `UID SEARCH OR UID ${uids[1]} FLAGGED`)).toBe(`* SEARCH ${uids[0]} ${uids[1]} ${uids[2]}\r\nt4 OK UID SEARCH completed\r\n`);
    expect(await c.cmd('t5', 'SEARCH RETURN (MIN MAX COUNT ALL) UNFLAGGED')).toBe('* ESEARCH (TAG "t5") MIN 2 MAX 5 COUNT 3 ALL 2,4:5\r\nt5 OK SEARCH completed\r\n');
    expect(await c.cmd('t6', 'SEARCH CHARSET KOI8-R ALL')).toBe('t6 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n');
    expect(await c.cmd('t7', 'SEARCH (FLAGGED')).toMatch(/^t7 BAD /);
    expect(await c.cmd('t8', 'SEARCH SUBJECT "Message 4"')).toBe('* SEARCH 4\r\nt8 OK SEARCH completed\r\n');
    expect(await c.cmd('t9', 'SEARCH BODY zebra5')).toBe('* SEARCH 5\r\nt9 OK SEARCH completed\r\n');
    expect(await c.cmd('t10', 'SEARCH HEADER Message-ID sender.example LARGER 10 SMALLER 100000')).toBe('* SEARCH 1 2 3 4 5\r\nt10 OK SEARCH completed\r\n');
    expect(await c.cmd('t11', 'STORE 1:* -FLAGS.SILENT (\\Flagged $Work)')).toBe('t11 OK STORE completed\r\n');
    c.close();
  });

  it('APPEND with a literal answers APPENDUID; the message is fetched back byte for byte', async () => {
    const c = await loggedIn();
    const msg = rawMessage({ subject: 'Appended', text: 'Appended body' }).toString('latin1');
    c.write(`a1 APPEND Drafts (\\Draft) " 1-Feb-2024 10:00:00 +0100" {${Buffer.byteLength(msg, 'latin1')}}\r\n`);
    expect(await c.line()).toBe('+ Ready for literal data');
    c.write(msg + '\r\n');
    const r = await c.until('a1');
    const m = /^a1 OK \[APPENDUID (\d+) (\d+)\] APPEND completed\r\n$/.exec(r);
    expect(m).not.toBeNull();
    await c.cmd('s', 'SELECT Drafts');
    const f = await c.cmd('f', `UID FETCH ${m![2]} (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])`);
    expect(f).toBe(`* 1 FETCH (UID ${m![2]} FLAGS (\\Recent \\Draft) INTERNALDATE "01-Feb-2024 09:00:00 +0000" RFC822.SIZE ${msg.length} BODY[] {${msg.length}}\r\n${msg})\r\nf OK UID FETCH completed\r\n`);
    expect(await c.cmd('a2', 'APPEND Nowhere {3+}\r\nabc')).toBe('a2 NO [TRYCREATE] No such mailbox\r\n');
    c.close();
  });

  it('UTF-8 and modified UTF-7 mailbox names', async () => {
    const c = await loggedIn();
    // "Entwürfe/日本" in modified UTF-7.
    expect(await c.cmd('c1', 'CREATE "Entw&APw-rfe/&ZeVnLA-"')).toBe('c1 OK CREATE completed\r\n');
    const l = await c.cmd('l1', 'LIST "" "Entw*"');
    expect(l).toBe('* LIST (\\HasChildren) "/" "Entw&APw-rfe"\r\n* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/&ZeVnLA-"\r\nl1 OK LIST completed\r\n');
    const names = (await w.core.db.selectFrom('folders').select('name').where('mailbox_id', '=', w.box.mailbox.id).execute()).map((f) => f.name);
    expect(names).toContain('Entwürfe/日本');
    // After ENABLE UTF8=ACCEPT the same folder is written in UTF-8 (RFC 6855 §3).
    const d = await loggedIn();
    expect(await d.cmd('e', 'ENABLE UTF8=ACCEPT')).toBe('* ENABLED UTF8=ACCEPT\r\ne OK ENABLE completed\r\n');
    const raw = Buffer.from('l2 LIST "" "Entwürfe/*"\r\n', 'utf8');
    d.write(raw);
    const l2 = Buffer.from(await d.until('l2'), 'latin1').toString('utf8');
    expect(l2).toBe('* LIST (\\HasNoChildren) "/" "Entwürfe/日本"\r\nl2 OK LIST completed\r\n');
    // An 8-bit name from a client that enabled nothing is taken as UTF-8.
    c.write(Buffer.from('c2 CREATE "Café"\r\n', 'utf8'));
    expect(await c.until('c2')).toBe('c2 OK CREATE completed\r\n');
    expect(await c.cmd('l3', 'LIST "" Caf*')).toBe('* LIST (\\HasNoChildren) "/" "Caf&AOk-"\r\nl3 OK LIST completed\r\n');
    c.close();
    d.close();
  });

  it('LIST with special-use, LIST-STATUS, STATUS and subscriptions', async () => {
    const c = await loggedIn();
    const l = await c.cmd('l', 'LIST (SPECIAL-USE) "" "*"');
    expect(l).toContain('* LIST (\\HasNoChildren \\Sent) "/" "Sent"\r\n');
    expect(l).toContain('* LIST (\\HasNoChildren \\Trash) "/" "Trash"\r\n');
    expect(l).not.toContain('"INBOX"');
    const st = await c.cmd('s', 'STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE HIGHESTMODSEQ)');
    expect(st).toMatch(/^\* STATUS "INBOX" \(MESSAGES 5 UNSEEN 5 UIDNEXT \d+ SIZE \d+ HIGHESTMODSEQ \d+\)\r\ns OK STATUS completed\r\n$/);
    const ls = await c.cmd('ls', 'LIST "" INBOX RETURN (STATUS (MESSAGES))');
    expect(ls).toBe('* LIST (\\HasNoChildren) "/" "INBOX"\r\n* STATUS "INBOX" (MESSAGES 5)\r\nls OK LIST completed\r\n');
    expect(await c.cmd('d', 'LIST "" ""')).toBe('* LIST (\\Noselect) "/" ""\r\nd OK LIST completed\r\n');
    await c.cmd('c', 'CREATE Lists');
    await c.cmd('u', 'UNSUBSCRIBE Lists');
    expect(await c.cmd('lsub', 'LSUB "" Lists')).toBe('lsub OK LSUB completed\r\n');
    expect(await c.cmd('q', 'GETQUOTAROOT INBOX')).toMatch(/^\* QUOTAROOT "INBOX" ""\r\n\* QUOTA "" \(STORAGE \d+ \d+\)\r\nq OK GETQUOTAROOT completed\r\n$/);
    expect(await c.cmd('x', 'DELETE INBOX')).toBe('x NO [CANNOT] INBOX cannot be deleted\r\n');
    expect(await c.cmd('y', 'CREATE Lists')).toMatch(/^y NO \[ALREADYEXISTS\] /);
    expect(await c.cmd('z', 'SELECT Nope')).toBe('z NO [NONEXISTENT] No such mailbox\r\n');
    c.close();
  });
});

describe('TLS', () => {
  it('refuses LOGIN before STARTTLS when plaintext auth is off, then works after', async () => {
    const strict = await startImapWorld({ allowPlaintextAuth: false });
    try {
      const c = await RawImap.connect(strict.plain.port);
      expect(c.greeting).toContain('LOGINDISABLED');
      expect(c.greeting).not.toContain('AUTH=PLAIN');
      expect(await c.cmd('a', `LOGIN ${strict.address} ${strict.password}`)).toBe('a NO [PRIVACYREQUIRED] Log in after STARTTLS (or over port 993)\r\n');
      expect(await c.cmd('b', 'AUTHENTICATE PLAIN AGZvbwBiYXI=')).toMatch(/^b NO \[PRIVACYREQUIRED\]/);
      // Plaintext sent after STARTTLS in the same packet must be dropped (no command injection).
      c.write('t STARTTLS\r\nx CAPABILITY\r\n');
      expect(await c.line()).toBe('t OK Begin TLS negotiation now');
      await c.startTls(strict.ca);
      const cap = await c.cmd('c', 'CAPABILITY');
      expect(cap).toMatch(/^\* CAPABILITY [^\r\n]*AUTH=PLAIN[^\r\n]*\r\nc OK CAPABILITY completed\r\n$/);
      expect(cap).not.toContain('STARTTLS');
      expect(await c.cmd('d', `LOGIN ${strict.address} ${strict.password}`)).toMatch(/^d OK /);
      c.close();
      const s = await RawImap.connect(strict.secure.port, { tls: true, ca: strict.ca });
      expect(s.greeting).toContain('AUTH=PLAIN');
      expect(await s.cmd('e', `LOGIN ${strict.address} ${strict.password}`)).toMatch(/^e OK /);
      s.close();
    } finally {
      await strict.stop();
    }
  });
});
