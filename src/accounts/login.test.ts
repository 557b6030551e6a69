// Password login, sign-up, cookie flags, CSRF and the audit records of logins, over real HTTP
// against a started node. Lockout and rate limits are in login-throttle.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const PASSWORD = 'correct horse battery staple';

/** The Set-Cookie header that sets mailstack_session, split into its value and attributes. */
function sessionCookie(headers: Headers) {
  const line = headers.getSetCookie().find((c) => c.startsWith('mailstack_session='));
  if (!line) return null;
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  return { line, value: pair.slice('mailstack_session='.length), attrs: attrs.map((a) => a.toLowerCase()) };
}

async function login(server: TestServer, email: string, password: string, headers: Record<string, string> = {}) {
  return api(server.url, 'POST', '/v1/auth/login', { body: { email, password }, headers });
}

/** Logs in and returns the cookie header to send and the CSRF token. */
async function signIn(server: TestServer, email: string, password: string) {
  const r = await login(server, email, password);
  expect(r.status).toBe(200);
  const c = sessionCookie(r.headers)!;
  return { cookie: `mailstack_session=${c.value}`, csrf: r.json.csrf_token as string, body: r.json };
}

describe('password login', () => {
  let server: TestServer;
  let key: string;
  let workspaceId: string;
  let userId: string;

  beforeAll(async () => {
    server = await startTestServer();
    ({ apiKey: key, workspaceId, userId } = await server.setup('owner@example.com', 'Acme', PASSWORD));
  });
  afterAll(() => server?.stop());

  it('stores the password as an argon2id hash, never the password', async () => {
    const row = await server.platform.core.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });

  it('sets an HttpOnly, SameSite=Lax, Path=/ cookie and no Secure over plain http', async () => {
    const r = await login(server, 'Owner@Example.com ', PASSWORD);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      object: 'session',
      user: { id: userId, email: 'owner@example.com', has_password: true },
      workspace_id: workspaceId,
      workspaces: [{ id: workspaceId, name: 'Acme', role: 'owner' }],
      csrf_token: expect.any(String),
    });
    const c = sessionCookie(r.headers)!;
    expect(c).not.toBeNull();
    expect(c.value.length).toBeGreaterThanOrEqual(40);
    expect(c.attrs).toContain('httponly');
    expect(c.attrs).toContain('samesite=lax');
    expect(c.attrs).toContain('path=/');
    expect(c.attrs).not.toContain('secure');
    // The cookie token itself is stored only as its hash.
    const sessions = await server.platform.core.db.selectFrom('sessions').selectAll().where('user_id', '=', userId).execute();
    expect(JSON.stringify(sessions)).not.toContain(c.value);
  });

  it('ignores X-Forwarded-Proto when the proxy is not trusted', async () => {
    const r = await login(server, 'owner@example.com', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(r.status).toBe(200);
    expect(sessionCookie(r.headers)!.attrs).not.toContain('secure');
  });

  it('answers a wrong password, an unknown user and a missing field in Resend\'s error shape', async () => {
    const wrong = await login(server, 'owner@example.com', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ statusCode: 401, name: 'invalid_credentials', message: expect.any(String) });
    expect(sessionCookie(wrong.headers)).toBeNull();
    const unknown = await login(server, 'nobody@example.com', PASSWORD);
    expect(unknown.status).toBe(401);
    // The same answer whether or not the account exists.
    expect(unknown.json).toEqual(wrong.json);
    const missing = await api(server.url, 'POST', '/v1/auth/login', { body: { email: 'owner@example.com' } });
    expect(missing.status).toBe(422);
    expect(missing.json).toEqual({ statusCode: 422, name: 'validation_error', message: expect.any(String) });
  });

  it('the cookie authenticates reads; writes need X-CSRF-Token', async () => {
    const { cookie, csrf } = await signIn(server, 'owner@example.com', PASSWORD);

    const ws = await api(server.url, 'GET', '/v1/workspace', { headers: { cookie } });
    expect(ws.status).toBe(200);
    expect(ws.json.id).toBe(workspaceId);
    const keys = await api(server.url, 'GET', '/v1/api-keys', { headers: { cookie } });
    expect(keys.status).toBe(200);
    expect(keys.json.object).toBe('list');

    const noToken = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie }, body: { name: 'from the browser' } });
    expect(noToken.status).toBe(403);
    expect(noToken.json).toEqual({ statusCode: 403, name: 'invalid_access', message: expect.any(String) });
    const badToken = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie, 'x-csrf-token': csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A') }, body: { name: 'from the browser' } });
    expect(badToken.status).toBe(403);
    // Nothing was created by the refused requests.
    const before = (await api(server.url, 'GET', '/v1/api-keys', { key })).json.data.length;

    const made = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie, 'x-csrf-token': csrf }, body: { name: 'from the browser' } });
    expect(made.status).toBe(201);
    expect(made.json.token).toMatch(/^ms_/);
    const after = (await api(server.url, 'GET', '/v1/api-keys', { key })).json.data;
    expect(after.length).toBe(before + 1);
    expect(after.filter((k: { name: string }) => k.name === 'from the browser')).toHaveLength(1);

    // GET /v1/auth/session returns the same CSRF token for this session.
    const s = await api(server.url, 'GET', '/v1/auth/session', { headers: { cookie } });
    expect(s.status).toBe(200);
    expect(s.json.csrf_token).toBe(csrf);
  });

  it('a CSRF token of one session does not work for another', async () => {
    const a = await signIn(server, 'owner@example.com', PASSWORD);
    const b = await signIn(server, 'owner@example.com', PASSWORD);
    expect(a.csrf).not.toBe(b.csrf);
    const r = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie: a.cookie, 'x-csrf-token': b.csrf }, body: { name: 'crossed' } });
    expect(r.status).toBe(403);
  });

  it('a garbage cookie is 401, not a session', async () => {
    const r = await api(server.url, 'GET', '/v1/workspace', { headers: { cookie: 'mailstack_session=not-a-real-token' } });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ statusCode: 401, name: 'missing_api_key', message: expect.any(String) });
  });

  it('audits login.succeeded and login.failed with ip and user agent', async () => {
    const ua = 'LoginTest/1.0 (audit check)';
    const ok = await login(server, 'owner@example.com', PASSWORD, { 'user-agent': ua });
    expect(ok.status).toBe(200);
    const bad = await login(server, 'owner@example.com', 'wrong password here', { 'user-agent': ua });
    expect(bad.status).toBe(401);

    const succeeded = await api(server.url, 'GET', '/v1/audit-log?action=login.succeeded', { key });
    expect(succeeded.status).toBe(200);
    const mine = succeeded.json.data.find((e: any) => e.actor.user_agent === ua);
    expect(mine).toMatchObject({
      object: 'audit_log_entry',
      action: 'login.succeeded',
      actor: { type: 'user', id: userId, label: 'owner@example.com', ip: '127.0.0.1', user_agent: ua },
      target: { type: 'user', id: userId },
      data: { method: 'password', session_id: ok.json.id },
    });

    const failed = await api(server.url, 'GET', '/v1/audit-log?action=login.failed', { key });
    expect(failed.status).toBe(200);
    const mineFailed = failed.json.data.find((e: any) => e.actor.user_agent === ua);
    expect(mineFailed).toMatchObject({
      action: 'login.failed',
      actor: { type: 'user', id: userId, label: 'owner@example.com', ip: '127.0.0.1', user_agent: ua },
      data: { method: 'password' },
    });
    // No secret ends up in the audit log.
    expect(JSON.stringify(failed.json)).not.toContain('wrong password here');
    expect(JSON.stringify(succeeded.json)).not.toContain(PASSWORD);
  });
});

describe('Secure cookie behind a trusted TLS proxy', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { MAILSTACK_TRUST_PROXY: 'true' } });
    await server.setup('tls@example.com', 'TLS', PASSWORD);
  });
  afterAll(() => server?.stop());

  it('marks the cookie Secure when the request came in as https', async () => {
    const r = await login(server, 'tls@example.com', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(r.status).toBe(200);
    const c = sessionCookie(r.headers)!;
    expect(c.attrs).toContain('secure');
    expect(c.attrs).toContain('httponly');
    expect(c.attrs).toContain('samesite=lax');
    expect(c.attrs).toContain('path=/');
  });

  it('and not when it came in as http', async () => {
    const r = await login(server, 'tls@example.com', PASSWORD, { 'x-forwarded-proto': 'http' });
    expect(r.status).toBe(200);
    expect(sessionCookie(r.headers)!.attrs).not.toContain('secure');
  });
});

describe('sign-up', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('creates the user, their workspace and a session', async () => {
    const r = await api(server.url, 'POST', '/v1/auth/signup', { body: { email: 'New@Example.com', password: PASSWORD, workspace_name: 'Newco', name: 'Nina' } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      object: 'session',
      user: { email: 'new@example.com', name: 'Nina', has_password: true },
      workspace_id: expect.any(String),
      workspaces: [{ name: 'Newco', role: 'owner' }],
      csrf_token: expect.any(String),
    });
    expect(r.json.workspaces[0].id).toBe(r.json.workspace_id);
    const c = sessionCookie(r.headers)!;
    expect(c.attrs).toEqual(expect.arrayContaining(['httponly', 'samesite=lax', 'path=/']));
    const cookie = `mailstack_session=${c.value}`;
    const ws = await api(server.url, 'GET', '/v1/workspace', { headers: { cookie } });
    expect(ws.status).toBe(200);
    expect(ws.json).toMatchObject({ id: r.json.workspace_id, name: 'Newco' });

    const user = await server.platform.core.db.selectFrom('users').selectAll().where('email', '=', 'new@example.com').executeTakeFirstOrThrow();
    expect(user.password_hash).toMatch(/^\$argon2id\$/);
    // The new password logs in.
    expect((await login(server, 'new@example.com', PASSWORD)).status).toBe(200);
  });

  it('refuses an email that already has an account with 409', async () => {
    const r = await api(server.url, 'POST', '/v1/auth/signup', { body: { email: 'new@example.com', password: 'another password 123', workspace_name: 'Other' } });
    expect(r.status).toBe(409);
    expect(r.json).toEqual({ statusCode: 409, name: expect.any(String), message: expect.any(String) });
    expect(sessionCookie(r.headers)).toBeNull();
    // The existing password still works and no second workspace appeared.
    const s = await login(server, 'new@example.com', PASSWORD);
    expect(s.status).toBe(200);
    expect(s.json.workspaces.map((w: { name: string }) => w.name)).toEqual(['Newco']);
  });

  it('of several sign-ups for one address sent at once, exactly one wins; the rest get 409', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        api(server.url, 'POST', '/v1/auth/signup', { body: { email: 'race@example.com', password: `password number ${i}`, workspace_name: `Race ${i}` } }),
      ),
    );
    const statuses = attempts.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(4);
    // The winner's password is the one that works, and only the winner's workspace exists.
    const winner = statuses.indexOf(201);
    const s = await login(server, 'race@example.com', `password number ${winner}`);
    expect(s.status).toBe(200);
    expect(s.json.workspaces.map((w: { name: string }) => w.name)).toEqual([`Race ${winner}`]);
  });

  it('refuses a short password with 422 and creates nothing', async () => {
    const r = await api(server.url, 'POST', '/v1/auth/signup', { body: { email: 'short@example.com', password: 'short', workspace_name: 'Shortco' } });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const user = await server.platform.core.db.selectFrom('users').selectAll().where('email', '=', 'short@example.com').executeTakeFirst();
    expect(user).toBeUndefined();
  });
});

describe('sign-up turned off', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { MAILSTACK_ALLOW_SIGNUP: 'false' } });
  });
  afterAll(() => server?.stop());

  it('answers 403 and creates no user', async () => {
    const r = await api(server.url, 'POST', '/v1/auth/signup', { body: { email: 'late@example.com', password: PASSWORD, workspace_name: 'Late' } });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ statusCode: 403, name: expect.any(String), message: expect.stringContaining('MAILSTACK_ALLOW_SIGNUP') });
    expect(sessionCookie(r.headers)).toBeNull();
    const user = await server.platform.core.db.selectFrom('users').selectAll().where('email', '=', 'late@example.com').executeTakeFirst();
    expect(user).toBeUndefined();
  });
});

describe('sign-up flood', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { MAILSTACK_LOGIN_IP_MAX_FAILURES: '3' } });
  });
  afterAll(() => server?.stop());

  it('takes at most MAILSTACK_LOGIN_IP_MAX_FAILURES sign-ups per client IP in a window, then 429', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      const r = await api(server.url, 'POST', '/v1/auth/signup', { body: { email: `flood${i}@example.com`, password: PASSWORD, workspace_name: `Flood ${i}` } });
      statuses.push(r.status);
      if (r.status === 429) expect(r.json).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const made = await server.platform.core.db.selectFrom('users').select('email').where('email', 'like', 'flood%').execute();
    expect(made).toHaveLength(3);
    // Failed sign-in attempts are counted apart: the IP may still sign in.
    const login = await api(server.url, 'POST', '/v1/auth/login', { body: { email: 'flood0@example.com', password: PASSWORD } });
    expect(login.status).toBe(200);
  });
});
