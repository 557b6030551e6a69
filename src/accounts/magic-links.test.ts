// Magic-link sign-in end to end: the link is mailed through a real SMTP server on loopback acting as
// MAILSTACK_SMARTHOST, read out of the received message, and spent over HTTP.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { sha256 } from '../core/ids.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const PUBLIC_URL = 'https://mail.example.test';
const FIFTEEN_MINUTES = 15 * 60_000;

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** A smarthost on 127.0.0.1 that accepts everything and keeps what it got. */
async function startSmarthost() {
  const received: Received[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (smtp.server.address() as AddressInfo).port;
  return {
    port,
    received,
    /** Waits (at most `ms`) for a message to this address beyond the first `skip` of them. */
    async waitFor(to: string, skip = 0, ms = 15_000): Promise<Received> {
      const deadline = Date.now() + ms;
      for (;;) {
        const mine = received.filter((m) => m.to.includes(to));
        if (mine.length > skip) return mine[skip];
        if (Date.now() > deadline) throw new Error(`no mail to ${to} within ${ms} ms (got ${received.length} in all)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}

/** The decoded body and headers of a single-part message. */
function parseMessage(raw: string) {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (cte === 'quoted-printable') {
    const bytes = Buffer.from(body.replace(/=\r?\n/g, ''), 'latin1').toString('latin1').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  } else if (cte === 'base64') {
    body = Buffer.from(body, 'base64').toString('utf8');
  }
  return { headers, body };
}

/** The sign-in link in a received message, and its token. */
function linkIn(message: Received) {
  const { body } = parseMessage(message.raw);
  const m = /(\S+\/login\/magic\?token=([^\s]+))/.exec(body);
  if (!m) throw new Error(`no sign-in link in:\n${body}`);
  return { link: m[1], token: decodeURIComponent(m[2]), pathAndQuery: new URL(m[1]).pathname + new URL(m[1]).search };
}

const clock = new ManualClock();
let smarthost: Awaited<ReturnType<typeof startSmarthost>>;
let server: TestServer;
let key: string;
let userId: string;

beforeAll(async () => {
  smarthost = await startSmarthost();
  server = await startTestServer({
    clock,
    env: { MAILSTACK_SMARTHOST: `smtp://127.0.0.1:${smarthost.port}`, MAILSTACK_PUBLIC_URL: PUBLIC_URL, MAILSTACK_MAIL_FROM: 'Mailstack <no-reply@mailstack.test>' },
  });
  ({ apiKey: key, userId } = await server.setup('owner@example.com', 'Acme'));
  for (const who of ['verify', 'expiry', 'flood']) await server.setup(`${who}@example.com`, `WS ${who}`);
});
afterAll(async () => {
  await server?.stop();
  await smarthost?.close();
});

function askForLink(email: string) {
  return api(server.url, 'POST', '/v1/auth/magic-link', { body: { email } });
}

describe('magic-link sign-in', () => {
  it('mails a link through the smarthost; following it signs in once', async () => {
    const asked = await askForLink('Owner@Example.com');
    expect(asked.status).toBe(200);
    expect(asked.json).toEqual({ object: 'magic_link', sent: true, message: expect.any(String) });
    expect(asked.headers.getSetCookie()).toEqual([]);

    const mail = await smarthost.waitFor('owner@example.com');
    expect(mail.from).toBe('no-reply@mailstack.test');
    const { headers } = parseMessage(mail.raw);
    expect(headers.get('subject')).toBe('Your Mailstack sign-in link');
    expect(headers.get('to')).toBe('owner@example.com');
    const { link, token, pathAndQuery } = linkIn(mail);
    expect(link.startsWith(`${PUBLIC_URL}/login/magic?token=`)).toBe(true);
    expect(token.length).toBeGreaterThanOrEqual(40);

    const res = await fetch(server.url + pathAndQuery, { redirect: 'manual', headers: { 'user-agent': 'MagicTest/1' } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const line = res.headers.getSetCookie().find((c) => c.startsWith('mailstack_session='))!;
    expect(line).toBeDefined();
    expect(line.toLowerCase()).toContain('httponly');
    expect(line.toLowerCase()).toContain('samesite=lax');
    const cookie = line.split(';')[0];
    const session = await api(server.url, 'GET', '/v1/auth/session', { headers: { cookie } });
    expect(session.status).toBe(200);
    expect(session.json.user).toMatchObject({ id: userId, email: 'owner@example.com', has_password: false });
    expect((await api(server.url, 'GET', '/v1/workspace', { headers: { cookie } })).status).toBe(200);

    // Single use: the same link again is refused, by either door.
    const again = await fetch(server.url + pathAndQuery, { redirect: 'manual' });
    expect(again.status).toBe(401);
    expect(again.headers.getSetCookie()).toEqual([]);
    // Issue 9: a reused link said "Ask for undefined"; it must say what to do, in words.
    const againText = await again.text();
    expect(againText).not.toMatch(/undefined|null|\$\{/);
    expect(againText).toContain('This sign-in link is invalid, already used or expired. Ask for a new one');
    // Issue 10: the browser gets a page with a way back to sign-in, not plain text.
    expect(again.headers.get('content-type')).toMatch(/^text\/html/);
    expect(againText).toMatch(/<h1>Sign-in link not valid<\/h1>/);
    expect(againText).toContain('href="/"');
    const viaApi = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token } });
    expect(viaApi.status).toBe(401);
    expect(viaApi.json).toEqual({ statusCode: 401, name: 'invalid_credentials', message: expect.stringContaining('Ask for a new one') });
    expect(viaApi.json.message).not.toMatch(/undefined|null/);

    // Audited as a magic-link login.
    const audit = await api(server.url, 'GET', '/v1/audit-log?action=login.succeeded', { key });
    expect(audit.json.data.find((e: any) => e.actor.user_agent === 'MagicTest/1')).toMatchObject({
      actor: { type: 'user', id: userId, ip: '127.0.0.1' },
      data: { method: 'magic_link' },
    });
    // The refused reuse names no user, so its record belongs to no workspace; it is still written.
    const failed = await server.platform.core.db.selectFrom('audit_log').selectAll().where('action', '=', 'login.failed').execute();
    expect(failed.some((e) => e.workspace_id === null && e.ip === '127.0.0.1' && JSON.parse(e.data ?? '{}').method === 'magic_link')).toBe(true);
  });

  it('stores the token only as its SHA-256, nowhere in clear', async () => {
    expect((await askForLink('owner@example.com')).status).toBe(200);
    const { token } = linkIn(await smarthost.waitFor('owner@example.com', 1));
    const db = server.platform.core.db;
    const row = await db.selectFrom('magic_links').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirstOrThrow();
    expect(row.user_id).toBe(userId);
    expect(row.used_at).toBeNull();
    expect(row.expires_at - row.created_at).toBe(FIFTEEN_MINUTES);
    const links = await db.selectFrom('magic_links').selectAll().execute();
    expect(JSON.stringify(links)).not.toContain(token);
    // Not in the queued mail job either: the jobs table is no place for a live sign-in link.
    const jobs = await db.selectFrom('jobs').selectAll().execute();
    expect(jobs.some((j) => j.kind === 'system_mail.send')).toBe(true);
    expect(JSON.stringify(jobs)).not.toContain(token);
  });

  it('POST /v1/auth/magic-link/verify spends the token and returns the session', async () => {
    expect((await askForLink('verify@example.com')).status).toBe(200);
    const { token } = linkIn(await smarthost.waitFor('verify@example.com'));
    const r = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ object: 'session', user: { email: 'verify@example.com' }, csrf_token: expect.any(String) });
    const cookie = r.headers.getSetCookie().find((c) => c.startsWith('mailstack_session='))!.split(';')[0];
    // The session it made is a full cookie session: CSRF-protected writes work.
    const made = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie, 'x-csrf-token': r.json.csrf_token }, body: { name: 'via magic link' } });
    expect(made.status).toBe(201);
    const second = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token } });
    expect(second.status).toBe(401);
    const row = await server.platform.core.db.selectFrom('magic_links').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirstOrThrow();
    expect(row.used_at).not.toBeNull();
  });

  it('answers an unknown address exactly like a known one, and mails nothing', async () => {
    const unknown = await askForLink('stranger@example.com');
    const known = await askForLink('expiry@example.com');
    expect(unknown.status).toBe(200);
    expect(unknown.json).toEqual(known.json);
    // The known address's mail arrives; by then nothing was queued or sent for the unknown one.
    await smarthost.waitFor('expiry@example.com');
    const jobs = await server.platform.core.db.selectFrom('jobs').selectAll().where('kind', '=', 'system_mail.send').execute();
    expect(jobs.some((j) => j.payload.includes('stranger@example.com'))).toBe(false);
    expect(smarthost.received.some((m) => m.to.includes('stranger@example.com'))).toBe(false);
  });

  it('a link expires after 15 minutes', async () => {
    // The link mailed in the previous test, still fresh just before 15 minutes.
    const first = linkIn(await smarthost.waitFor('expiry@example.com'));
    expect((await askForLink('expiry@example.com')).status).toBe(200);
    const second = linkIn(await smarthost.waitFor('expiry@example.com', 1));
    clock.advance(FIFTEEN_MINUTES - 5_000);
    const inTime = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token: second.token } });
    expect(inTime.status).toBe(200);
    clock.advance(10_000);
    const late = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token: first.token } });
    expect(late.status).toBe(401);
    const lateGet = await fetch(server.url + first.pathAndQuery, { redirect: 'manual' });
    expect(lateGet.status).toBe(401);
    expect(await lateGet.text()).toMatch(/invalid, already used or expired/);
  });

  it('a made-up token is refused', async () => {
    const r = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token: 'x'.repeat(44) } });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ statusCode: 401, name: 'invalid_credentials' });
  });

  it('asking for links is limited per address, so nobody can flood an inbox', async () => {
    // The default MAILSTACK_LOGIN_MAX_FAILURES is 5.
    for (let i = 0; i < 5; i++) expect((await askForLink('flood@example.com')).status).toBe(200);
    const refused = await askForLink('flood@example.com');
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other addresses are unaffected.
    expect((await askForLink('verify@example.com')).status).toBe(200);
    await smarthost.waitFor('flood@example.com', 4);
    await smarthost.waitFor('verify@example.com', 1);
    expect(smarthost.received.filter((m) => m.to.includes('flood@example.com'))).toHaveLength(5);
  });
});
