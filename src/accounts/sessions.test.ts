// Cookie sessions over real HTTP: list, revoke, logout, expiry, choosing a workspace, changing the
// password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const PASSWORD = 'correct horse battery staple';

interface Browser {
  cookie: string;
  csrf: string;
  sessionId: string;
  userAgent: string;
}

/** Logs in as a browser would and keeps what it needs: the cookie and the CSRF token. */
async function signIn(server: TestServer, email: string, password = PASSWORD, userAgent = 'SessionsTest/1'): Promise<Browser> {
  const r = await api(server.url, 'POST', '/v1/auth/login', { body: { email, password }, headers: { 'user-agent': userAgent } });
  expect(r.status).toBe(200);
  const line = r.headers.getSetCookie().find((c) => c.startsWith('mailstack_session='))!;
  return { cookie: line.split(';')[0], csrf: r.json.csrf_token, sessionId: r.json.id, userAgent };
}

function as(b: Browser, method: string, pathname: string, opts: { body?: unknown; csrf?: boolean } = {}) {
  const headers: Record<string, string> = { cookie: b.cookie, 'user-agent': b.userAgent };
  if (opts.csrf !== false && method !== 'GET') headers['x-csrf-token'] = b.csrf;
  return api(server.url, method, pathname, { headers, body: opts.body });
}

const clock = new ManualClock();
let server: TestServer;
let key: string;
let workspaceId: string;
let userId: string;

beforeAll(async () => {
  server = await startTestServer({ clock, env: { MAILSTACK_SESSION_TTL: '2h' } });
  ({ apiKey: key, workspaceId, userId } = await server.setup('owner@example.com', 'Acme', PASSWORD));
  await server.setup('stranger@example.com', 'Elsewhere', PASSWORD);
});
afterAll(() => server?.stop());

describe('session list and revoke', () => {
  it('lists the user\'s live sessions, marking the current one, without secrets', async () => {
    const laptop = await signIn(server, 'owner@example.com', PASSWORD, 'Laptop/1');
    const phone = await signIn(server, 'owner@example.com', PASSWORD, 'Phone/1');
    const r = await as(laptop, 'GET', '/v1/auth/sessions');
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('list');
    const ids = r.json.data.map((s: { id: string }) => s.id);
    expect(ids).toContain(laptop.sessionId);
    expect(ids).toContain(phone.sessionId);
    const current = r.json.data.filter((s: { current: boolean }) => s.current);
    expect(current).toHaveLength(1);
    expect(current[0]).toMatchObject({ object: 'session', id: laptop.sessionId, ip: '127.0.0.1', user_agent: 'Laptop/1' });
    expect(r.json.data.find((s: { id: string }) => s.id === phone.sessionId)).toMatchObject({ current: false, user_agent: 'Phone/1' });
    expect(Date.parse(current[0].expires_at)).toBeGreaterThan(Date.parse(current[0].created_at));
    const text = JSON.stringify(r.json);
    expect(text).not.toContain('token_hash');
    expect(text).not.toContain(laptop.cookie.split('=')[1]);
    expect(text).not.toContain(phone.cookie.split('=')[1]);
    // Another user's sessions are not in the list.
    const stranger = await signIn(server, 'stranger@example.com');
    expect((await as(laptop, 'GET', '/v1/auth/sessions')).json.data.map((s: { id: string }) => s.id)).not.toContain(stranger.sessionId);
  });

  it('revoking another session makes its cookie stop working', async () => {
    const laptop = await signIn(server, 'owner@example.com', PASSWORD, 'Laptop/2');
    const phone = await signIn(server, 'owner@example.com', PASSWORD, 'Phone/2');
    expect((await as(phone, 'GET', '/v1/workspace')).status).toBe(200);

    // Without the CSRF token the revoke is refused and the phone still works.
    const refused = await as(laptop, 'DELETE', `/v1/auth/sessions/${phone.sessionId}`, { csrf: false });
    expect(refused.status).toBe(403);
    expect((await as(phone, 'GET', '/v1/workspace')).status).toBe(200);

    const r = await as(laptop, 'DELETE', `/v1/auth/sessions/${phone.sessionId}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ object: 'session', id: phone.sessionId, deleted: true });

    const after = await as(phone, 'GET', '/v1/workspace');
    expect(after.status).toBe(401);
    expect(after.json).toEqual({ statusCode: 401, name: 'missing_api_key', message: expect.any(String) });
    expect((await as(phone, 'GET', '/v1/auth/session')).status).toBe(401);
    expect((await as(phone, 'POST', '/v1/api-keys', { body: { name: 'zombie' } })).status).toBe(401);
    // The laptop is untouched, and the phone is gone from its list.
    const list = await as(laptop, 'GET', '/v1/auth/sessions');
    expect(list.status).toBe(200);
    expect(list.json.data.map((s: { id: string }) => s.id)).not.toContain(phone.sessionId);
    // Revoking it again, or a made-up id, is not_found.
    const again = await as(laptop, 'DELETE', `/v1/auth/sessions/${phone.sessionId}`);
    expect(again.status).toBe(404);
    expect(again.json).toEqual({ statusCode: 404, name: 'not_found', message: expect.any(String) });
    expect((await as(laptop, 'DELETE', '/v1/auth/sessions/no-such-session')).status).toBe(404);

    // The revoke is in the audit log.
    const audit = await api(server.url, 'GET', '/v1/audit-log?action=session.revoked', { key });
    expect(audit.json.data.find((e: any) => e.target.id === phone.sessionId)).toMatchObject({ actor: { type: 'user', id: userId, ip: '127.0.0.1', user_agent: 'Laptop/2' } });
  });

  it('cannot revoke another user\'s session', async () => {
    const mine = await signIn(server, 'owner@example.com');
    const theirs = await signIn(server, 'stranger@example.com');
    const r = await as(mine, 'DELETE', `/v1/auth/sessions/${theirs.sessionId}`);
    expect(r.status).toBe(404);
    expect((await as(theirs, 'GET', '/v1/workspace')).status).toBe(200);
  });

  it('the session routes want a signed-in person, not an API key', async () => {
    const r = await api(server.url, 'GET', '/v1/auth/sessions', { key });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ statusCode: 401 });
  });
});

describe('logout', () => {
  it('ends the current session and clears the cookie; other sessions live on', async () => {
    const a = await signIn(server, 'owner@example.com');
    const b = await signIn(server, 'owner@example.com');

    const refused = await as(a, 'POST', '/v1/auth/logout', { csrf: false });
    expect(refused.status).toBe(403);
    expect((await as(a, 'GET', '/v1/workspace')).status).toBe(200);

    const r = await as(a, 'POST', '/v1/auth/logout');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ object: 'session', id: a.sessionId, deleted: true });
    const cleared = r.headers.getSetCookie().find((c) => c.startsWith('mailstack_session='))!;
    expect(cleared).toBeDefined();
    expect(cleared.split(';')[0]).toBe('mailstack_session=');
    expect(cleared.toLowerCase()).toContain('path=/');
    const expires = /expires=([^;]+)/i.exec(cleared)?.[1];
    expect(Date.parse(expires!)).toBeLessThan(Date.now());

    expect((await as(a, 'GET', '/v1/workspace')).status).toBe(401);
    expect((await as(a, 'POST', '/v1/auth/logout')).status).toBe(401);
    expect((await as(b, 'GET', '/v1/workspace')).status).toBe(200);

    const audit = await api(server.url, 'GET', '/v1/audit-log?action=logout', { key });
    expect(audit.json.data.find((e: any) => e.target.id === a.sessionId)).toMatchObject({ action: 'logout', actor: { id: userId, ip: '127.0.0.1' } });
  });
});

describe('choosing a workspace and changing the password', () => {
  it('switches the session to another workspace the user belongs to, and only to those', async () => {
    const second = await server.setup('owner@example.com', 'Second', PASSWORD);
    const elsewhere = await server.setup('stranger@example.com', 'Elsewhere', PASSWORD);
    const b = await signIn(server, 'owner@example.com');
    const s = await as(b, 'GET', '/v1/auth/session');
    expect(s.json.workspaces.map((w: { id: string }) => w.id).sort()).toEqual([workspaceId, second.workspaceId].sort());

    const r = await as(b, 'POST', '/v1/auth/workspace', { body: { workspace_id: second.workspaceId } });
    expect(r.status).toBe(200);
    expect(r.json.workspace_id).toBe(second.workspaceId);
    expect((await as(b, 'GET', '/v1/workspace')).json).toMatchObject({ id: second.workspaceId, name: 'Second' });

    const foreign = await as(b, 'POST', '/v1/auth/workspace', { body: { workspace_id: elsewhere.workspaceId } });
    expect(foreign.status).toBe(404);
    expect((await as(b, 'GET', '/v1/workspace')).json.id).toBe(second.workspaceId);
  });

  it('changes the password only with the current one', async () => {
    await server.setup('changer@example.com', 'Changer', PASSWORD);
    const b = await signIn(server, 'changer@example.com');
    const wrong = await as(b, 'POST', '/v1/auth/password', { body: { current_password: 'not the password', new_password: 'a brand new password' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ statusCode: 401, name: 'invalid_credentials' });
    const short = await as(b, 'POST', '/v1/auth/password', { body: { current_password: PASSWORD, new_password: 'short' } });
    expect(short.status).toBe(422);
    const ok = await as(b, 'POST', '/v1/auth/password', { body: { current_password: PASSWORD, new_password: 'a brand new password' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ object: 'user', has_password: true });
    expect((await api(server.url, 'POST', '/v1/auth/login', { body: { email: 'changer@example.com', password: PASSWORD } })).status).toBe(401);
    expect((await api(server.url, 'POST', '/v1/auth/login', { body: { email: 'changer@example.com', password: 'a brand new password' } })).status).toBe(200);
  });
});

describe('expiry', () => {
  it('a session stops working after MAILSTACK_SESSION_TTL', async () => {
    const b = await signIn(server, 'owner@example.com');
    clock.advance(2 * 3_600_000 - 60_000);
    expect((await as(b, 'GET', '/v1/auth/session')).status).toBe(200);
    clock.advance(2 * 60_000);
    expect((await as(b, 'GET', '/v1/auth/session')).status).toBe(401);
    const mine = await signIn(server, 'owner@example.com');
    const list = await as(mine, 'GET', '/v1/auth/sessions');
    expect(list.json.data.map((s: { id: string }) => s.id)).not.toContain(b.sessionId);
  });
});
