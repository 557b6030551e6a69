// The MX door on the wire, with a bare client that shows every reply as written: the extensions
// it advertises, one RFC 3463 enhanced code on every reply that should carry one (RFC 2034), the
// limits (recipients, connections per address, idle timeouts of RFC 5321 §4.5.3.2), and hostile
// clients: 100 KB lines, NUL bytes, commands out of order, a client that stops mid-DATA.
import net from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../config/settings.ts';
import type { SendingDomain } from '../domains/domains.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { dsn } from '../testkit/reports.ts';
import { send, until, verifiedDomain } from '../testkit/remote-mx.ts';
import { verpAddress } from '../outbound/verp.ts';
import { openCore } from '../platform.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';
import { createTestDatabase } from '../testkit/store.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { type MxDoor, startMx } from './mx.ts';
import { RawSmtp, type SmtpReply, freePort } from '../testkit/smtp-client.ts';

let server: TestServer;
let dns: TestDns;
let port: number;
let ws: string;
let domain: SendingDomain;
let postmaster: string;
const doors: MxDoor[] = [];

beforeAll(async () => {
  dns = await startTestDns();
  port = await freePort();
  server = await startTestServer({
    env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_WORKER_CONCURRENCY: '0' },
  });
  ws = (await server.setup('owner@example.com', 'W')).workspaceId;
  domain = await verifiedDomain(server.platform.core, dns, ws, 'wire.example.com');
  postmaster = `postmaster@${domain.returnPathHost}`;
}, 60_000);
afterAll(async () => {
  for (const d of doors) await d.close();
  await server?.stop();
  await dns?.close();
});

const core = () => server.platform.core;

/** A second door on the same core with its own options (small limits, short timeouts). */
async function door(opts: Partial<Parameters<typeof startMx>[1]>): Promise<MxDoor> {
  const d = await startMx(core(), { port: 0, host: '127.0.0.1', tls: loadTlsMaterial(core().settings), closeTimeoutMs: 1000, ...opts });
  doors.push(d);
  return d;
}

async function ehlo(p = port) {
  const { client, greeting } = await RawSmtp.connect(p);
  expect(greeting.code).toBe(220);
  const reply = await client.command('EHLO client.remote.test');
  expect(reply.code).toBe(250);
  return { client, greeting, ehlo: reply };
}

const ENHANCED = /^(\d)\d\d[ -]([245])\.\d{1,3}\.\d{1,3} /;

/** Every line of the reply carries one enhanced code (RFC 2034 §3), of the reply's class, once. */
function oneCode(reply: SmtpReply, expected?: string) {
  for (const line of reply.lines) {
    const m = ENHANCED.exec(line);
    expect(m, line).not.toBeNull();
    expect(m![2], line).toBe(m![1]);
    expect(line.slice(m![0].length), `${line}: a second code`).not.toMatch(/^[245]\.\d{1,3}\.\d{1,3}\b/);
    if (expected) expect(line.slice(4, 4 + expected.length + 1), line).toBe(`${expected} `);
  }
  return reply;
}

/** An email sent from the workspace, whose VERP return path takes a DSN. */
async function sentTo(address: string) {
  const emailId = await send(core(), ws, domain, [address]);
  const r = await core().db.selectFrom('email_recipients').selectAll().where('email_id', '=', emailId).executeTakeFirstOrThrow();
  return { id: r.id, verp: verpAddress(r.verp_token, domain.returnPathHost) };
}
const statusOf = async (id: string) => (await core().db.selectFrom('email_recipients').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

describe('extensions (EHLO)', () => {
  it('advertises PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS and SIZE, and no AUTH or DSN', async () => {
    const { client, greeting, ehlo: reply } = await ehlo();
    // The greeting and the EHLO reply carry no enhanced code (RFC 2034 §3).
    expect(greeting.text).toMatch(/^220 mx\.mailstack\.test ESMTP/);
    expect(reply.lines[0]).toMatch(/^250-mx\.mailstack\.test /);
    const ext = reply.lines.slice(1).map((l) => l.slice(4));
    expect(ext.sort()).toEqual(['8BITMIME', 'ENHANCEDSTATUSCODES', 'PIPELINING', 'SIZE 52428800', 'SMTPUTF8', 'STARTTLS']);
    await client.quit();
  });

  it('advertises the configured SIZE', async () => {
    const small = await door({ maxMessageBytes: 10_000 });
    const { client, ehlo: reply } = await ehlo(small.port);
    expect(reply.lines.map((l) => l.slice(4))).toContain('SIZE 10000');
    await client.quit();
  });
});

describe('enhanced status codes (RFC 2034, RFC 3463): exactly one, the right one', () => {
  it('on every reply of a transaction, ours and smtp-server\'s', async () => {
    const { client } = await ehlo();
    oneCode(await client.command('NOOP'), '2.0.0');
    oneCode(await client.command('MAIL FROM:<sender@remote.test>'), '2.1.0');
    oneCode(await client.command(`RCPT TO:<nobody@${domain.returnPathHost}>`), '5.1.1');
    const relay = oneCode(await client.command('RCPT TO:<someone@gmail.com>'), '5.7.1');
    expect(relay.text).toMatch(/^550 5\.7\.1 Relaying denied/);
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '2.1.5');
    const go = await client.command('DATA');
    expect(go.text).toMatch(/^354 /);
    expect(go.text).not.toMatch(/^354 \d\.\d/);
    client.write('Subject: hello\r\n\r\nnot a report\r\n.\r\n');
    oneCode(await client.read(), '2.0.0');
    oneCode(await client.command('RSET'), '2.0.0');
    oneCode(await client.command('VRFY postmaster'));
    oneCode(await client.command('HELP'));
    oneCode(await client.command('FROBNICATE'), '5.5.2');
    const bye = oneCode(await client.command('QUIT'), '2.0.0');
    expect(bye.code).toBe(221);
  });

  it('on refusals: bad sequence 5.5.1, too many recipients 4.5.3, too big 5.3.4, syntax 5.x', async () => {
    const limited = await door({ maxRecipients: 1, maxMessageBytes: 4096 });
    const { client } = await ehlo(limited.port);
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '5.5.1');
    oneCode(await client.command('DATA'), '5.5.1');
    oneCode(await client.command('MAIL FROM:<a@remote.test>'), '2.1.0');
    oneCode(await client.command('MAIL FROM:<a@remote.test>'), '5.5.1');
    oneCode(await client.command('DATA'), '5.5.1');
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '2.1.5');
    const second = oneCode(await client.command(`RCPT TO:<abuse@${domain.returnPathHost}>`), '4.5.3');
    expect(second.code).toBe(452);
    const big = await client.data(`Subject: big\r\n\r\n${'y'.repeat(900)}\r\n`.repeat(10));
    expect(big.code).toBe(552);
    oneCode(big, '5.3.4');
    oneCode(await client.command('MAIL FROM:<a@remote.test> SIZE=5000'), '5.3.4');
    oneCode(await client.command('MAIL FROM:<not an address>'));
    expect((await client.command('MAIL FROM:<not an address>')).code).toBeGreaterThanOrEqual(500);
    await client.quit();
  });

  it('passes the router\'s and delivery\'s own codes through unchanged: over quota is 452 4.2.2, once', async () => {
    const full = await createTestMailbox(core(), { address: 'full@quota-wire.example.com', quotaBytes: 0 });
    // Same workspace: a domain has one owner on the node (issue 9), so a second workspace's copy would not receive.
    const small = await createTestMailbox(core(), { workspaceId: full.workspaceId, address: 'small@quota-wire.example.com', quotaBytes: 1000 });
    const { client } = await ehlo();
    oneCode(await client.command('MAIL FROM:<a@remote.test>'), '2.1.0');
    // At RCPT, a mailbox already at its quota (the router's answer).
    const atRcpt = oneCode(await client.command(`RCPT TO:<${full.mailbox.address}>`), '4.2.2');
    expect(atRcpt.code).toBe(452);
    // At DATA, a message that does not fit in what is left (delivery's answer).
    oneCode(await client.command(`RCPT TO:<${small.mailbox.address}>`), '2.1.5');
    const atData = oneCode(await client.data(`Subject: big\r\n\r\n${'z'.repeat(3000)}\r\n`), '4.2.2');
    expect(atData.code).toBe(452);
    await client.quit();
  });

  it('passes a store failure through as 451 4.3.0, once', async () => {
    // A core whose store is gone: the router cannot answer, the door says "try again later".
    const db = await createTestDatabase();
    const broken = await openCore(loadSettings({ MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_DNS_SERVERS: dns.address }), pino({ level: 'silent' }));
    await broken.store.close();
    const d = await startMx(broken, { port: 0, host: '127.0.0.1', tls: loadTlsMaterial(core().settings), closeTimeoutMs: 1000 });
    try {
      const { client } = await ehlo(d.port);
      oneCode(await client.command('MAIL FROM:<a@remote.test>'), '2.1.0');
      const r = oneCode(await client.command(`RCPT TO:<${postmaster}>`), '4.3.0');
      expect(r.code).toBe(451);
      await client.quit();
    } finally {
      await d.close();
      await db.drop();
    }
  });
});

describe('PIPELINING, 8BITMIME, SMTPUTF8', () => {
  it('answers a pipelined batch in order (RFC 2920)', async () => {
    const { client } = await ehlo();
    client.write(`MAIL FROM:<a@remote.test>\r\nRCPT TO:<${postmaster}>\r\nRCPT TO:<x@gmail.com>\r\nRCPT TO:<abuse@${domain.returnPathHost}>\r\nDATA\r\n`);
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await client.read());
    expect(replies.map((r) => r.text.slice(0, 9))).toEqual(['250 2.1.0', '250 2.1.5', '550 5.7.1', '250 2.1.5', '354 End d']);
    client.write('Subject: piped\r\n\r\nbody\r\n.\r\nNOOP\r\n');
    expect((await client.read()).text).toMatch(/^250 2\.0\.0 /);
    expect((await client.read()).text).toMatch(/^250 2\.0\.0 /);
    await client.quit();
  });

  it('takes BODY=8BITMIME and an internationalised sender with SMTPUTF8 (RFC 6152, RFC 6531)', async () => {
    const { client } = await ehlo();
    oneCode(await client.command('MAIL FROM:<a@remote.test> BODY=8BITMIME'), '2.1.0');
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '2.1.5');
    const eight = await client.data(Buffer.from('Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nUn café, s\u2019il vous plaît.\r\n', 'utf8'));
    oneCode(eight, '2.0.0');
    oneCode(await client.command('MAIL FROM:<jörg@bücher.test> SMTPUTF8'), '2.1.0');
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '2.1.5');
    oneCode(await client.data(Buffer.from('From: jörg@bücher.test\r\nSubject: Grüße\r\n\r\nHallo\r\n', 'utf8')), '2.0.0');
    await client.quit();
  });
});

describe('connections per client address', () => {
  it('refuses the connection past the limit with 421 4.7.0 and closes it; others and later ones are served', async () => {
    const d = await door({ maxConnectionsPerIp: 2 });
    const a = await RawSmtp.connect(d.port);
    const b = await RawSmtp.connect(d.port);
    expect(a.greeting.code).toBe(220);
    expect(b.greeting.code).toBe(220);
    const c = await RawSmtp.connect(d.port);
    expect(c.greeting.text).toBe('421 4.7.0 Too many connections from your address; try again later');
    await expect(c.client.read(5000)).rejects.toThrow(/closed/);
    expect(c.client.closed).toBe(true);

    // Another address (127.0.0.2 is loopback too on Linux) has its own count.
    const other = await rawConnect(d.port, '127.0.0.2');
    expect(other.greeting).toMatch(/^220 /);
    other.socket.destroy();

    // The sessions already open go on working.
    expect((await a.client.command('EHLO a.test')).code).toBe(250);
    // Once one ends, a new connection from the same address is served.
    await a.client.quit();
    const d2 = await until('a free slot', async () => {
      const next = await RawSmtp.connect(d.port);
      if (next.greeting.code === 220) return next;
      next.client.destroy();
      return null;
    });
    expect(d2.greeting.code).toBe(220);
    await d2.client.quit();
    await b.client.quit();
  });
});

/** A plain socket from a chosen local address; resolves with the first reply line. */
function rawConnect(port: number, localAddress: string): Promise<{ socket: net.Socket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\r\n');
      if (nl >= 0) resolve({ socket, greeting: buf.slice(0, nl) });
    });
    socket.once('error', reject);
  });
}

describe('timeouts (RFC 5321 §4.5.3.2)', () => {
  it('closes an idle session with 421 4.4.2', async () => {
    const d = await door({ socketTimeoutMs: 300 });
    const { client } = await ehlo(d.port);
    const timeout = await client.read(10_000);
    expect(timeout.text).toMatch(/^421 4\.4\.2 /);
    await expect(client.read(5000)).rejects.toThrow(/closed/);
  });

  it('closes a session that stops mid-DATA, and delivers nothing of it', async () => {
    const d = await door({ socketTimeoutMs: 300 });
    const r = await sentTo('stalled@remote.test');
    const { client } = await ehlo(d.port);
    oneCode(await client.command('MAIL FROM:<>'), '2.1.0');
    oneCode(await client.command(`RCPT TO:<${r.verp}>`), '2.1.5');
    expect((await client.command('DATA')).code).toBe(354);
    // A whole DSN, but never the final dot.
    client.write(dsn({ to: r.verp, finalRecipient: 'stalled@remote.test' }).replace(/\r?\n/g, '\r\n'));
    const timeout = await client.read(10_000);
    expect(timeout.text).toMatch(/^421 4\.4\.2 /);
    await expect(client.read(5000)).rejects.toThrow(/closed/);
    expect(await statusOf(r.id)).toBe('sent');

    // The same DSN in full is taken: the message above was not refused for what it said.
    const { client: again } = await ehlo(d.port);
    await again.command('MAIL FROM:<>');
    await again.command(`RCPT TO:<${r.verp}>`);
    oneCode(await again.data(dsn({ to: r.verp, finalRecipient: 'stalled@remote.test' })), '2.0.0');
    await again.quit();
    expect(await statusOf(r.id)).toBe('bounced');
  });

  it('delivers nothing when the client disconnects mid-DATA, and keeps serving', async () => {
    const r = await sentTo('vanished@remote.test');
    const { client } = await ehlo();
    await client.command('MAIL FROM:<>');
    await client.command(`RCPT TO:<${r.verp}>`);
    expect((await client.command('DATA')).code).toBe(354);
    client.write(dsn({ to: r.verp, finalRecipient: 'vanished@remote.test' }).replace(/\r?\n/g, '\r\n'));
    client.destroy();
    const next = await ehlo();
    oneCode(await next.client.command('NOOP'), '2.0.0');
    await next.client.quit();
    expect(await statusOf(r.id)).toBe('sent');
  });
});

describe('hostile clients', () => {
  it('answers a 100 KB command line with 421 and closes; the door keeps serving', async () => {
    const { client } = await ehlo();
    client.write(`MAIL FROM:<${'a'.repeat(100 * 1024)}@remote.test>\r\n`);
    const reply = await client.read();
    expect(reply.text).toMatch(/^421 4\.\d\.\d .*too long/i);
    oneCode(reply);
    await expect(client.read(5000)).rejects.toThrow(/closed/);
    const next = await ehlo();
    await next.client.quit();
  });

  it('refuses NUL bytes in commands and addresses with 5xx', async () => {
    const { client } = await RawSmtp.connect(port);
    expect((await client.command('EHLO bad\u0000host')).code).toBe(501);
    expect((await client.command('EHLO client.test')).code).toBe(250);
    const from = await client.command('MAIL FROM:<a\u0000b@remote.test>');
    expect(from.code).toBeGreaterThanOrEqual(500);
    oneCode(from);
    oneCode(await client.command('MAIL FROM:<a@remote.test>'), '2.1.0');
    const rcpt = await client.command(`RCPT TO:<post\u0000master@${domain.returnPathHost}>`);
    expect(rcpt.code).toBeGreaterThanOrEqual(500);
    oneCode(rcpt);
    const cmd = await client.command('NO\u0000OP');
    expect(cmd.code).toBeGreaterThanOrEqual(500);
    oneCode(cmd);
    // A message with NUL bytes is an answer too, not a crash.
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '2.1.5');
    const data = await client.data(Buffer.from('Subject: a\u0000b\r\n\r\n\u0000\u0000\r\n', 'latin1'));
    expect([250, 554]).toContain(data.code);
    oneCode(data);
    await client.quit();
  });

  it('answers commands in the wrong order and before EHLO with 503 5.5.1', async () => {
    const { client } = await RawSmtp.connect(port);
    oneCode(await client.command('MAIL FROM:<a@remote.test>'), '5.5.1');
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '5.5.1');
    oneCode(await client.command('DATA'), '5.5.1');
    expect((await client.command('EHLO client.test')).code).toBe(250);
    oneCode(await client.command('DATA'), '5.5.1');
    oneCode(await client.command(`RCPT TO:<${postmaster}>`), '5.5.1');
    oneCode(await client.command('AUTH PLAIN AHVAcA=='));
    expect((await client.command('BDAT 10 LAST')).code).toBeGreaterThanOrEqual(500);
    await client.quit();
  });

  it('survives binary noise and a flood of unknown commands', async () => {
    const { client } = await ehlo();
    client.write(Buffer.from(Array.from({ length: 2000 }, (_, i) => ((i * 131) % 255) + 1).map((b) => (b === 10 || b === 13 ? 32 : b))));
    client.write('\r\n');
    const noise = await client.read();
    expect(noise.code).toBeGreaterThanOrEqual(500);
    // smtp-server ends the session after repeated unknown commands (421), it never hangs.
    let last: SmtpReply = noise;
    for (let i = 0; i < 20 && last.code !== 421; i++) {
      try {
        last = await client.command(`XYZZY${i}`);
      } catch {
        break;
      }
    }
    expect(last.code).toBe(421);
    const next = await ehlo();
    await next.client.quit();
  });
});
