// The MX door over real sockets (nodemailer, Python's smtplib, and a bare client that shows each
// reply as written): DSNs and ARF reports sent to our return paths change the right recipient,
// suppress the right address in the right workspace, and are acknowledged only once committed;
// relaying is refused, unknown users get 5.1.1, STARTTLS works, SIZE is enforced, and hostile MIME
// gets a clear answer without hurting the server.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendingDomain } from '../domains/domains.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { arf, dsn } from '../testkit/reports.ts';
import { send, verifiedDomain } from '../testkit/remote-mx.ts';
import { findSuppression } from '../outbound/suppressions.ts';
import { verpAddress } from '../outbound/verp.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { startMx } from './mx.ts';
import { RawSmtp, freePort } from '../testkit/smtp-client.ts';

let server: TestServer;
let dns: TestDns;
let port: number;
let ca: Buffer;
let wsA: string;
let wsB: string;
let domainA: SendingDomain;
let domainB: SendingDomain;

beforeAll(async () => {
  dns = await startTestDns();
  port = await freePort();
  server = await startTestServer({
    env: {
      MAILSTACK_SMTP_PORT: String(port),
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
      // No delivery worker: the tests decide what happens to each message.
      MAILSTACK_WORKER_CONCURRENCY: '0',
    },
  });
  const core = server.platform.core;
  wsA = (await server.setup('owner-a@example.com', 'A')).workspaceId;
  wsB = (await server.setup('owner-b@example.com', 'B')).workspaceId;
  domainA = await verifiedDomain(core, dns, wsA, 'bounce.example.com');
  domainB = await verifiedDomain(core, dns, wsB, 'other.example.com');
  ca = readFileSync(path.join(server.db.dataDir, 'tls', 'self-signed.crt'));
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await dns?.close();
});

const db = () => server.platform.core.db;

/** Sends one message from workspace A (or B) to `address`; returns its recipient row. */
async function sentTo(address: string, ws: 'A' | 'B' = 'A') {
  const emailId = await send(server.platform.core, ws === 'A' ? wsA : wsB, ws === 'A' ? domainA : domainB, [address]);
  const r = await db().selectFrom('email_recipients').selectAll().where('email_id', '=', emailId).executeTakeFirstOrThrow();
  const email = await db().selectFrom('emails').select('message_id').where('id', '=', emailId).executeTakeFirstOrThrow();
  expect(r.status).toBe('sent');
  return { ...r, emailId, messageId: email.message_id, verp: verpAddress(r.verp_token, (ws === 'A' ? domainA : domainB).returnPathHost) };
}

const recipient = (id: string) => db().selectFrom('email_recipients').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const eventsOf = async (emailId: string) =>
  (await db().selectFrom('event_records').select(['type', 'payload']).orderBy('id').execute())
    .map((e) => ({ type: e.type, payload: JSON.parse(e.payload) }))
    .filter((e) => e.payload.data.email_id === emailId || e.payload.data.source_id === emailId);

function transport() {
  return nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { ca }, name: 'mx.remote.test' });
}

/** A session that has said EHLO and MAIL FROM:<> (the null reverse-path of a DSN, RFC 5321 §4.5.5). */
async function session() {
  const { client, greeting } = await RawSmtp.connect(port);
  expect(greeting.code).toBe(220);
  expect((await client.command('EHLO mx.remote.test')).code).toBe(250);
  expect((await client.command('MAIL FROM:<>')).code).toBe(250);
  return client;
}

describe('bounces (RFC 3464 DSN)', () => {
  it('takes a permanent DSN from nodemailer: recipient bounced, address suppressed, events recorded', async () => {
    const r = await sentTo('Hard@Remote.test');
    const info = await transport().sendMail({ envelope: { from: '', to: [r.verp] }, raw: dsn({ to: r.verp, finalRecipient: 'hard@remote.test' }) });
    expect(info.response).toMatch(/^250 2\.0\.0 /);
    expect(info.accepted).toEqual([r.verp]);

    const after = await recipient(r.id);
    expect(after.status).toBe('bounced');
    expect(after.last_response).toContain('5.1.1');
    expect(after.last_response).toContain('User unknown');
    const s = await findSuppression(db(), wsA, 'hard@remote.test');
    expect(s).toMatchObject({ origin: 'bounce', source_id: r.emailId });
    expect(s!.reason).toContain('User unknown');

    const events = await eventsOf(r.emailId);
    const bounced = events.filter((e) => e.type === 'email.bounced');
    expect(bounced).toHaveLength(1);
    expect(bounced[0].payload.data).toMatchObject({ email_id: r.emailId, to: ['hard@remote.test'], bounce: { type: 'Permanent', subType: 'NoEmail' } });
    expect(bounced[0].payload.data.bounce.message).toContain('User unknown');
    expect(events.some((e) => e.type === 'suppression.added' && e.payload.data.email === 'hard@remote.test')).toBe(true);
    const audit = await db().selectFrom('audit_log').selectAll().where('target_id', '=', s!.id).execute();
    expect(audit).toEqual([expect.objectContaining({ action: 'suppression.added', actor_type: 'system', workspace_id: wsA })]);

    // The same DSN again (a remote MTA retrying): accepted, nothing happens twice.
    await transport().sendMail({ envelope: { from: '', to: [r.verp] }, raw: dsn({ to: r.verp, finalRecipient: 'hard@remote.test' }) });
    expect((await eventsOf(r.emailId)).filter((e) => e.type === 'email.bounced')).toHaveLength(1);

    // The pipeline now refuses the address in A, and only in A.
    const again = await sentTo.call(null, 'other@remote.test');
    expect(again.status).toBe('sent');
    const emailId = await send(server.platform.core, wsA, domainA, ['hard@remote.test']);
    const second = await db().selectFrom('email_recipients').select('status').where('email_id', '=', emailId).executeTakeFirstOrThrow();
    expect(second.status).toBe('suppressed');
    expect(await findSuppression(db(), wsB, 'hard@remote.test')).toBeUndefined();
    const inB = await sentTo('hard@remote.test', 'B');
    expect(inB.status).toBe('sent');
  });

  it('takes a transient failure from Python smtplib over STARTTLS: bounced Transient, not suppressed', async () => {
    const r = await sentTo('full@remote.test');
    const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
msg = sys.stdin.buffer.read()
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='mx.remote.test', timeout=20) as s:
    s.starttls(context=ctx)
    s.ehlo('mx.remote.test')
    refused = s.sendmail('', [sys.argv[2]], msg)
    print('refused', refused, s.sock.version())
`;
    const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      // Asynchronously: the server answering it runs in this process.
      const child = spawn('python3', ['-c', script, String(port), r.verp, path.join(server.db.dataDir, 'tls', 'self-signed.crt')], { timeout: 30_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('close', () => resolve({ stdout, stderr }));
      child.stdin.end(dsn({ to: r.verp, finalRecipient: 'full@remote.test', status: '4.2.2', diagnostic: 'smtp; 452 4.2.2 Mailbox full' }));
    });
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toMatch(/^refused \{\} TLSv1\.[23]$/);
    const after = await recipient(r.id);
    expect(after.status).toBe('bounced');
    const bounced = (await eventsOf(r.emailId)).find((e) => e.type === 'email.bounced');
    expect(bounced?.payload.data.bounce).toEqual({ type: 'Transient', subType: 'MailboxFull', message: 'smtp; 452 4.2.2 Mailbox full' });
    expect(await findSuppression(db(), wsA, 'full@remote.test')).toBeUndefined();
  });

  it('changes nothing for Action: delayed', async () => {
    const r = await sentTo('slow@remote.test');
    const s = await session();
    expect((await s.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
    const reply = await s.data(dsn({ to: r.verp, finalRecipient: 'slow@remote.test', action: 'delayed', status: '4.4.7' }));
    expect(reply.text).toMatch(/^250 2\.0\.0 /);
    await s.quit();
    expect((await recipient(r.id)).status).toBe('sent');
    expect((await eventsOf(r.emailId)).map((e) => e.type)).toEqual(['email.sent']);
    expect(await findSuppression(db(), wsA, 'slow@remote.test')).toBeUndefined();
  });

  it('accepts and drops a report that maps to nothing, and a message that is no report', async () => {
    const r = await sentTo('plain@remote.test');
    const s = await session();
    expect((await s.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
    // An auto-reply to the return path is not a bounce.
    const reply = await s.data('From: plain@remote.test\r\nSubject: Out of office\r\n\r\nI am away until Monday.\r\n');
    expect(reply.text).toMatch(/^250 2\.0\.0 .*dropped/);
    // A DSN to postmaster@ that names no message of ours.
    expect((await s.command('MAIL FROM:<>')).code).toBe(250);
    expect((await s.command(`RCPT TO:<postmaster@${domainA.returnPathHost}>`)).code).toBe(250);
    const stray = await s.data(dsn({ to: `postmaster@${domainA.returnPathHost}`, finalRecipient: 'who@remote.test', original: { messageId: '<not-ours@elsewhere>' } }));
    expect(stray.code).toBe(250);
    await s.quit();
    expect((await recipient(r.id)).status).toBe('sent');
  });
});

describe('complaints (RFC 5965 ARF)', () => {
  it('marks the recipient complained and suppresses the address, at its VERP address', async () => {
    const r = await sentTo('angry@remote.test');
    const info = await transport().sendMail({ envelope: { from: 'fbl@remote.test', to: [r.verp] }, raw: arf({ to: r.verp, originalRcptTo: 'angry@remote.test' }) });
    expect(info.response).toMatch(/^250 /);
    expect((await recipient(r.id)).status).toBe('complained');
    expect(await findSuppression(db(), wsA, 'angry@remote.test')).toMatchObject({ origin: 'complaint', source_id: r.emailId });
    const types = (await eventsOf(r.emailId)).map((e) => e.type);
    expect(types).toContain('email.complained');
    expect(types).toContain('suppression.added');
  });

  it('maps a report sent to abuse@ by the returned message\'s Return-Path, or by Original-Rcpt-To and Message-ID', async () => {
    const byReturnPath = await sentTo('fbl1@remote.test');
    const byMessageId = await sentTo('fbl2@remote.test');
    const s = await session();
    expect((await s.command(`RCPT TO:<abuse@${domainA.returnPathHost}>`)).code).toBe(250);
    const one = await s.data(arf({ to: `abuse@${domainA.returnPathHost}`, originalRcptTo: null, original: { returnPath: byReturnPath.verp, to: 'fbl1@remote.test' } }));
    expect(one.code).toBe(250);
    expect((await s.command('MAIL FROM:<fbl@remote.test>')).code).toBe(250);
    expect((await s.command(`RCPT TO:<Postmaster@${domainA.returnPathHost.toUpperCase()}>`)).code).toBe(250);
    const two = await s.data(arf({ to: `postmaster@${domainA.returnPathHost}`, originalRcptTo: 'fbl2@remote.test', original: { messageId: byMessageId.messageId } }));
    expect(two.code).toBe(250);
    await s.quit();
    expect((await recipient(byReturnPath.id)).status).toBe('complained');
    expect((await recipient(byMessageId.id)).status).toBe('complained');
    expect(await findSuppression(db(), wsA, 'fbl1@remote.test')).toMatchObject({ origin: 'complaint' });
    expect(await findSuppression(db(), wsA, 'fbl2@remote.test')).toMatchObject({ origin: 'complaint' });
  });

  it('does not let a report at another tenant\'s return-path host touch A\'s recipients', async () => {
    const r = await sentTo('walled@remote.test');
    const s = await session();
    // A's token at B's host is unknown there.
    const cross = await s.command(`RCPT TO:<${verpAddress(r.verp_token, domainB.returnPathHost)}>`);
    expect(cross.text).toMatch(/^550 5\.1\.1 /);
    // A report at B's abuse@ naming A's message by every means it has.
    expect((await s.command(`RCPT TO:<abuse@${domainB.returnPathHost}>`)).code).toBe(250);
    const reply = await s.data(arf({ to: `abuse@${domainB.returnPathHost}`, originalRcptTo: 'walled@remote.test', original: { returnPath: r.verp, messageId: r.messageId } }));
    expect(reply.code).toBe(250);
    await s.quit();
    expect((await recipient(r.id)).status).toBe('sent');
    expect(await findSuppression(db(), wsA, 'walled@remote.test')).toBeUndefined();
    expect(await findSuppression(db(), wsB, 'walled@remote.test')).toBeUndefined();
  });

  it('changes nothing for a feedback type other than abuse', async () => {
    const r = await sentTo('notspam@remote.test');
    const s = await session();
    expect((await s.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
    expect((await s.data(arf({ to: r.verp, feedbackType: 'not-spam', originalRcptTo: 'notspam@remote.test' }))).code).toBe(250);
    await s.quit();
    expect((await recipient(r.id)).status).toBe('sent');
  });
});

describe('the door: relaying, unknown users, extensions', () => {
  it('refuses relaying with 550 5.7.1 and unknown users with 550 5.1.1, and never relays', async () => {
    const r = await sentTo('known@remote.test');
    const s = await session();
    for (const rcpt of ['someone@gmail.com', `someone@${domainA.name}`, `${r.verp.split('@')[0]}@gmail.com`, `${r.verp.split('@')[0]}@${domainA.name}`, 'postmaster@gmail.com']) {
      const reply = await s.command(`RCPT TO:<${rcpt}>`);
      expect(reply.text, rcpt).toMatch(/^550 5\.7\.1 Relaying denied/);
    }
    for (const rcpt of [`bounce+${'0'.repeat(24)}@${domainA.returnPathHost}`, `nobody@${domainA.returnPathHost}`, `bounce+${r.verp_token}x@${domainA.returnPathHost}`]) {
      const reply = await s.command(`RCPT TO:<${rcpt}>`);
      expect(reply.text, rcpt).toMatch(/^550 5\.1\.1 /);
    }
    // Nothing was accepted, so there is no transaction to send.
    expect((await s.command('DATA')).code).toBe(503);
    // The real return path is still accepted, whatever the case of its letters (RFC 5321 §2.4).
    expect((await s.command(`RCPT TO:<${r.verp.toUpperCase()}>`)).code).toBe(250);
    await s.quit();
  });

  it('offers STARTTLS, SIZE and PIPELINING but no AUTH, and refuses AUTH', async () => {
    const { client } = await RawSmtp.connect(port);
    const ehlo = await client.command('EHLO client.test');
    const ext = ehlo.lines.map((l) => l.slice(4));
    expect(ext).toContain('STARTTLS');
    expect(ext).toContain('PIPELINING');
    expect(ext).toContain('SIZE 52428800');
    expect(ext.some((l) => /^AUTH\b/i.test(l))).toBe(false);
    const auth = await client.command(`AUTH PLAIN ${Buffer.from('\u0000u\u0000p').toString('base64')}`);
    expect(auth.code).toBeGreaterThanOrEqual(500);
    await client.quit();
  });

  it('upgrades with STARTTLS (the certificate verifies) and takes a DSN over it', async () => {
    const r = await sentTo('tls@remote.test');
    const { client } = await RawSmtp.connect(port);
    await client.command('EHLO client.test');
    expect((await client.startTls({ ca, servername: 'mx.mailstack.test' })).code).toBe(220);
    expect(client.encrypted).toBe(true);
    const ehlo = await client.command('EHLO client.test');
    expect(ehlo.lines.map((l) => l.slice(4))).not.toContain('STARTTLS');
    expect((await client.command('MAIL FROM:<>')).code).toBe(250);
    expect((await client.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
    expect((await client.data(dsn({ to: r.verp, finalRecipient: 'tls@remote.test', status: '5.2.1', diagnostic: 'smtp; 550 5.2.1 Mailbox disabled' }))).code).toBe(250);
    await client.quit();
    expect((await recipient(r.id)).status).toBe('bounced');
  });

  it('refuses a declared SIZE over the limit at MAIL FROM (RFC 1870)', async () => {
    const { client } = await RawSmtp.connect(port);
    await client.command('EHLO client.test');
    const reply = await client.command(`MAIL FROM:<> SIZE=${50 * 1024 * 1024 + 1}`);
    expect(reply.code).toBe(552);
    await client.quit();
  });

  it('refuses a message over the limit with 552 5.3.4 and keeps serving the session', async () => {
    // A second door on the same core with a small limit, so the test sends kilobytes, not 50 MB.
    const small = await startMx(server.platform.core, { port: 0, host: '127.0.0.1', tls: loadTlsMaterial(server.platform.core.settings), maxMessageBytes: 64 * 1024 });
    try {
      const r = await sentTo('big@remote.test');
      const { client } = await RawSmtp.connect(small.port);
      await client.command('EHLO client.test');
      await client.command('MAIL FROM:<>');
      expect((await client.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
      // A real DSN, padded past the limit: refused whole, so the recipient is untouched.
      const padded = dsn({ to: r.verp, finalRecipient: 'big@remote.test' }).replace('This is a MIME-encapsulated message.', `This is a MIME-encapsulated message.\r\n${'x'.repeat(998)}\r\n`.repeat(100));
      const over = await client.data(padded);
      expect(over.text).toMatch(/^552 5\.3\.4 /);
      expect((await recipient(r.id)).status).toBe('sent');
      // The session goes on.
      await client.command('MAIL FROM:<>');
      expect((await client.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
      expect((await client.data(dsn({ to: r.verp, finalRecipient: 'big@remote.test' }))).code).toBe(250);
      await client.quit();
      expect((await recipient(r.id)).status).toBe('bounced');
    } finally {
      await small.close();
    }
  });
});

describe('hostile MIME', () => {
  it('answers every message clearly, changes nothing, stores no control characters, and keeps serving', async () => {
    const r = await sentTo('hostile@remote.test');
    const deep = `Content-Type: multipart/mixed; boundary=b0\r\n\r\n${Array.from({ length: 300 }, (_, i) => `--b${i}\r\nContent-Type: multipart/mixed; boundary=b${i + 1}\r\n\r\n`).join('')}`;
    const cases: { name: string; body: string | Buffer; code: number }[] = [
      { name: 'broken multipart (never closed)', body: 'Content-Type: multipart/report; report-type=delivery-status; boundary="x"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n', code: 250 },
      { name: 'multipart without a boundary', body: 'Content-Type: multipart/report; report-type=delivery-status\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n', code: 250 },
      { name: 'NUL bytes', body: Buffer.from('Subject: a\u0000b\r\n\r\n\u0000\u0000body\u0000\r\n', 'latin1'), code: 250 },
      { name: 'a 200 KB header line', body: `X-Long: ${'a'.repeat(200 * 1024)}\r\nSubject: long\r\n\r\nbody\r\n`, code: 250 },
      { name: 'a 600 KB header line (over the parser limit)', body: `X-Long: ${'a'.repeat(600 * 1024)}\r\n\r\nbody\r\n`, code: 554 },
      { name: '300-deep multipart', body: deep, code: 554 },
      { name: 'binary noise', body: Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256)), code: 250 },
      { name: 'empty', body: '', code: 250 },
    ];
    const s = await session();
    for (const c of cases) {
      expect((await s.command(`RCPT TO:<${r.verp}>`)).code, c.name).toBe(250);
      const reply = await s.data(c.body);
      expect(reply.code, `${c.name}: ${reply.text.slice(0, 200)}`).toBe(c.code);
      if (c.code === 554) expect(reply.text).toMatch(/^554 5\.6\.0 /);
      expect((await s.command('MAIL FROM:<>')).code, c.name).toBe(250);
    }
    expect((await recipient(r.id)).status).toBe('sent');

    // A real DSN whose Diagnostic-Code carries NUL and escape bytes: processed, stored clean
    // (PostgreSQL cannot store U+0000; the reason must not carry terminal escapes either).
    expect((await s.command(`RCPT TO:<${r.verp}>`)).code).toBe(250);
    const reply = await s.data(Buffer.from(dsn({ to: r.verp, finalRecipient: 'hostile@remote.test', diagnostic: 'smtp; 550 5.1.1 no\u0000such\u001b[2J user' }), 'latin1'));
    expect(reply.code).toBe(250);
    await s.quit();
    const after = await recipient(r.id);
    expect(after.status).toBe('bounced');
    expect(after.last_response).toContain('no such [2J user');
    const sup = await findSuppression(db(), wsA, 'hostile@remote.test');
    expect(sup!.reason).not.toMatch(/[\u0000-\u001f]/);

    // Still serving.
    const { client, greeting } = await RawSmtp.connect(port);
    expect(greeting.code).toBe(220);
    expect((await client.command('EHLO still.alive')).code).toBe(250);
    await client.quit();
  });

  it('answers garbage commands and an over-long command line without dropping the server', async () => {
    const { client } = await RawSmtp.connect(port);
    expect((await client.command('HELLO?')).code).toBeGreaterThanOrEqual(500);
    expect((await client.command(`RCPT TO:<${'a'.repeat(100)}>`)).code).toBeGreaterThanOrEqual(500);
    expect((await client.command('MAIL FROM:<not an address>')).code).toBeGreaterThanOrEqual(500);
    client.write(`EHLO ${'x'.repeat(100_000)}\r\n`);
    // smtp-server answers 421 and closes (its command line limit is 16 KB; RFC 5321 §4.5.3.1.4 asks 512).
    const reply = await client.read();
    expect(reply.text).toMatch(/^421 .*too long/);
    client.destroy();
    const again = await RawSmtp.connect(port);
    expect(again.greeting.code).toBe(220);
    await again.client.quit();
  });
});
