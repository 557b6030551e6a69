// Invitations over real HTTP, with the invitation mailed through a real SMTP smarthost on loopback
// (issue 9: POST /v1/members made an existing account a member at once and showed its user id).
// The answer is the same whether or not the address has an account; nobody is a member before
// accepting; an existing account accepts only while signed in as the invited address; a new
// address gets its account by accepting; tokens work once; revocation and the tenant wall hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestMx, freePort, startMx } from '../testkit/remote-mx.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';

const PASSWORD = 'correct horse battery staple';
let server: TestServer;
let smarthost: TestMx;
let keyA: string;
let keyB: string;
let existingUserId: string;

const call = (key: string, method: string, path: string, body?: unknown) => api(server.url, method, path, { key, body });

async function login(email: string) {
  const res = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
  expect(res.status).toBe(200);
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('mailstack_session='))!;
}

/** The invitation link in the newest mail to `to` (decoded from quoted-printable soft breaks). */
async function linkFor(to: string, skip = 0): Promise<{ token: string; path: string }> {
  const mail = await waitFor(`the invitation to ${to}`, () => smarthost.messages.filter((m) => m.to.includes(to))[skip], 15_000);
  const text = mail.raw.toString('utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const m = /(\/invitations\/accept\?token=([A-Za-z0-9_%-]+))/.exec(text);
  expect(m, text).not.toBeNull();
  return { path: m![1], token: decodeURIComponent(m![2]) };
}

beforeAll(async () => {
  const port = await freePort();
  smarthost = await startMx('127.0.0.1', port);
  server = await startTestServer({ env: { MAILSTACK_SMARTHOST: `smtp://127.0.0.1:${port}`, MAILSTACK_MAIL_FROM: 'Mailstack <no-reply@mailstack.test>' } });
  keyA = (await server.setup('owner-a@example.com', 'Workspace A', PASSWORD)).apiKey;
  const b = await server.setup('existing@example.com', 'Workspace B', PASSWORD);
  keyB = b.apiKey;
  existingUserId = b.userId;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await smarthost?.close();
});

describe('POST /v1/members', () => {
  it('answers the same for an address with an account and one without, adds nobody and reveals no user id', async () => {
    const existing = await call(keyA, 'POST', '/v1/members', { email: 'Existing@Example.com', role: 'developer' });
    const fresh = await call(keyA, 'POST', '/v1/members', { email: 'newbie@example.com', role: 'viewer' });
    expect(existing.status).toBe(201);
    expect(fresh.status).toBe(201);
    expect(Object.keys(existing.json).sort()).toEqual(Object.keys(fresh.json).sort());
    expect(existing.json).toMatchObject({ object: 'invitation', email: 'existing@example.com', role: 'developer', status: 'pending' });
    expect(JSON.stringify(existing.json)).not.toContain(existingUserId);
    const members = (await call(keyA, 'GET', '/v1/members')).json.data.map((m: any) => m.email);
    expect(members).toEqual(['owner-a@example.com']);
    const pending = (await call(keyA, 'GET', '/v1/invitations')).json.data.map((i: any) => i.email).sort();
    expect(pending).toEqual(['existing@example.com', 'newbie@example.com']);
    // Both get the same kind of mail, through the smarthost.
    await linkFor('existing@example.com');
    await linkFor('newbie@example.com');
  });

  it('an existing account accepts only while signed in as the invited address', async () => {
    const { token } = await linkFor('existing@example.com');
    // Not signed in: refused, and still not a member.
    const anonymous = await api(server.url, 'POST', '/v1/invitations/accept', { body: { token } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.message).toContain('Sign in as existing@example.com');
    // Signed in as somebody else: refused.
    const other = await api(server.url, 'POST', '/v1/invitations/accept', { body: { token }, headers: { cookie: await login('owner-a@example.com') } });
    expect(other.status).toBe(403);
    expect((await call(keyA, 'GET', '/v1/members')).json.data.map((m: any) => m.email)).not.toContain('existing@example.com');
    // The invitee, signed in: joins with the invited role.
    const ok = await api(server.url, 'POST', '/v1/invitations/accept', { body: { token }, headers: { cookie: await login('existing@example.com') } });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(ok.json.workspaces.map((w: any) => w.name).sort()).toEqual(['Workspace A', 'Workspace B']);
    const members = (await call(keyA, 'GET', '/v1/members')).json.data;
    expect(members.find((m: any) => m.email === 'existing@example.com')).toMatchObject({ role: 'developer', id: existingUserId });
    // Once only.
    const again = await api(server.url, 'POST', '/v1/invitations/accept', { body: { token }, headers: { cookie: await login('existing@example.com') } });
    expect(again.status).toBe(404);
    expect(again.json.message).toContain('already used');
  });

  it('a new address gets its account and a session by following the mailed link', async () => {
    const { path } = await linkFor('newbie@example.com');
    const res = await fetch(server.url + path, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('mailstack_session='));
    expect(cookie).toBeDefined();
    const session = await api(server.url, 'GET', '/v1/auth/session', { headers: { cookie: cookie! } });
    expect(session.json).toMatchObject({ user: { email: 'newbie@example.com' } });
    expect((await call(keyA, 'GET', '/v1/members')).json.data.find((m: any) => m.email === 'newbie@example.com')).toMatchObject({ role: 'viewer' });
    const reused = await fetch(server.url + path, { redirect: 'manual' });
    expect(reused.status).toBe(404);
    expect(await reused.text()).toContain('invalid, already used, revoked or expired');
  });

  it('409 for someone already a member; a newer invitation replaces the pending one; revoked ones do nothing', async () => {
    expect((await call(keyA, 'POST', '/v1/members', { email: 'existing@example.com', role: 'admin' })).status).toBe(409);
    const first = await call(keyA, 'POST', '/v1/members', { email: 'twice@example.com', role: 'viewer' });
    const firstLink = await linkFor('twice@example.com');
    const second = await call(keyA, 'POST', '/v1/members', { email: 'twice@example.com', role: 'developer' });
    const secondLink = await linkFor('twice@example.com', 1);
    expect(second.json.id).not.toBe(first.json.id);
    expect((await api(server.url, 'POST', '/v1/invitations/accept', { body: { token: firstLink.token } })).status).toBe(404);
    expect((await call(keyA, 'DELETE', `/v1/invitations/${second.json.id}`)).json).toEqual({ object: 'invitation', id: second.json.id, deleted: true });
    expect((await api(server.url, 'POST', '/v1/invitations/accept', { body: { token: secondLink.token } })).status).toBe(404);
    expect((await call(keyA, 'GET', '/v1/members')).json.data.map((m: any) => m.email)).not.toContain('twice@example.com');
  });

  it('holds the tenant wall: another workspace neither lists nor revokes them', async () => {
    const inv = await call(keyA, 'POST', '/v1/members', { email: 'walled@example.com', role: 'viewer' });
    expect((await call(keyB, 'GET', '/v1/invitations')).json.data.map((i: any) => i.id)).not.toContain(inv.json.id);
    expect((await call(keyB, 'DELETE', `/v1/invitations/${inv.json.id}`)).status).toBe(404);
    expect((await call(keyA, 'GET', '/v1/invitations')).json.data.map((i: any) => i.id)).toContain(inv.json.id);
  });
});
