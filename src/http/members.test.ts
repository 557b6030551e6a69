// Members and the audit log over real HTTP: invite, duplicate, change role, remove; the audit
// log's newest-first cursor pagination and its action filter; and that every administrative
// action leaves a record naming actor, IP, user agent, action, target and time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUser, setPassword } from '../accounts/users.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { acceptAs, invitationToken } from '../testkit/invitations.ts';

const UA = 'mailstack-members-test/1.0';
const PASSWORD = 'correct horse battery staple';

let server: TestServer;
let key: string;
let keyId: string;
let ownerId: string;
let workspaceId: string;

/** A request with the owner's full-access key and a known user agent. */
const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, { key, body, headers: { 'user-agent': UA } });

async function auditEntries(query = 'limit=100') {
  const r = await call('GET', `/v1/audit-log?${query}`);
  expect(r.status).toBe(200);
  return r.json as { object: string; has_more: boolean; data: any[] };
}

/** The newest audit entry for `action` on `targetId`. */
async function lastAudit(action: string, targetId: string) {
  const { data } = await auditEntries(`limit=100&action=${encodeURIComponent(action)}`);
  const entry = data.find((e) => e.target.id === targetId);
  expect(entry, `an audit entry ${action} for ${targetId}`).toBeDefined();
  return entry;
}

async function sessionFor(email: string, userId: string) {
  await setPassword(server.platform.core, server.platform.core.db, userId, PASSWORD);
  const res = await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const { csrf_token } = (await res.json()) as { csrf_token: string };
  const cookie = res.headers.getSetCookie()[0].split(';')[0];
  return (method: string, path: string, body?: unknown) =>
    api(server.url, method, path, { body, headers: { cookie, 'x-csrf-token': csrf_token, 'user-agent': UA } });
}

/** Invites `email` over HTTP and accepts as that person (src/accounts/invitations.ts); the member's user id. */
async function invite(email: string, role: string): Promise<string> {
  const r = await call('POST', '/v1/members', { email, role });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return acceptAs(server.platform.core, email);
}

beforeAll(async () => {
  server = await startTestServer();
  const s = await server.setup('owner@example.com', 'Acme');
  key = s.apiKey;
  ownerId = s.userId;
  workspaceId = s.workspaceId;
  keyId = (await server.platform.core.db.selectFrom('api_keys').select('id').where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow()).id;
});
afterAll(() => server?.stop());

describe('members', () => {
  it('lists the owner', async () => {
    const r = await call('GET', '/v1/members');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      object: 'list',
      has_more: false,
      data: [{ object: 'member', id: ownerId, email: 'owner@example.com', name: null, role: 'owner', created_at: expect.any(String) }],
    });
  });

  it('invites a new person: answers 201 with an invitation, mails it, audits member.invited; a member only once accepted', async () => {
    const r = await call('POST', '/v1/members', { email: '  New.Person@Example.COM ', role: 'developer' });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ object: 'invitation', id: expect.any(String), email: 'new.person@example.com', role: 'developer', status: 'pending', created_at: expect.any(String), expires_at: expect.any(String) });
    expect(Number.isNaN(Date.parse(r.json.created_at))).toBe(false);

    const db = server.platform.core.db;
    // Nothing exists for the person yet: no user, no membership (issue 9).
    expect(await db.selectFrom('users').select('id').where('email', '=', 'new.person@example.com').executeTakeFirst()).toBeUndefined();
    expect((await call('GET', '/v1/members')).json.data.map((m: any) => m.email)).not.toContain('new.person@example.com');
    expect(await invitationToken(server.platform.core, 'new.person@example.com')).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const entry = await lastAudit('member.invited', r.json.id);
    expect(entry).toMatchObject({
      object: 'audit_log_entry',
      action: 'member.invited',
      actor: { type: 'api_key', id: keyId, label: 'setup', user_agent: UA },
      target: { type: 'invitation', id: r.json.id },
      data: { email: 'new.person@example.com', role: 'developer' },
    });
    expect(entry.actor.ip).toMatch(/127\.0\.0\.1$/);

    const userId = await acceptAs(server.platform.core, 'new.person@example.com');
    const user = await db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    expect(user.password_hash).toBeNull();
    const listed = (await call('GET', '/v1/members')).json.data;
    expect(listed.map((m: any) => [m.email, m.role])).toContainEqual(['new.person@example.com', 'developer']);
  });

  it('answers 409 for a person who is already a member (whatever the case of the address)', async () => {
    await invite('dup@example.com', 'viewer');
    for (const email of ['dup@example.com', 'DUP@example.com', 'owner@example.com']) {
      const r = await call('POST', '/v1/members', { email, role: 'admin' });
      expect(r.status).toBe(409);
      expect(r.json).toEqual({ statusCode: 409, name: 'validation_error', message: expect.stringContaining('already a member') });
    }
    const roles = (await call('GET', '/v1/members')).json.data.filter((m: any) => m.email === 'dup@example.com');
    expect(roles).toEqual([expect.objectContaining({ role: 'viewer' })]);
  });

  it('invitations of the same person at once: each replaces the last, one stays pending, never a 500', async () => {
    const results = await Promise.all([1, 2, 3].map(() => call('POST', '/v1/members', { email: 'race@example.com', role: 'viewer' })));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    const pending = (await call('GET', '/v1/invitations')).json.data.filter((i: any) => i.email === 'race@example.com');
    expect(pending).toHaveLength(1);

    // The same for a person who already has an account.
    const core = server.platform.core;
    await ensureUser(core, core.db, 'existing-race@example.com');
    const again = await Promise.all([1, 2, 3].map(() => call('POST', '/v1/members', { email: 'existing-race@example.com', role: 'viewer' })));
    expect(again.map((r) => r.status)).toEqual([201, 201, 201]);
    expect((await call('GET', '/v1/invitations')).json.data.filter((i: any) => i.email === 'existing-race@example.com')).toHaveLength(1);
  });

  it('refuses a bad email or role with 422 validation_error, creating nobody', async () => {
    for (const body of [
      { email: 'not-an-email', role: 'viewer' },
      { email: 'a@b', role: 'viewer' },
      { email: 'x@example.com', role: 'superuser' },
      { email: 'x@example.com', role: 'sender' },
      { email: 'x@example.com' },
      { role: 'viewer' },
    ]) {
      const r = await call('POST', '/v1/members', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    }
    const users = await server.platform.core.db.selectFrom('users').select('email').where('email', 'in', ['not-an-email', 'a@b', 'x@example.com']).execute();
    expect(users).toEqual([]);
  });

  it("changes a member's role and audits member.role_changed with from and to", async () => {
    const invited = { id: await invite('promote@example.com', 'viewer') };
    const r = await call('PATCH', `/v1/members/${invited.id}`, { role: 'admin' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ object: 'member', id: invited.id, email: 'promote@example.com', role: 'admin' });
    const listed = (await call('GET', '/v1/members')).json.data.find((m: any) => m.id === invited.id);
    expect(listed.role).toBe('admin');
    const entry = await lastAudit('member.role_changed', invited.id);
    expect(entry.data).toEqual({ from: 'viewer', to: 'admin' });
    expect(entry.actor).toMatchObject({ type: 'api_key', id: keyId, user_agent: UA });
  });

  it('answers 404 for changing or removing someone who is not a member', async () => {
    const stranger = '01900000-0000-7000-8000-000000000001';
    for (const r of [await call('PATCH', `/v1/members/${stranger}`, { role: 'viewer' }), await call('DELETE', `/v1/members/${stranger}`)]) {
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ statusCode: 404, name: 'not_found', message: expect.any(String) });
    }
  });

  it('removes a member: 200, gone from the list, audited, and their session stops working here', async () => {
    const invited = { id: await invite('leaver@example.com', 'developer') };
    const asLeaver = await sessionFor('leaver@example.com', invited.id);
    expect((await asLeaver('GET', '/v1/api-keys')).status).toBe(200);

    const r = await call('DELETE', `/v1/members/${invited.id}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ object: 'member', id: invited.id, deleted: true });
    expect((await call('GET', '/v1/members')).json.data.map((m: any) => m.id)).not.toContain(invited.id);
    expect((await call('DELETE', `/v1/members/${invited.id}`)).status).toBe(404);
    expect((await call('PATCH', `/v1/members/${invited.id}`, { role: 'admin' })).status).toBe(404);

    const entry = await lastAudit('member.removed', invited.id);
    expect(entry.data).toEqual({ email: 'leaver@example.com', role: 'developer' });

    const after = await asLeaver('GET', '/v1/api-keys');
    expect(after.status).toBe(403);
    expect(after.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    expect((await asLeaver('POST', '/v1/api-keys', { name: 'still here?' })).status).toBe(403);
    // The person still exists (they may belong to other workspaces); only the membership went.
    expect(await server.platform.core.db.selectFrom('users').select('id').where('id', '=', invited.id).executeTakeFirst()).toBeDefined();
  });

  it('a removed member can be invited again', async () => {
    const first = { id: await invite('boomerang@example.com', 'viewer') };
    expect((await call('DELETE', `/v1/members/${first.id}`)).status).toBe(200);
    expect(await invite('boomerang@example.com', 'developer')).toBe(first.id);
    expect((await call('GET', '/v1/members')).json.data.find((m: any) => m.id === first.id)).toMatchObject({ role: 'developer' });
  });
});

describe('the audit log', () => {
  it('pages newest first with after, before and has_more, and the pages join up exactly', async () => {
    // Make some history of known order.
    for (let i = 0; i < 7; i++) await call('PATCH', `/v1/api-keys/${keyId}`, { name: `setup-${i}` });
    const full = (await auditEntries('limit=100')).data;
    expect(full.length).toBeGreaterThan(10);
    const ids = full.map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);
    const times = full.map((e) => Date.parse(e.created_at));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1]);
    expect(full[0]).toMatchObject({ action: 'api_key.updated', data: { name: { from: 'setup-5', to: 'setup-6' } } });

    // Walk forward (to older entries) three at a time.
    const walked: string[] = [];
    let page = await auditEntries('limit=3');
    expect(page.object).toBe('list');
    for (;;) {
      expect(page.data.length).toBeLessThanOrEqual(3);
      walked.push(...page.data.map((e) => e.id));
      if (!page.has_more) break;
      expect(page.data).toHaveLength(3);
      page = await auditEntries(`limit=3&after=${page.data.at(-1).id}`);
    }
    expect(walked).toEqual(ids);

    // `before` pages back to newer entries, still listed newest first.
    const back = await auditEntries(`limit=3&before=${ids[5]}`);
    expect(back.data.map((e) => e.id)).toEqual(ids.slice(2, 5));
    expect(back.has_more).toBe(true);
    const top = await auditEntries(`limit=3&before=${ids[3]}`);
    expect(top.data.map((e) => e.id)).toEqual(ids.slice(0, 3));
    expect(top.has_more).toBe(false);
    const none = await auditEntries(`limit=3&before=${ids[0]}`);
    expect(none).toEqual({ object: 'list', has_more: false, data: [] });
    const end = await auditEntries(`limit=3&after=${ids.at(-1)}`);
    expect(end).toEqual({ object: 'list', has_more: false, data: [] });
  });

  it('defaults to 20 entries and refuses bad paging parameters with 422', async () => {
    for (let i = 0; i < 21; i++) await call('PATCH', `/v1/api-keys/${keyId}`, { name: `setup-more-${i}` });
    const page = await auditEntries('');
    expect(page.data.length).toBe(20);
    expect(page.has_more).toBe(true);
    for (const q of ['limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=1.5', `after=x&before=y`, `after=${'x'.repeat(101)}`]) {
      const r = await call('GET', `/v1/audit-log?${q}`);
      expect(r.status, q).toBe(422);
      expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    }
  });

  it('filters by ?action= (combined with paging), and an unknown action gives an empty list', async () => {
    const updated = await auditEntries('action=api_key.updated&limit=100');
    expect(updated.data.length).toBeGreaterThanOrEqual(7);
    for (const e of updated.data) expect(e.action).toBe('api_key.updated');
    const firstTwo = await auditEntries('action=api_key.updated&limit=2');
    expect(firstTwo.has_more).toBe(true);
    const next = await auditEntries(`action=api_key.updated&limit=2&after=${firstTwo.data[1].id}`);
    expect(next.data.map((e) => e.id)).toEqual(updated.data.slice(2, 4).map((e) => e.id));
    for (const action of ['no.such.action', "x' OR '1'='1", '%']) {
      expect(await auditEntries(`action=${encodeURIComponent(action)}`)).toEqual({ object: 'list', has_more: false, data: [] });
    }
  });

  it('records every administrative action with actor, ip, user agent, action, target and time', async () => {
    const mark = (await auditEntries('limit=1')).data[0].id as string;
    // Through the key.
    const made = (await call('POST', '/v1/api-keys', { name: 'audited' })).json;
    await call('PATCH', `/v1/api-keys/${made.id}`, { name: 'audited 2' });
    await call('DELETE', `/v1/api-keys/${made.id}`);
    await call('PATCH', '/v1/workspace', { name: 'Acme Renamed' });
    const inv = (await call('POST', '/v1/members', { email: 'audited@example.com', role: 'viewer' })).json;
    // The invitee accepts over HTTP (a new address: the token alone), from the same client.
    const token = await invitationToken(server.platform.core, 'audited@example.com');
    const joined = await api(server.url, 'POST', '/v1/invitations/accept', { body: { token }, headers: { 'user-agent': UA } });
    const m = { id: joined.json.user.id as string };
    await call('PATCH', `/v1/members/${m.id}`, { role: 'developer' });
    await call('DELETE', `/v1/members/${m.id}`);
    // And through the owner's cookie session.
    const asOwner = await sessionFor('owner@example.com', ownerId);
    const viaSession = (await asOwner('POST', '/v1/api-keys', { name: 'from the dashboard' })).json;
    await asOwner('PATCH', '/v1/workspace', { name: 'Acme' });

    const expected: [string, string, string, 'api_key' | 'user'][] = [
      ['api_key.created', 'api_key', made.id, 'api_key'],
      ['api_key.updated', 'api_key', made.id, 'api_key'],
      ['api_key.removed', 'api_key', made.id, 'api_key'],
      ['workspace.updated', 'workspace', workspaceId, 'api_key'],
      ['member.invited', 'invitation', inv.id, 'api_key'],
      ['member.joined', 'user', m.id, 'user'],
      ['member.role_changed', 'user', m.id, 'api_key'],
      ['member.removed', 'user', m.id, 'api_key'],
      ['api_key.created', 'api_key', viaSession.id, 'user'],
      ['workspace.updated', 'workspace', workspaceId, 'user'],
    ];
    const recent = (await auditEntries(`limit=100&before=${mark}`)).data.filter((e) => !e.action.startsWith('login.'));
    // Newest first: the log read backwards is the order the actions were taken.
    const got = [...recent].reverse().map((e) => [e.action, e.target.type, e.target.id, e.actor.type]);
    expect(got).toEqual(expected);
    for (const e of recent) {
      expect(e.actor.ip).toMatch(/127\.0\.0\.1$/);
      expect(e.actor.user_agent).toBe(UA);
      expect(Number.isNaN(Date.parse(e.created_at))).toBe(false);
      if (e.actor.type === 'api_key') expect(e.actor).toMatchObject({ id: keyId, label: expect.stringMatching(/^setup/) });
      else if (e.action === 'member.joined') expect(e.actor).toMatchObject({ id: m.id, label: 'audited@example.com' });
      else expect(e.actor).toMatchObject({ id: ownerId, label: 'owner@example.com' });
    }
    const renamed = recent.find((e) => e.action === 'workspace.updated' && e.actor.type === 'user');
    expect(renamed.data).toEqual({ name: { from: 'Acme Renamed', to: 'Acme' } });
  });

  it('does not audit refused actions as if they had happened', async () => {
    const before = (await auditEntries('limit=1')).data[0].id;
    await call('POST', '/v1/api-keys', { name: '' });
    await call('PATCH', '/v1/members/01900000-0000-7000-8000-000000000002', { role: 'viewer' });
    await call('POST', '/v1/members', { email: 'owner@example.com', role: 'viewer' });
    expect((await auditEntries('limit=1')).data[0].id).toBe(before);
  });
});
