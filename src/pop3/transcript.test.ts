// POP3 by raw transcripts over real sockets: exact replies for every command in each state,
// byte-stuffing and CRLF, TOP, UIDL, DELE+QUIT removes, DELE+RSET and a dropped connection keep,
// the maildrop lock, STLS (and the plaintext refusal before it), AUTH PLAIN, lockout, idle
// timeout, connection limits, and hostile input (100 KB lines, NUL bytes, garbage, floods).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { systemActor } from '../core/core.ts';
import { type TestMailbox, appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type TestServer, freePort, startTestServer } from '../testkit/server.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { type Pop3Door, startPop3 } from './server.ts';
import { RawPop3, unstuff } from '../testkit/pop3-client.ts';

let server: TestServer;
let pop3Port = 0;
let pop3sPort = 0;
const clients: RawPop3[] = [];
const doors: Pop3Door[] = [];

interface Box {
  t: TestMailbox;
  password: string;
  /** The messages as stored, and as POP3 must send them (CRLF). */
  messages: { raw: Buffer; crlf: Buffer; uid: number; uidValidity: number }[];
}

/** The lines of a multi-line response's data (its last CRLF is the end of the last line). */
const lines = (r: { data: Buffer }) => (r.data.length ? r.data.toString().replace(/\r\n$/, '').split('\r\n') : []);

const crlfOf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');

async function makeBox(raws: (Buffer | string)[]): Promise<Box> {
  const core = server.platform.core;
  const t = await createTestMailbox(core, {});
  const password = (await createAppPassword(core, systemActor, t.workspaceId, t.mailbox.id, { name: 'pop' })).password;
  const messages = [];
  for (const r of raws) {
    const raw = typeof r === 'string' ? Buffer.from(r, 'latin1') : r;
    const a = await appendRaw(core, t.mailbox, raw);
    messages.push({ raw, crlf: crlfOf(raw), uid: a.uid, uidValidity: a.uidValidity });
  }
  return { t, password, messages };
}

async function connect(opts: { tls?: boolean; port?: number } = {}): Promise<RawPop3> {
  const c = await RawPop3.connect(opts.port ?? (opts.tls === false ? pop3Port : pop3sPort), { tls: opts.tls ?? true });
  clients.push(c);
  expect(await c.line()).toBe('+OK Mailstack POP3 server ready');
  return c;
}

async function loggedIn(box: Box): Promise<RawPop3> {
  const c = await connect();
  expect(await c.cmd(`USER ${box.t.mailbox.address}`)).toBe('+OK Send your password');
  expect(await c.cmd(`PASS ${box.password}`)).toMatch(/^\+OK Logged in: \d+ messages \(\d+ octets\)$/);
  return c;
}

const inboxUids = async (box: Box) => {
  const rows = await server.platform.core.db
    .selectFrom('messages')
    .innerJoin('folders', 'folders.id', 'messages.folder_id')
    .select('messages.uid')
    .where('messages.mailbox_id', '=', box.t.mailbox.id)
    .where('folders.special_use', '=', 'inbox')
    .orderBy('messages.uid')
    .execute();
  return rows.map((r) => Number(r.uid));
};

const seenFlags = async (box: Box) => {
  const rows = await server.platform.core.db.selectFrom('messages').select(['uid', 'seen']).where('mailbox_id', '=', box.t.mailbox.id).orderBy('uid').execute();
  return rows.map((r) => Number(r.seen));
};

beforeAll(async () => {
  pop3Port = await freePort();
  pop3sPort = await freePort();
  server = await startTestServer({ env: { MAILSTACK_POP3_PORT: String(pop3Port), MAILSTACK_POP3S_PORT: String(pop3sPort), MAILSTACK_LOGIN_MAX_FAILURES: '3' } });
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const d of doors) await d.close();
  await server?.stop();
});

const DOTTY = rawMessage({ subject: 'Dots', text: 'Line one\r\n.starts with a dot\r\n..two dots\r\n.\r\nlast line' });
const BARE_LF = 'From: Bob <bob@sender.example>\nTo: x@example.com\nSubject: Bare LF\n\nfirst\n.dot\rcarriage\r\nmixed\n';

describe('a full session (implicit TLS)', () => {
  let box: Box;
  beforeAll(async () => {
    box = await makeBox([DOTTY, BARE_LF, rawMessage({ subject: 'Third', text: 'three' })]);
  });

  it('answers CAPA, STAT, LIST, UIDL exactly', async () => {
    const c = await connect();
    const capa = await c.cmdMulti('CAPA');
    expect(capa.status).toBe('+OK Capability list follows');
    expect(lines(capa)).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'IMPLEMENTATION Mailstack']);
    const sizes = box.messages.map((m) => m.crlf.length);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(await c.cmd(`USER ${box.t.mailbox.address.toUpperCase()}`)).toBe('+OK Send your password');
    expect(await c.cmd(`PASS ${box.password}`)).toBe(`+OK Logged in: 3 messages (${total} octets)`);
    expect(await c.cmd('STAT')).toBe(`+OK 3 ${total}`);
    const list = await c.cmdMulti('LIST');
    expect(list.status).toBe(`+OK 3 messages (${total} octets)`);
    expect(lines(list)).toEqual(sizes.map((s, i) => `${i + 1} ${s}`));
    expect(await c.cmd('LIST 2')).toBe(`+OK 2 ${sizes[1]}`);
    expect(await c.cmd('LIST 4')).toBe('-ERR No such message');
    expect(await c.cmd('LIST 0')).toBe('-ERR Syntax: a message number is 1 or more');
    expect(await c.cmd('LIST -1')).toBe('-ERR Syntax: a message number is 1 or more');
    expect(await c.cmd('LIST 1 2')).toBe('-ERR Syntax: LIST [msg]');
    expect(await c.cmd('LIST 99999999999999999999')).toBe('-ERR Syntax: a message number is 1 or more');
    const uidl = await c.cmdMulti('UIDL');
    expect(uidl.status).toBe('+OK Unique-ID listing follows');
    const ids = box.messages.map((m) => `${m.uidValidity}.${m.uid}`);
    expect(lines(uidl)).toEqual(ids.map((id, i) => `${i + 1} ${id}`));
    expect(new Set(ids).size).toBe(3);
    expect(await c.cmd('UIDL 3')).toBe(`+OK 3 ${ids[2]}`);
    expect(await c.cmd('NOOP')).toBe('+OK');
    expect(await c.cmd('QUIT')).toBe('+OK Bye (0 messages deleted)');
    await c.waitClosed();
  });

  it('sends messages with CRLF line ends and byte-stuffing; sizes are those octets', async () => {
    const c = await loggedIn(box);
    for (let i = 0; i < 3; i++) {
      const r = await c.cmdMulti(`RETR ${i + 1}`);
      expect(r.status).toBe(`+OK ${box.messages[i].crlf.length} octets`);
      // The data ends with the message's last CRLF; un-stuffed it is the message.
      expect(unstuff(r.data).equals(box.messages[i].crlf)).toBe(true);
    }
    const r1 = await c.cmdMulti('RETR 1');
    expect(r1.data.toString()).toContain('\r\n..starts with a dot\r\n...two dots\r\n..\r\nlast line\r\n');
    const r2 = await c.cmdMulti('RETR 2');
    expect(r2.data.toString('latin1')).toBe('From: Bob <bob@sender.example>\r\nTo: x@example.com\r\nSubject: Bare LF\r\n\r\nfirst\r\n..dot\r\ncarriage\r\nmixed\r\n');
    // Retrieved messages become \Seen at QUIT (the UPDATE state), not before.
    expect(await seenFlags(box)).toEqual([0, 0, 0]);
    expect(await c.cmd('QUIT')).toBe('+OK Bye (0 messages deleted)');
    expect(await seenFlags(box)).toEqual([1, 1, 1]);
  });

  it('answers TOP with the header and the first n body lines, stuffed', async () => {
    const c = await loggedIn(box);
    const crlf = box.messages[0].crlf.toString('latin1');
    const header = crlf.slice(0, crlf.indexOf('\r\n\r\n') + 4);
    const t0 = await c.cmdMulti('TOP 1 0');
    expect(t0.status).toBe('+OK Top of message follows');
    expect(t0.data.toString('latin1')).toBe(header);
    const t2 = await c.cmdMulti('TOP 1 2');
    expect(t2.data.toString('latin1')).toBe(header + 'Line one\r\n..starts with a dot\r\n');
    const all = await c.cmdMulti('TOP 1 1000');
    expect(unstuff(all.data).equals(box.messages[0].crlf)).toBe(true);
    expect(await c.cmd('TOP 1')).toBe('-ERR Syntax: TOP msg n');
    expect(await c.cmd('TOP 1 -1')).toBe('-ERR Syntax: TOP msg n, with n a number of lines (0 or more)');
    expect(await c.cmd('TOP 9 1')).toBe('-ERR No such message');
    await c.cmd('QUIT');
  });

  it('DELE then RSET keeps everything; DELE then a dropped connection keeps everything', async () => {
    const before = await inboxUids(box);
    const c = await loggedIn(box);
    expect(await c.cmd('DELE 1')).toBe('+OK Message 1 deleted');
    expect(await c.cmd('DELE 1')).toBe('-ERR Message 1 already deleted');
    expect(await c.cmd('RETR 1')).toBe('-ERR Message 1 is deleted');
    expect(await c.cmd('LIST 1')).toBe('-ERR Message 1 is deleted');
    const sizes = box.messages.map((m) => m.crlf.length);
    expect(await c.cmd('STAT')).toBe(`+OK 2 ${sizes[1] + sizes[2]}`);
    expect(lines(await c.cmdMulti('LIST'))).toEqual([`2 ${sizes[1]}`, `3 ${sizes[2]}`]);
    expect((await c.cmdMulti('UIDL')).data.toString().startsWith('2 ')).toBe(true);
    expect(await c.cmd('RSET')).toBe(`+OK Maildrop has 3 messages (${sizes[0] + sizes[1] + sizes[2]} octets)`);
    expect(await c.cmd('DELE 2')).toBe('+OK Message 2 deleted');
    c.close(); // no QUIT: no UPDATE state (RFC 1939 §6)
    await new Promise((r) => setTimeout(r, 200));
    expect(await inboxUids(box)).toEqual(before);
    const again = await loggedIn(box);
    expect(await again.cmd('STAT')).toMatch(/^\+OK 3 /);
    await again.cmd('QUIT');
  });

  it('DELE then QUIT removes the messages from the store; the next session renumbers', async () => {
    const c = await loggedIn(box);
    expect(await c.cmd('DELE 1')).toBe('+OK Message 1 deleted');
    expect(await c.cmd('DELE 3')).toBe('+OK Message 3 deleted');
    expect(await c.cmd('QUIT')).toBe('+OK Bye (2 messages deleted)');
    await c.waitClosed();
    expect(await inboxUids(box)).toEqual([box.messages[1].uid]);
    const next = await loggedIn(box);
    expect(await next.cmd('STAT')).toBe(`+OK 1 ${box.messages[1].crlf.length}`);
    expect(await next.cmd('UIDL 1')).toBe(`+OK 1 ${box.messages[1].uidValidity}.${box.messages[1].uid}`);
    await next.cmd('QUIT');
  });
});

describe('states and the maildrop', () => {
  it('refuses commands in the wrong state', async () => {
    const box = await makeBox([rawMessage()]);
    const c = await connect();
    for (const cmd of ['STAT', 'LIST', 'RETR 1', 'DELE 1', 'RSET', 'TOP 1 1', 'UIDL', 'NOOP']) {
      expect(await c.cmd(cmd)).toBe('-ERR Command not valid in this state: log in first');
    }
    expect(await c.cmd('PASS whatever')).toBe('-ERR USER first');
    expect(await c.cmd('APOP a b')).toBe('-ERR APOP is not supported: use USER/PASS or AUTH PLAIN over TLS');
    expect(await c.cmd('FROB')).toBe('-ERR Unknown command');
    expect(await c.cmd('')).toBe('-ERR Syntax error: expected a command');
    expect(await c.cmd('USER')).toBe('-ERR Syntax: USER name');
    expect(await c.cmd(`USER ${box.t.mailbox.address}`)).toBe('+OK Send your password');
    expect(await c.cmd(`PASS ${box.password}`)).toBe(`+OK Logged in: 1 messages (${box.messages[0].crlf.length} octets)`);
    for (const cmd of ['USER x', 'PASS y', 'AUTH PLAIN', 'STLS', 'APOP a b']) {
      expect(await c.cmd(cmd)).toBe('-ERR Command not valid in this state: already logged in');
    }
    expect(await c.cmd('stat')).toMatch(/^\+OK 1 /); // keywords are case-insensitive
    expect(await c.cmd('QUIT')).toBe('+OK Bye (0 messages deleted)');
  });

  it('locks the maildrop: a second session gets [IN-USE] until the first one quits', async () => {
    const box = await makeBox([rawMessage()]);
    const first = await loggedIn(box);
    const second = await connect();
    await second.cmd(`USER ${box.t.mailbox.address}`);
    expect(await second.cmd(`PASS ${box.password}`)).toBe('-ERR [IN-USE] The maildrop is already open in another POP3 session');
    expect(await second.cmd('STAT')).toBe('-ERR Command not valid in this state: log in first');
    await first.cmd('QUIT');
    await first.waitClosed();
    await second.cmd(`USER ${box.t.mailbox.address}`);
    expect(await second.cmd(`PASS ${box.password}`)).toMatch(/^\+OK Logged in: 1 messages/);
    await second.cmd('QUIT');
  });

  it('does not show mail that arrives during a session until the next one', async () => {
    const box = await makeBox([rawMessage({ subject: 'old' })]);
    const c = await loggedIn(box);
    const statBefore = await c.cmd('STAT');
    await appendRaw(server.platform.core, box.t.mailbox, rawMessage({ subject: 'new' }));
    expect(await c.cmd('STAT')).toBe(statBefore);
    expect(await c.cmd('RETR 2')).toBe('-ERR No such message');
    await c.cmd('QUIT');
    const next = await loggedIn(box);
    expect(await next.cmd('STAT')).toMatch(/^\+OK 2 /);
    await next.cmd('QUIT');
  });

  it('answers an empty maildrop', async () => {
    const box = await makeBox([]);
    const c = await loggedIn(box);
    expect(await c.cmd('STAT')).toBe('+OK 0 0');
    expect(await c.cmdMulti('LIST')).toEqual({ status: '+OK 0 messages (0 octets)', data: Buffer.alloc(0) });
    expect(await c.cmdMulti('UIDL')).toEqual({ status: '+OK Unique-ID listing follows', data: Buffer.alloc(0) });
    expect(await c.cmd('RETR 1')).toBe('-ERR No such message');
    await c.cmd('QUIT');
  });
});

describe('authentication', () => {
  it('refuses credentials before TLS, offers STLS, and forgets what was sent before the handshake', async () => {
    const box = await makeBox([rawMessage()]);
    const c = await connect({ tls: false });
    const capa = await c.cmdMulti('CAPA');
    expect(lines(capa)).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'STLS', 'IMPLEMENTATION Mailstack']);
    const refused = '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first';
    expect(await c.cmd(`USER ${box.t.mailbox.address}`)).toBe(refused);
    expect(await c.cmd(`PASS ${box.password}`)).toBe(refused);
    expect(await c.cmd('AUTH PLAIN')).toBe(refused);
    // A command sent in the same packet as STLS must not run inside the TLS session.
    c.send('STLS\r\nCAPA');
    expect(await c.line()).toBe('+OK Begin TLS negotiation');
    await c.startTls();
    const after = await c.cmdMulti('CAPA');
    expect(lines(after)).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'IMPLEMENTATION Mailstack']);
    expect(await c.cmd('STLS')).toBe('-ERR Already under TLS');
    expect(await c.cmd(`USER ${box.t.mailbox.address}`)).toBe('+OK Send your password');
    expect(await c.cmd(`PASS ${box.password}`)).toMatch(/^\+OK Logged in: 1 messages/);
    await c.cmd('QUIT');
  });

  it('takes AUTH PLAIN with an initial response or a continuation, and refuses bad ones', async () => {
    const box = await makeBox([rawMessage()]);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const c = await connect();
    expect(lines(await c.cmdMulti('AUTH'))).toEqual(['PLAIN']);
    expect(await c.cmd('AUTH CRAM-MD5')).toBe('-ERR Unrecognized authentication type: only PLAIN is offered');
    expect(await c.cmd('AUTH PLAIN !!!')).toBe('-ERR [AUTH] Invalid base64 in the PLAIN response');
    expect(await c.cmd(`AUTH PLAIN ${b64('only-one-part')}`)).toBe('-ERR [AUTH] Malformed PLAIN response');
    expect(await c.cmd(`AUTH PLAIN ${b64(`someone@else.example\u0000${box.t.mailbox.address}\u0000${box.password}`)}`)).toBe('-ERR [AUTH] Acting as another user is not allowed');
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd('*')).toBe('-ERR Authentication cancelled');
    expect(await c.cmd('AUTH PLAIN')).toBe('+ ');
    expect(await c.cmd(b64(`\u0000${box.t.mailbox.address}\u0000${box.password}`))).toMatch(/^\+OK Logged in: 1 messages/);
    await c.cmd('QUIT');
    const d = await connect();
    expect(await d.cmd(`AUTH PLAIN ${b64(`${box.t.mailbox.address}\u0000${box.t.mailbox.address}\u0000${box.password}`)}`)).toMatch(/^\+OK Logged in/);
    await d.cmd('QUIT');
  });

  it('answers [AUTH] for a wrong password and [SYS/TEMP] once the account is locked', async () => {
    const box = await makeBox([rawMessage()]);
    const c = await connect();
    for (let i = 0; i < 3; i++) {
      await c.cmd(`USER ${box.t.mailbox.address}`);
      expect(await c.cmd('PASS not-the-password')).toBe('-ERR [AUTH] Invalid user name or password');
    }
    await c.cmd(`USER ${box.t.mailbox.address}`);
    expect(await c.cmd(`PASS ${box.password}`)).toBe('-ERR [SYS/TEMP] Too many failed logins; try again in 15 minutes');
    // Five failures on one connection close it.
    await c.cmd(`USER ${box.t.mailbox.address}`);
    expect(await c.cmd('PASS again')).toMatch(/^-ERR \[SYS\/TEMP\]/);
    await c.waitClosed();
    await server.platform.core.db.deleteFrom('login_throttle').execute();
  });

  it('lets clients log in before TLS when the door allows plaintext auth', async () => {
    const core = server.platform.core;
    const door = await startPop3(core, { port: 0, securePort: 0, host: '127.0.0.1', tls: loadTlsMaterial(core.settings), allowPlaintextAuth: true }).catch(() => null);
    // port 0 means "disabled" in settings; start one on an explicit free port instead.
    expect(door?.ports.pop3 ?? 0).toBe(0);
    const port = await freePort();
    const open = await startPop3(core, { port, securePort: 0, host: '127.0.0.1', tls: loadTlsMaterial(core.settings), allowPlaintextAuth: true });
    doors.push(open);
    if (door) doors.push(door);
    const box = await makeBox([rawMessage()]);
    const c = await connect({ tls: false, port });
    expect((await c.cmdMulti('CAPA')).data.toString()).toContain('USER\r\nSASL PLAIN\r\nSTLS');
    expect(await c.cmd(`USER ${box.t.mailbox.address}`)).toBe('+OK Send your password');
    expect(await c.cmd(`PASS ${box.password}`)).toMatch(/^\+OK Logged in/);
    await c.cmd('QUIT');
  });
});

describe('limits and hostile input', () => {
  let box: Box;
  beforeAll(async () => {
    box = await makeBox([rawMessage()]);
  });

  it('answers a 100 KB line once, then carries on', async () => {
    const c = await connect();
    c.send(Buffer.from('NOOP ' + 'x'.repeat(100 * 1024) + '\r\n'));
    expect(await c.line()).toBe('-ERR Line too long: at most 2048 octets');
    // The same without any line end, split over many writes, then a real command.
    for (let i = 0; i < 10; i++) c.send(Buffer.from('y'.repeat(10 * 1024)));
    c.send(Buffer.from('\r\nCAPA\r\n'));
    expect(await c.line()).toBe('-ERR Line too long: at most 2048 octets');
    expect(await c.line()).toBe('+OK Capability list follows');
    c.close();
  });

  it('refuses NUL bytes and garbage without crashing, and closes after too many bad commands', async () => {
    const c = await connect();
    c.send(Buffer.from('NO\u0000OP\r\n'));
    expect(await c.line()).toBe('-ERR NUL bytes are not allowed in commands');
    c.send(Buffer.from(`USER ${box.t.mailbox.address}\u0000\r\n`));
    expect(await c.line()).toBe('-ERR NUL bytes are not allowed in commands');
    c.send(Buffer.concat([randomBytes(3000).map((b) => (b === 10 ? 32 : b)), Buffer.from('\r\n')]));
    expect(await c.line()).toMatch(/^-ERR /);
    c.send(Buffer.from([0xff, 0xfe, 0x80, 0x0d, 0x0a]));
    expect(await c.line()).toMatch(/^-ERR /);
    for (let i = 0; i < 15; i++) expect(await c.cmd(`BOGUS${i}`)).toMatch(/^-ERR /);
    c.send('BOGUS');
    expect(await c.line()).toBe('-ERR Unknown command');
    expect(await c.line()).toBe('-ERR Too many bad commands; closing the connection');
    await c.waitClosed();
    // The door is still up.
    const d = await loggedIn(box);
    await d.cmd('QUIT');
  });

  it('answers pipelined commands in order, and a flood without losing any', async () => {
    const c = await loggedIn(box);
    c.send('STAT\r\nLIST 1\r\nNOOP\r\nUIDL 1');
    expect(await c.line()).toMatch(/^\+OK 1 \d+$/);
    expect(await c.line()).toMatch(/^\+OK 1 \d+$/);
    expect(await c.line()).toBe('+OK');
    expect(await c.line()).toMatch(/^\+OK 1 \d+\.\d+$/);
    c.send(Buffer.from('NOOP\r\n'.repeat(2000)));
    for (let i = 0; i < 2000; i++) expect(await c.line()).toBe('+OK');
    expect(await c.cmd('QUIT')).toBe('+OK Bye (0 messages deleted)');
  });

  it('logs out an idle client without removing anything, and limits connections per IP', async () => {
    const core = server.platform.core;
    const port = await freePort();
    const door = await startPop3(core, { port: 0, securePort: port, host: '127.0.0.1', tls: loadTlsMaterial(core.settings), idleTimeoutMs: 300, maxConnectionsPerIp: 2 });
    doors.push(door);
    const idle = await connect({ port });
    await idle.cmd(`USER ${box.t.mailbox.address}`);
    await idle.cmd(`PASS ${box.password}`);
    expect(await idle.cmd('DELE 1')).toBe('+OK Message 1 deleted');
    const other = await connect({ port });
    const third = await RawPop3.connect(port, { tls: true });
    clients.push(third);
    expect(await third.line()).toBe('-ERR [SYS/TEMP] Too many connections from your address');
    await third.waitClosed();
    expect(await idle.line(5000)).toBe('-ERR Autologout: idle for too long');
    await idle.waitClosed();
    await other.waitClosed();
    expect(await inboxUids(box)).toEqual([box.messages[0].uid]);
    // Connections closed: the IP may connect again.
    const again = await connect({ port });
    again.close();
  });

  it('on stop, tells open sessions and closes them without removing anything', async () => {
    const core = server.platform.core;
    const port = await freePort();
    const door = await startPop3(core, { port: 0, securePort: port, host: '127.0.0.1', tls: loadTlsMaterial(core.settings), closeTimeoutMs: 5000 });
    const two = await makeBox([rawMessage(), rawMessage()]);
    const quitter = await connect({ port });
    await quitter.cmd(`USER ${two.t.mailbox.address}`);
    await quitter.cmd(`PASS ${two.password}`);
    expect(await quitter.cmd('DELE 1')).toBe('+OK Message 1 deleted');
    const stayer = await connect({ port });
    await stayer.cmd(`USER ${box.t.mailbox.address}`);
    await stayer.cmd(`PASS ${box.password}`);
    expect(await stayer.cmd('DELE 1')).toBe('+OK Message 1 deleted');
    expect(await quitter.cmd('QUIT')).toBe('+OK Bye (1 message deleted)');
    const closing = door.close();
    expect(await stayer.line()).toBe('-ERR [SYS/TEMP] Server shutting down');
    await stayer.waitClosed();
    await closing;
    expect(await inboxUids(two)).toEqual([two.messages[1].uid]);
    expect(await inboxUids(box)).toEqual([box.messages[0].uid]);
    await expect(RawPop3.connect(port, { tls: true })).rejects.toThrow();
  });
});
