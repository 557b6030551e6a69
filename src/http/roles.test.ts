// Roles over real HTTP: what each member role may do through a cookie session, what a full-access
// key (which acts as an admin) and a sending-only key may do, and the rule that a workspace always
// keeps an owner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../accounts/roles.ts';
import { ensureUser, setPassword } from '../accounts/users.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { acceptAs } from '../testkit/invitations.ts';

const PASSWORD = 'correct horse battery staple';

let server: TestServer;
let ownerKey: string;
let workspaceId: string;
let ownerId: string;

/** A member of the workspace with `role`, signed in over HTTP with a cookie session. */
interface Member {
  userId: string;
  email: string;
  /** A request with the session cookie (and the CSRF token unless `csrf: false`). */
  call(method: string, path: string, body?: unknown, opts?: { csrf?: boolean }): ReturnType<typeof api>;
}

async function login(email: string): Promise<Omit<Member, 'userId' | 'email'>> {
  const res = await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { csrf_token: string; workspace_id: string };
  expect(body.workspace_id).toBe(workspaceId);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('mailstack_session='));
  expect(cookie).toBeDefined();
  return {
    call: (method, path, payload, opts = {}) =>
      api(server.url, method, path, {
        body: payload,
        headers: { cookie: cookie!, ...(opts.csrf === false ? {} : { 'x-csrf-token': body.csrf_token }) },
      }),
  };
}

let seq = 0;
async function member(role: Role): Promise<Member> {
  const email = `${role}${++seq}@example.com`;
  const core = server.platform.core;
  const userId = await core.store.transaction(async (tx) => {
    const { user } = await ensureUser(core, tx, email);
    await setPassword(core, tx, user.id, PASSWORD);
    await tx.insertInto('memberships').values({ workspace_id: workspaceId, user_id: user.id, role, created_at: core.clock.now() }).execute();
    return user.id;
  });
  return { userId, email, ...(await login(email)) };
}

async function roleInDb(userId: string) {
  const row = await server.platform.core.db
    .selectFrom('memberships')
    .select('role')
    .where('workspace_id', '=', workspaceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.role ?? null;
}

async function ownerCount(): Promise<number> {
  const rows = await server.platform.core.db.selectFrom('memberships').select('user_id').where('workspace_id', '=', workspaceId).where('role', '=', 'owner').execute();
  return rows.length;
}

beforeAll(async () => {
  server = await startTestServer();
  ({ apiKey: ownerKey, workspaceId, userId: ownerId } = await server.setup('owner@example.com', 'Acme', PASSWORD));
});
afterAll(() => server?.stop());

describe('a viewer', () => {
  it('can read keys, members and the workspace but cannot create, rename or remove keys (403)', async () => {
    const viewer = await member('viewer');
    const listed = await viewer.call('GET', '/v1/api-keys');
    expect(listed.status).toBe(200);
    expect(listed.json).toMatchObject({ object: 'list', data: expect.any(Array) });
    expect(listed.json.data.length).toBeGreaterThan(0);
    expect((await viewer.call('GET', '/v1/members')).status).toBe(200);
    expect((await viewer.call('GET', '/v1/workspace')).json).toMatchObject({ id: workspaceId, role: 'viewer' });

    const before = (await api(server.url, 'GET', '/v1/api-keys?limit=100', { key: ownerKey })).json.data.length;
    const created = await viewer.call('POST', '/v1/api-keys', { name: 'viewer key' });
    expect(created.status).toBe(403);
    expect(created.json).toEqual({ statusCode: 403, name: 'invalid_access', message: expect.stringContaining('viewer') });

    const target = listed.json.data[0].id;
    expect((await viewer.call('PATCH', `/v1/api-keys/${target}`, { name: 'renamed by viewer' })).status).toBe(403);
    expect((await viewer.call('DELETE', `/v1/api-keys/${target}`)).status).toBe(403);
    const after = (await api(server.url, 'GET', '/v1/api-keys?limit=100', { key: ownerKey })).json.data;
    expect(after.length).toBe(before);
    expect(after.find((k: any) => k.id === target).name).not.toBe('renamed by viewer');
  });

  it('cannot read the audit log, invite members or rename the workspace', async () => {
    const viewer = await member('viewer');
    expect((await viewer.call('GET', '/v1/audit-log')).status).toBe(403);
    expect((await viewer.call('POST', '/v1/members', { email: 'x@example.com', role: 'viewer' })).status).toBe(403);
    expect((await viewer.call('PATCH', '/v1/workspace', { name: 'Pwned' })).status).toBe(403);
    expect((await api(server.url, 'GET', '/v1/workspace', { key: ownerKey })).json.name).toBe('Acme');
  });
});

describe('a developer', () => {
  it('can create and manage API keys', async () => {
    const dev = await member('developer');
    const created = await dev.call('POST', '/v1/api-keys', { name: 'dev key' });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^ms_/);
    expect((await dev.call('PATCH', `/v1/api-keys/${created.json.id}`, { name: 'dev key 2' })).status).toBe(200);
    expect((await dev.call('DELETE', `/v1/api-keys/${created.json.id}`)).status).toBe(200);
  });

  it('cannot invite, re-role or remove members, nor read the audit log', async () => {
    const dev = await member('developer');
    const other = await member('viewer');
    const invite = await dev.call('POST', '/v1/members', { email: 'friend@example.com', role: 'viewer' });
    expect(invite.status).toBe(403);
    expect(invite.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    expect((await dev.call('PATCH', `/v1/members/${other.userId}`, { role: 'admin' })).status).toBe(403);
    expect((await dev.call('PATCH', `/v1/members/${dev.userId}`, { role: 'admin' })).status).toBe(403);
    expect((await dev.call('DELETE', `/v1/members/${other.userId}`)).status).toBe(403);
    expect((await dev.call('GET', '/v1/audit-log')).status).toBe(403);
    expect(await roleInDb(dev.userId)).toBe('developer');
    expect(await roleInDb(other.userId)).toBe('viewer');
    const users = (await api(server.url, 'GET', '/v1/members', { key: ownerKey })).json.data.map((m: any) => m.email);
    expect(users).not.toContain('friend@example.com');
  });
});

describe('a cookie session', () => {
  it('cannot write without the X-CSRF-Token header, and a wrong token is refused', async () => {
    const admin = await member('admin');
    const none = await admin.call('POST', '/v1/api-keys', { name: 'no csrf' }, { csrf: false });
    expect(none.status).toBe(403);
    expect(none.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    const wrong = await api(server.url, 'POST', '/v1/api-keys', { body: { name: 'bad csrf' }, headers: { cookie: 'mailstack_session=nope', 'x-csrf-token': 'x' } });
    expect(wrong.status).toBe(401);
  });

  it('acts with the current role: a demotion takes effect on the next request', async () => {
    const admin = await member('admin');
    expect((await admin.call('POST', '/v1/api-keys', { name: 'while admin' })).status).toBe(201);
    expect((await api(server.url, 'PATCH', `/v1/members/${admin.userId}`, { key: ownerKey, body: { role: 'viewer' } })).status).toBe(200);
    expect((await admin.call('POST', '/v1/api-keys', { name: 'after demotion' })).status).toBe(403);
  });
});

describe('an admin', () => {
  it('can invite and re-role non-owners', async () => {
    const admin = await member('admin');
    const invited = await admin.call('POST', '/v1/members', { email: 'newdev@example.com', role: 'developer' });
    expect(invited.status).toBe(201);
    const userId = await acceptAs(server.platform.core, 'newdev@example.com');
    const changed = await admin.call('PATCH', `/v1/members/${userId}`, { role: 'admin' });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ id: userId, role: 'admin' });
  });

  it('cannot make anyone owner, by invite or by role change, not even itself', async () => {
    const admin = await member('admin');
    const dev = await member('developer');
    const invite = await admin.call('POST', '/v1/members', { email: 'wannabe@example.com', role: 'owner' });
    expect(invite.status).toBe(403);
    expect(invite.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    expect((await admin.call('PATCH', `/v1/members/${dev.userId}`, { role: 'owner' })).status).toBe(403);
    expect((await admin.call('PATCH', `/v1/members/${admin.userId}`, { role: 'owner' })).status).toBe(403);
    expect(await roleInDb(dev.userId)).toBe('developer');
    expect(await roleInDb(admin.userId)).toBe('admin');
    const emails = (await api(server.url, 'GET', '/v1/members', { key: ownerKey })).json.data.map((m: any) => m.email);
    expect(emails).not.toContain('wannabe@example.com');
  });

  it('cannot demote or remove an owner', async () => {
    const admin = await member('admin');
    expect((await admin.call('PATCH', `/v1/members/${ownerId}`, { role: 'viewer' })).status).toBe(403);
    expect((await admin.call('DELETE', `/v1/members/${ownerId}`)).status).toBe(403);
    expect(await roleInDb(ownerId)).toBe('owner');
  });

  it('a full_access key acts as an admin: it cannot grant owner or touch an owner', async () => {
    const dev = await member('developer');
    expect((await api(server.url, 'PATCH', `/v1/members/${dev.userId}`, { key: ownerKey, body: { role: 'owner' } })).status).toBe(403);
    expect((await api(server.url, 'POST', '/v1/members', { key: ownerKey, body: { email: 'keyowner@example.com', role: 'owner' } })).status).toBe(403);
    expect((await api(server.url, 'DELETE', `/v1/members/${ownerId}`, { key: ownerKey })).status).toBe(403);
    expect(await roleInDb(dev.userId)).toBe('developer');
    expect(await roleInDb(ownerId)).toBe('owner');
  });
});

describe('the last owner', () => {
  it('cannot be demoted or removed (422), even by itself', async () => {
    expect(await ownerCount()).toBe(1);
    const owner = { userId: ownerId, ...(await login('owner@example.com')) };
    const demote = await owner.call('PATCH', `/v1/members/${ownerId}`, { role: 'admin' });
    expect(demote.status).toBe(422);
    expect(demote.json).toEqual({ statusCode: 422, name: 'validation_error', message: expect.stringContaining('owner') });
    const remove = await owner.call('DELETE', `/v1/members/${ownerId}`);
    expect(remove.status).toBe(422);
    expect(remove.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(await roleInDb(ownerId)).toBe('owner');
  });

  it('an owner may promote another owner, after which either may step down, but not both', async () => {
    const owner = { userId: ownerId, ...(await login('owner@example.com')) };
    const second = await member('admin');
    const promoted = await owner.call('PATCH', `/v1/members/${second.userId}`, { role: 'owner' });
    expect(promoted.status).toBe(200);
    expect(await ownerCount()).toBe(2);
    // The new owner steps down; the original is then the last one again.
    expect((await second.call('PATCH', `/v1/members/${second.userId}`, { role: 'developer' })).status).toBe(200);
    expect((await owner.call('DELETE', `/v1/members/${ownerId}`)).status).toBe(422);
    expect(await ownerCount()).toBe(1);
  });

  it('two owners demoting each other at the same moment still leave one owner', async () => {
    const owner = { userId: ownerId, ...(await login('owner@example.com')) };
    for (let round = 0; round < 5; round++) {
      const other = await member('admin');
      expect((await owner.call('PATCH', `/v1/members/${other.userId}`, { role: 'owner' })).status).toBe(200);
      const results = await Promise.all([
        owner.call('PATCH', `/v1/members/${other.userId}`, { role: 'admin' }),
        other.call('PATCH', `/v1/members/${ownerId}`, { role: 'admin' }),
      ]);
      const statuses = results.map((r) => r.status).sort();
      // One wins; the loser is refused either as no longer an owner (403) or as the last owner (422).
      expect(statuses[0]).toBe(200);
      expect([403, 422]).toContain(statuses[1]);
      expect(await ownerCount()).toBe(1);
      // Leave the original owner as the owner for the next round.
      if ((await roleInDb(ownerId)) !== 'owner') {
        const winner = other;
        expect((await winner.call('PATCH', `/v1/members/${ownerId}`, { role: 'owner' })).status).toBe(200);
        expect((await owner.call('PATCH', `/v1/members/${other.userId}`, { role: 'admin' })).status).toBe(200);
      }
      expect(await ownerCount()).toBe(1);
    }
  });
});

describe('a sending_access key', () => {
  let sendKey: string;
  let someKeyId: string;
  beforeAll(async () => {
    const made = await server.resend(ownerKey).apiKeys.create({ name: 'sender', permission: 'sending_access' });
    sendKey = made.data!.token;
    someKeyId = made.data!.id;
  });

  const restricted = (r: { status: number; json: any }) => {
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ statusCode: 403, name: 'restricted_api_key', message: expect.any(String) });
  };

  it('gets 403 restricted_api_key on every key endpoint', async () => {
    restricted(await api(server.url, 'GET', '/v1/api-keys', { key: sendKey }));
    restricted(await api(server.url, 'POST', '/v1/api-keys', { key: sendKey, body: { name: 'escalate' } }));
    restricted(await api(server.url, 'PATCH', `/v1/api-keys/${someKeyId}`, { key: sendKey, body: { name: 'x' } }));
    restricted(await api(server.url, 'DELETE', `/v1/api-keys/${someKeyId}`, { key: sendKey }));
    // Through the SDK too.
    const sdk = server.resend(sendKey);
    expect((await sdk.apiKeys.remove(someKeyId)).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    const keys = (await api(server.url, 'GET', '/v1/api-keys?limit=100', { key: ownerKey })).json.data;
    expect(keys.find((k: any) => k.id === someKeyId)).toMatchObject({ name: 'sender' });
    expect(keys.map((k: any) => k.name)).not.toContain('escalate');
  });

  it('gets 403 restricted_api_key on members, the audit log and the workspace', async () => {
    const dev = await member('developer');
    restricted(await api(server.url, 'GET', '/v1/members', { key: sendKey }));
    restricted(await api(server.url, 'POST', '/v1/members', { key: sendKey, body: { email: 'in@example.com', role: 'admin' } }));
    restricted(await api(server.url, 'PATCH', `/v1/members/${dev.userId}`, { key: sendKey, body: { role: 'admin' } }));
    restricted(await api(server.url, 'DELETE', `/v1/members/${dev.userId}`, { key: sendKey }));
    restricted(await api(server.url, 'GET', '/v1/audit-log', { key: sendKey }));
    restricted(await api(server.url, 'PATCH', '/v1/workspace', { key: sendKey, body: { name: 'Pwned' } }));
    expect(await roleInDb(dev.userId)).toBe('developer');
  });

  it('is refused before its body is looked at (403, not 422, for a bad body)', async () => {
    restricted(await api(server.url, 'POST', '/v1/api-keys', { key: sendKey, body: { name: '' } }));
    restricted(await api(server.url, 'POST', '/v1/members', { key: sendKey, raw: '{not json' }));
  });
});
