// Hostile input over raw sockets: every case gets BAD or NO (or, at worst, BYE and a closed
// connection), the session stays usable where it should, and the server keeps serving others.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImap, type ImapDoor } from './server.ts';
import { type ImapWorld, RawImap, deliver, rawMessage, startImapWorld } from '../testkit/imap.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { systemActor } from '../core/core.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';

let w: ImapWorld;
let quick: ImapDoor;

beforeAll(async () => {
  w = await startImapWorld();
  // A door with a short autologout, for the literal that never comes.
  quick = await startImap(w.core, { port: 0, host: '127.0.0.1', tls: loadTlsMaterial(w.core.settings), implicitTls: false, idleTimeoutMs: 1500, authFailureDelayMs: 0 });
  for (let i = 0; i < 3; i++) await deliver(w, rawMessage({ subject: `H${i}` }));
});
afterAll(async () => {
  await quick?.close();
  await w?.stop();
});

async function session(port = w.plain.port): Promise<RawImap> {
  const c = await RawImap.connect(port);
  expect(await c.cmd('L', `LOGIN ${w.address} ${w.password}`)).toMatch(/^L OK /);
  return c;
}

async function stillAlive(c: RawImap): Promise<void> {
  expect(await c.cmd('alive', 'NOOP')).toBe('alive OK NOOP completed\r\n');
}

describe('hostile input', () => {
  it('unbalanced parentheses and bad syntax are BAD', async () => {
    const c = await session();
    await c.cmd('s', 'SELECT INBOX');
    expect(await c.cmd('a1', 'FETCH 1 (FLAGS')).toBe('a1 BAD Unbalanced parentheses\r\n');
    expect(await c.cmd('a2', 'FETCH 1 FLAGS)')).toBe('a2 BAD Unbalanced parentheses\r\n');
    expect(await c.cmd('a3', 'FETCH 1 (BODY[HEADER.FIELDS (SUBJECT])')).toMatch(/^a3 BAD /);
    expect(await c.cmd('a4', 'FETCH 1 BODY[1.2.3.FOO]')).toBe('a4 BAD Bad section\r\n');
    expect(await c.cmd('a5', 'FETCH 0 FLAGS')).toBe('a5 BAD Bad sequence set\r\n');
    expect(await c.cmd('a6', 'FETCH 4294967296 FLAGS')).toBe('a6 BAD Bad sequence set\r\n');
    expect(await c.cmd('a7', 'FETCH 1:x FLAGS')).toBe('a7 BAD Bad sequence set\r\n');
    expect(await c.cmd('a8', 'SEARCH SINCE 32-Foo-2020')).toBe('a8 BAD Bad date\r\n');
    expect(await c.cmd('a9', 'SEARCH FROBNICATE')).toBe('a9 BAD Unknown search key FROBNICATE\r\n');
    expect(await c.cmd('a10', 'STORE 1 +FLAGS (\\Recent)')).toBe('a10 BAD Flag \\Recent cannot be stored\r\n');
    expect(await c.cmd('a11', 'FETCH 1 "FLAGS')).toBe('a11 BAD Unterminated quoted string\r\n');
    expect(await c.cmd('a12', 'FETCH 1 (FLAGS) (CHANGEDSINCE x)')).toBe('a12 BAD Bad CHANGEDSINCE\r\n');
    expect(await c.cmd('a13', 'UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)')).toMatch(/^a13 BAD VANISHED needs/);
    expect(await c.cmd('a14', 'FETCH1 FLAGS')).toMatch(/^a14 BAD /);
    expect(await c.cmd('a15', 'LIST "" "a\\qb"')).toBe('a15 BAD Bad escape in quoted string\r\n');
    await stillAlive(c);
    c.close();
  });

  it('deep nesting is refused without recursion trouble', async () => {
    const c = await session();
    await c.cmd('s', 'SELECT INBOX');
    expect(await c.cmd('n1', `SEARCH ${'('.repeat(5000)}ALL${')'.repeat(5000)}`)).toBe('n1 BAD Too deeply nested\r\n');
    expect(await c.cmd('n2', `SEARCH ${'NOT '.repeat(5000)}ALL`)).toBe('n2 BAD Search criteria too deeply nested\r\n');
    await stillAlive(c);
    c.close();
  });

  it('a 100 KB line is BAD and the session goes on', async () => {
    const c = await session();
    expect(await c.cmd('big', `NOOP ${'x'.repeat(100 * 1024)}`)).toBe('big BAD Command line too long\r\n');
    await stillAlive(c);
    c.close();
  });

  it('before login: a line with no line feed gets BYE and a closed connection at once, and memory stays bounded', async () => {
    const c = await RawImap.connect(w.plain.port);
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    // 64 MB with no LF, in 1 MB writes, while watching for the server to hang up.
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    for (let i = 0; i < 64 && !c.closed; i++) {
      const ok = c.sock.write(chunk);
      sent += chunk.length;
      if (!ok) await new Promise<void>((resolve) => { c.sock.once('drain', resolve); c.sock.once('close', resolve); });
    }
    await c.waitFor((b) => b.includes('* BYE Command line too long before login'), 5_000).catch(() => undefined);
    for (let i = 0; i < 50 && !c.closed; i++) await new Promise((r) => setTimeout(r, 100));
    expect(c.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The server stopped reading long before 64 MB: far less than that was taken.
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 1024 * 1024);
  });

  it('before login: the largest ID RFC 2971 allows (30 pairs, 1024-octet values) is answered, not cut off', async () => {
    const c = await RawImap.connect(w.plain.port);
    const pairs = Array.from({ length: 30 }, (_, i) => `"field${String(i).padStart(2, '0')}${'f'.repeat(23)}" "${'v'.repeat(1024)}"`).join(' ');
    expect(await c.cmd('id', `ID (${pairs})`)).toMatch(/^\* ID \(.*\)\r\nid OK ID completed\r\n$/);
    expect(await c.cmd('L', `LOGIN "${w.address}" "${w.password}"`)).toMatch(/^L OK /m);
    c.close();
  });

  it('before login: a literal over a few KB (synchronising or not) ends the connection; a normal login still works', async () => {
    for (const lit of ['{100000}', '{100000+}']) {
      const c = await RawImap.connect(w.plain.port);
      c.write(`a LOGIN ${lit}\r\n`);
      await c.waitFor((b) => b.includes('* BYE Literal too large before login'));
      for (let i = 0; i < 50 && !c.closed; i++) await new Promise((r) => setTimeout(r, 100));
      expect(c.closed, lit).toBe(true);
    }
    const ok = await RawImap.connect(w.plain.port);
    const pass = w.password;
    expect(await ok.cmd('L', `LOGIN {${Buffer.byteLength(w.address)}+}\r\n${w.address} {${Buffer.byteLength(pass)}+}\r\n${pass}`)).toMatch(/^L OK /m);
    // After login the larger limits apply: a 20 KB line is an ordinary BAD, not a hang-up.
    const r = await ok.cmd('n', `NOOP ${'x'.repeat(20 * 1024)}`);
    expect(r).toMatch(/^n (OK|BAD) /m);
    expect(r).not.toContain('BYE');
    expect(await ok.cmd('alive', 'NOOP')).toBe('alive OK NOOP completed\r\n');
  });

  it('NUL bytes in a line or a literal are BAD', async () => {
    const c = await session();
    expect(await c.cmd('z1', 'CREATE "a\0b"')).toBe('z1 BAD NUL is not allowed in a command line\r\n');
    c.write('z2 CREATE {3+}\r\na\0b\r\n');
    expect(await c.until('z2')).toBe('z2 BAD NUL in literal (use literal8)\r\n');
    await stillAlive(c);
    c.close();
  });

  it('huge literals: refused before the bytes (synchronising), or BYE (non-synchronising)', async () => {
    const c = await session();
    c.write('h1 CREATE {999999999}\r\n');
    expect(await c.until('h1')).toBe('h1 BAD Literal too large\r\n');
    c.write('h2 APPEND INBOX {999999999}\r\n');
    expect(await c.until('h2')).toBe('h2 NO [TOOBIG] Message too large\r\n');
    await stillAlive(c);
    c.write('h3 APPEND INBOX {999999999999+}\r\nxxxxxxxx');
    await c.waitFor((b) => b.includes('* BYE Literal too large\r\n'));
    await c.waitFor(() => c.closed);
  });

  it('a literal announced and never sent ends with the autologout', async () => {
    const c = await session(quick.port);
    c.write('t1 APPEND INBOX {100}\r\n');
    expect(await c.line()).toBe('+ Ready for literal data');
    c.write('only a few bytes');
    await c.waitFor((b) => b.includes('* BYE Autologout; idle for too long\r\n'), 10_000);
    await c.waitFor(() => c.closed);
  });

  it('an empty line, a missing command and random binary garbage end in BYE, not a crash', async () => {
    const c = await session();
    c.write('\r\n');
    expect(await c.line()).toBe('* BAD Empty command line');
    expect(await c.cmd('m1', '')).toBe('m1 BAD Missing command\r\n');
    for (let i = 0; i < 40; i++) c.write(Buffer.concat([randomBytes(200).map((b) => (b === 10 ? 11 : b)), Buffer.from('\r\n')]));
    await c.waitFor((b) => b.includes('* BYE Too many invalid commands\r\n'));
    await c.waitFor(() => c.closed);
    // The server still serves everyone else.
    const d = await session();
    await stillAlive(d);
    d.close();
  });

  it('failed logins end the connection after five tries', async () => {
    const c = await RawImap.connect(w.plain.port);
    for (let i = 1; i <= 4; i++) expect(await c.cmd(`f${i}`, `LOGIN nobody@nowhere.example wrong${i}`)).toBe(`f${i} NO [AUTHENTICATIONFAILED] Invalid user name or password\r\n`);
    expect(await c.cmd('f5', 'LOGIN nobody@nowhere.example wrong5')).toBe('* BYE Too many failed logins\r\nf5 NO [AUTHENTICATIONFAILED] Invalid user name or password\r\n');
    await c.waitFor(() => c.closed);
    expect(await (await RawImap.connect(w.plain.port)).cmd('x', 'AUTHENTICATE PLAIN !!notbase64!!')).toBe('x BAD Invalid base64\r\n');
  });

  it('an account locked by the throttle answers NO [UNAVAILABLE], even with the right password', async () => {
    const other = await createTestMailbox(w.core, { workspaceId: w.box.workspaceId, domainName: w.box.domainName });
    const pw = await createAppPassword(w.core, systemActor, other.workspaceId, other.mailbox.id, { name: 'x' });
    const user = other.mailbox.address;
    let locked = '';
    for (let i = 0; i < 8 && !locked; i++) {
      const c = await RawImap.connect(w.plain.port);
      const r = await c.cmd('w', `LOGIN ${user} wrong${i}`);
      if (r.includes('[UNAVAILABLE]')) locked = r;
      else expect(r).toBe('w NO [AUTHENTICATIONFAILED] Invalid user name or password\r\n');
      c.close();
    }
    expect(locked).toMatch(/^w NO \[UNAVAILABLE\] Too many failed logins; try again in \d+ seconds\r\n$/);
    const c = await RawImap.connect(w.plain.port);
    expect(await c.cmd('r', `LOGIN ${user} ${pw.password}`)).toMatch(/^r NO \[UNAVAILABLE\] /);
    c.close();
  });

  it('a thousand pipelined commands are answered in order', async () => {
    const c = await session();
    c.write(Array.from({ length: 1000 }, (_, i) => `p${i} NOOP\r\n`).join(''));
    const all = await c.until('p999');
    const tags = [...all.matchAll(/^(p\d+) OK/gm)].map((m) => m[1]);
    expect(tags.length).toBe(1000);
    expect(tags[0]).toBe('p0');
    expect(tags[999]).toBe('p999');
    c.close();
  });

  it('a client that disconnects mid-literal or mid-IDLE does not hurt the server', async () => {
    const c = await session();
    c.write('x1 APPEND INBOX {50}\r\n');
    await c.line();
    c.write('From: x');
    c.close();
    const d = await session();
    await d.cmd('s', 'SELECT INBOX');
    d.write('i IDLE\r\n');
    expect(await d.line()).toBe('+ idling');
    d.close();
    const e = await session();
    await stillAlive(e);
    e.close();
  });
});
