// API rate limits per workspace: Resend's headers on every answer, 429 rate_limit_exceeded past the
// limit, a new window after the old one ends (moved with a ManualClock, so nothing depends on timing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../config/settings.ts';
import { ManualClock } from '../core/clock.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const clock = new ManualClock();
let server: TestServer;
let a: { workspaceId: string; apiKey: string };
let b: { workspaceId: string; apiKey: string };

beforeAll(async () => {
  server = await startTestServer({ clock, env: { MAILSTACK_API_RATE_LIMIT: '3/1h' } });
  a = await server.setup('a@example.com', 'A');
  b = await server.setup('b@example.com', 'B');
});
afterAll(async () => {
  await server?.stop();
});

describe('API rate limit per workspace', () => {
  it('counts down in the headers, answers 429 with retry-after past the limit, and resets after the window', async () => {
    const resend = server.resend(a.apiKey);
    for (const remaining of [2, 1, 0]) {
      const r = await resend.apiKeys.list();
      expect(r.error).toBeNull();
      expect(r.headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': String(remaining) });
      expect(Number(r.headers!['ratelimit-reset'])).toBeGreaterThan(3500);
      expect(Number(r.headers!['ratelimit-reset'])).toBeLessThanOrEqual(3600);
    }
    const refused = await resend.apiKeys.list();
    expect(refused.data).toBeNull();
    expect(refused.error).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
    expect(refused.error!.message).toMatch(/You can only make 3 requests per 3600 seconds/);
    expect(refused.headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '0' });
    expect(Number(refused.headers!['retry-after'])).toBeGreaterThan(3500);
    // Writes are refused as well, and do nothing.
    const create = await api(server.url, 'POST', '/v1/api-keys', { key: a.apiKey, body: { name: 'not made' } });
    expect(create.status).toBe(429);
    expect(create.json).toEqual({ statusCode: 429, name: 'rate_limit_exceeded', message: expect.any(String) });
    const keys = await server.platform.core.db.selectFrom('api_keys').select('name').where('workspace_id', '=', a.workspaceId).execute();
    expect(keys.map((k) => k.name)).not.toContain('not made');

    // Another workspace has its own window.
    const other = await server.resend(b.apiKey).apiKeys.list();
    expect(other.error).toBeNull();
    expect(other.headers).toMatchObject({ 'ratelimit-remaining': '2' });

    // Callers that are not identified are not counted (and get no rate headers).
    const anon = await api(server.url, 'GET', '/v1/api-keys');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('ratelimit-limit')).toBeNull();

    clock.advance(3600_000);
    const again = await resend.apiKeys.list();
    expect(again.error).toBeNull();
    expect(again.headers).toMatchObject({ 'ratelimit-remaining': '2' });
  });

  it('reads MAILSTACK_API_RATE_LIMIT: 10/s by default, N/duration, 0 for none, and refuses nonsense', () => {
    const base = { MAILSTACK_HOSTNAME: 'a.test' };
    expect(loadSettings(base).apiRateLimit).toEqual({ limit: 10, windowMs: 1000 });
    expect(loadSettings({ ...base, MAILSTACK_API_RATE_LIMIT: '25' }).apiRateLimit).toEqual({ limit: 25, windowMs: 1000 });
    expect(loadSettings({ ...base, MAILSTACK_API_RATE_LIMIT: '600/1m' }).apiRateLimit).toEqual({ limit: 600, windowMs: 60_000 });
    expect(loadSettings({ ...base, MAILSTACK_API_RATE_LIMIT: '0' }).apiRateLimit).toBeNull();
    for (const bad of ['ten', '-1', '5/', '5/forever']) {
      expect(() => loadSettings({ ...base, MAILSTACK_API_RATE_LIMIT: bad })).toThrow(/^MAILSTACK_API_RATE_LIMIT must be/);
    }
  });

  it("gives a signed-in person (cookie session) a window of their own, apart from the workspace's API keys", async () => {
    const c = await server.setup('c@example.com', 'C', 'a long enough password');
    for (let i = 0; i < 3; i++) expect((await api(server.url, 'GET', '/v1/api-keys', { key: c.apiKey })).status).toBe(200);
    expect((await api(server.url, 'GET', '/v1/api-keys', { key: c.apiKey })).status).toBe(429);
    const login = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'c@example.com', password: 'a long enough password' }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const r = await api(server.url, 'GET', '/v1/api-keys', { headers: { cookie } });
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-remaining')).toBe('2');
    for (let i = 0; i < 2; i++) expect((await api(server.url, 'GET', '/v1/api-keys', { headers: { cookie } })).status).toBe(200);
    expect((await api(server.url, 'GET', '/v1/api-keys', { headers: { cookie } })).status).toBe(429);
  });
});
