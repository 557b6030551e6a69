// Login rate limit and temporary lockout, per account and per client IP, over real HTTP. Time is a
// ManualClock, so the lockout ends by moving the clock, not by waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const PASSWORD = 'correct horse battery staple';
const WRONG = 'definitely not it';
const LOCKOUT_MS = 10 * 60_000;

function login(server: TestServer, email: string, password: string, headers: Record<string, string> = {}) {
  return api(server.url, 'POST', '/v1/auth/login', { body: { email, password }, headers });
}

function expectLocked(r: Awaited<ReturnType<typeof api>>) {
  expect(r.status).toBe(429);
  expect(r.json).toEqual({ statusCode: 429, name: 'rate_limit_exceeded', message: expect.stringContaining('Try again') });
  const retryAfter = Number(r.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(LOCKOUT_MS / 1000);
  expect(r.headers.getSetCookie().some((c) => c.startsWith('mailstack_session='))).toBe(false);
}

describe('per-account lockout', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let key: string;

  beforeAll(async () => {
    server = await startTestServer({ clock, env: { MAILSTACK_LOGIN_MAX_FAILURES: '3', MAILSTACK_LOGIN_LOCKOUT: '10m' } });
    ({ apiKey: key } = await server.setup('owner@example.com', 'Acme', PASSWORD));
    await server.setup('other@example.com', 'Other', PASSWORD);
    await server.setup('steady@example.com', 'Steady', PASSWORD);
  });
  afterAll(() => server?.stop());

  it('locks the account after MAILSTACK_LOGIN_MAX_FAILURES failures, even for the right password', async () => {
    for (let i = 0; i < 3; i++) expect((await login(server, 'owner@example.com', WRONG)).status).toBe(401);
    expectLocked(await login(server, 'owner@example.com', PASSWORD, { 'user-agent': 'LockedOut/1' }));
    // However the address is spelled.
    expectLocked(await login(server, ' OWNER@example.com', PASSWORD));
    // The refused attempt is audited as a failed login.
    const failed = await api(server.url, 'GET', '/v1/audit-log?action=login.failed', { key });
    const locked = failed.json.data.find((e: any) => e.actor.user_agent === 'LockedOut/1');
    expect(locked).toMatchObject({ action: 'login.failed', actor: { ip: '127.0.0.1', label: 'owner@example.com' }, data: { method: 'password', reason: 'locked' } });
  });

  it('does not lock other accounts on the same IP', async () => {
    expect((await login(server, 'other@example.com', PASSWORD)).status).toBe(200);
  });

  it('lets the right password in once the lockout has passed', async () => {
    clock.advance(LOCKOUT_MS - 30_000);
    expectLocked(await login(server, 'owner@example.com', PASSWORD));
    clock.advance(31_000);
    const r = await login(server, 'owner@example.com', PASSWORD);
    expect(r.status).toBe(200);
    expect(r.headers.getSetCookie().some((c) => c.startsWith('mailstack_session='))).toBe(true);
    // The count starts again from zero: one more failure is a plain 401.
    expect((await login(server, 'owner@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'owner@example.com', PASSWORD)).status).toBe(200);
  });

  it('a success resets the account\'s count', async () => {
    expect((await login(server, 'steady@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'steady@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'steady@example.com', PASSWORD)).status).toBe(200);
    // Two more failures would have been the 4th and 5th without the reset.
    expect((await login(server, 'steady@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'steady@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'steady@example.com', PASSWORD)).status).toBe(200);
    // And three in a row still lock.
    for (let i = 0; i < 3; i++) expect((await login(server, 'steady@example.com', WRONG)).status).toBe(401);
    expectLocked(await login(server, 'steady@example.com', PASSWORD));
  });

  it('locks unknown addresses the same way, so a 429 tells nothing about whether an account exists', async () => {
    for (let i = 0; i < 3; i++) expect((await login(server, 'ghost@example.com', WRONG)).status).toBe(401);
    expectLocked(await login(server, 'ghost@example.com', WRONG));
  });
});

describe('per-IP limit', () => {
  const clock = new ManualClock();
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      clock,
      env: { MAILSTACK_LOGIN_MAX_FAILURES: '10', MAILSTACK_LOGIN_IP_MAX_FAILURES: '4', MAILSTACK_LOGIN_LOCKOUT: '10m', MAILSTACK_TRUST_PROXY: 'true' },
    });
    for (const who of ['a', 'b', 'c', 'd']) await server.setup(`${who}@example.com`, `WS ${who}`, PASSWORD);
  });
  afterAll(() => server?.stop());

  it('locks the IP after failures spread over different accounts', async () => {
    // One failure each on four accounts (one of them unknown): below every account limit.
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com', 'nobody@example.com']) {
      expect((await login(server, email, WRONG)).status).toBe(401);
    }
    // Now every login from this IP waits, whichever account and however right the password.
    expectLocked(await login(server, 'd@example.com', PASSWORD));
    expectLocked(await login(server, 'a@example.com', PASSWORD));
    // A magic-link token cannot be tried from the locked IP either.
    const verify = await api(server.url, 'POST', '/v1/auth/magic-link/verify', { body: { token: 'x'.repeat(44) } });
    expectLocked(verify);
  });

  it('does not hold back a different client IP', async () => {
    const elsewhere = await login(server, 'd@example.com', PASSWORD, { 'x-forwarded-for': '203.0.113.7' });
    expect(elsewhere.status).toBe(200);
  });

  it('ends with the lockout', async () => {
    clock.advance(LOCKOUT_MS + 1_000);
    expect((await login(server, 'd@example.com', PASSWORD)).status).toBe(200);
  });

  it('a success does not reset the IP\'s count', async () => {
    expect((await login(server, 'a@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'b@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'a@example.com', PASSWORD)).status).toBe(200);
    expect((await login(server, 'c@example.com', WRONG)).status).toBe(401);
    expect((await login(server, 'd@example.com', WRONG)).status).toBe(401);
    expectLocked(await login(server, 'a@example.com', PASSWORD));
  });
});

describe('attempts sent all at once', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { MAILSTACK_LOGIN_MAX_FAILURES: '3', MAILSTACK_LOGIN_LOCKOUT: '10m' } });
    await server.setup('burst@example.com', 'Burst', PASSWORD);
    await server.setup('changer@example.com', 'Changer', PASSWORD);
  });
  afterAll(() => server?.stop());

  it('check no more than MAILSTACK_LOGIN_MAX_FAILURES passwords, however many arrive together', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(server, 'burst@example.com', `guess number ${i}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const r of results.filter((r) => r.status === 429)) expectLocked(r);
    expectLocked(await login(server, 'burst@example.com', PASSWORD));
  });

  it('guessing the current password on POST /v1/auth/password is held to the same limit', async () => {
    const signedIn = await login(server, 'changer@example.com', PASSWORD);
    expect(signedIn.status).toBe(200);
    const headers = {
      cookie: signedIn.headers.getSetCookie().find((c) => c.startsWith('mailstack_session='))!.split(';')[0],
      'x-csrf-token': signedIn.json.csrf_token,
    };
    const change = (current: string) => api(server.url, 'POST', '/v1/auth/password', { headers, body: { current_password: current, new_password: 'a new password entirely' } });
    for (let i = 0; i < 3; i++) expect((await change(`guess ${i}`)).status).toBe(401);
    expectLocked(await change(PASSWORD));
    expectLocked(await login(server, 'changer@example.com', PASSWORD));
  });
});
