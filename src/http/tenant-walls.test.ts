// Tenant walls over real HTTP: two workspaces, A and B, on one node. A's key must get 404 for
// everything of B's (never 403, which would confirm it exists), must not change any of it, and
// neither workspace's lists, however paged, may show a row of the other's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPassword } from '../accounts/users.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { acceptAs } from '../testkit/invitations.ts';

let server: TestServer;
const A = { key: '', workspaceId: '', userId: '', keyIds: [] as string[], memberId: '' };
const B = { key: '', workspaceId: '', userId: '', keyIds: [] as string[], memberId: '' };

/** Everything B's key can see of B, to compare before and after A's attempts. */
async function snapshotOfB() {
  const keys = await api(server.url, 'GET', '/v1/api-keys?limit=100', { key: B.key });
  const members = await api(server.url, 'GET', '/v1/members', { key: B.key });
  const workspace = await api(server.url, 'GET', '/v1/workspace', { key: B.key });
  const audit = await api(server.url, 'GET', '/v1/audit-log?limit=100', { key: B.key });
  expect([keys.status, members.status, workspace.status, audit.status]).toEqual([200, 200, 200, 200]);
  // last_used_at moves when B's own key is used; leave it out of the comparison.
  return {
    keys: keys.json.data.map((k: any) => ({ ...k, last_used_at: undefined })),
    members: members.json.data,
    workspace: workspace.json,
    audit: audit.json.data,
  };
}

function expectNotFound(r: { status: number; json: any }) {
  expect(r.status).toBe(404);
  expect(r.json).toEqual({ statusCode: 404, name: 'not_found', message: expect.any(String) });
}

beforeAll(async () => {
  server = await startTestServer();
  for (const [ws, label] of [[A, 'a'], [B, 'b']] as const) {
    const s = await server.setup(`owner-${label}@example.com`, `Workspace ${label.toUpperCase()}`);
    ws.key = s.apiKey;
    ws.workspaceId = s.workspaceId;
    ws.userId = s.userId;
    const resend = server.resend(s.apiKey);
    for (let i = 0; i < 3; i++) ws.keyIds.push((await resend.apiKeys.create({ name: `${label}-key-${i}` })).data!.id);
    const invited = await api(server.url, 'POST', '/v1/members', { key: s.apiKey, body: { email: `dev-${label}@example.com`, role: 'developer' } });
    expect(invited.status).toBe(201);
    // A member only once they accept (issue 9): accept as the invitee would.
    ws.memberId = await acceptAs(server.platform.core, `dev-${label}@example.com`);
  }
});
afterAll(() => server?.stop());

describe("A's key against B's rows", () => {
  it('gets 404 not_found for renaming and removing B\'s keys, through the SDK and raw HTTP', async () => {
    const before = await snapshotOfB();
    const sdk = server.resend(A.key);
    for (const id of B.keyIds) {
      expect((await sdk.apiKeys.update(id, { name: 'taken over' })).error).toMatchObject({ statusCode: 404, name: 'not_found' });
      expect((await sdk.apiKeys.remove(id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
      expectNotFound(await api(server.url, 'PATCH', `/v1/api-keys/${id}`, { key: A.key, body: { name: 'taken over' } }));
      expectNotFound(await api(server.url, 'DELETE', `/v1/api-keys/${id}`, { key: A.key }));
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it("answers B's ids exactly as it answers ids that do not exist (no way to infer B's rows)", async () => {
    const absent = '01900000-0000-7000-8000-000000000000';
    const forB = await api(server.url, 'DELETE', `/v1/api-keys/${B.keyIds[0]}`, { key: A.key });
    const forNothing = await api(server.url, 'DELETE', `/v1/api-keys/${absent}`, { key: A.key });
    expect(forB.status).toBe(forNothing.status);
    expect(forB.json).toEqual(forNothing.json);
    const memberB = await api(server.url, 'PATCH', `/v1/members/${B.memberId}`, { key: A.key, body: { role: 'viewer' } });
    const memberNone = await api(server.url, 'PATCH', `/v1/members/${absent}`, { key: A.key, body: { role: 'viewer' } });
    expect(memberB.status).toBe(memberNone.status);
    expect(memberB.json).toEqual(memberNone.json);
  });

  it("gets 404 for changing the role of, or removing, B's members (including B's owner)", async () => {
    const before = await snapshotOfB();
    for (const userId of [B.memberId, B.userId]) {
      for (const role of ['viewer', 'admin', 'developer']) {
        expectNotFound(await api(server.url, 'PATCH', `/v1/members/${userId}`, { key: A.key, body: { role } }));
      }
      expectNotFound(await api(server.url, 'DELETE', `/v1/members/${userId}`, { key: A.key }));
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it("cannot add itself (or anyone) to B by inviting, and inviting B's member adds them to A only", async () => {
    const before = await snapshotOfB();
    const invited = await api(server.url, 'POST', '/v1/members', { key: A.key, body: { email: `dev-b@example.com`, role: 'viewer' } });
    expect(invited.status).toBe(201);
    // The answer is an invitation, and names no user (it does not tell A that the address has an account).
    expect(JSON.stringify(invited.json)).not.toContain(B.memberId);
    expect(await snapshotOfB()).toEqual(before);
    // Once B's member accepts, they are in A too, and B is untouched: the shared person keeps their role in B.
    expect(await acceptAs(server.platform.core, 'dev-b@example.com')).toBe(B.memberId);
    const inA = (await api(server.url, 'GET', '/v1/members', { key: A.key })).json.data;
    expect(inA.find((m: any) => m.id === B.memberId)?.role).toBe('viewer');
    const after = await snapshotOfB();
    expect(after.members).toEqual(before.members);
    expect(after.members.find((m: any) => m.id === B.memberId).role).toBe('developer');
    // And A's removal of them touches only A's membership.
    expect((await api(server.url, 'DELETE', `/v1/members/${B.memberId}`, { key: A.key })).status).toBe(200);
    expect((await snapshotOfB()).members).toEqual(before.members);
  });

  it("cannot hold a new key to B's domain (404), and makes no key trying", async () => {
    const domain = await server.resend(B.key).domains.create({ name: 'b-only.example.com' });
    expect(domain.error).toBeNull();
    const before = (await api(server.url, 'GET', '/v1/api-keys?limit=100', { key: A.key })).json.data.length;
    const r = await server.resend(A.key).apiKeys.create({ name: 'a-key-stolen-domain', permission: 'sending_access', domain_id: domain.data!.id });
    expect(r.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await api(server.url, 'GET', '/v1/api-keys?limit=100', { key: A.key })).json.data.length).toBe(before);
  });

  it('sees only its own workspace at /v1/workspace and cannot rename B', async () => {
    const ws = await api(server.url, 'GET', '/v1/workspace', { key: A.key });
    expect(ws.json).toMatchObject({ id: A.workspaceId, name: 'Workspace A' });
    const renamed = await api(server.url, 'PATCH', '/v1/workspace', { key: A.key, body: { name: 'A renamed' } });
    expect(renamed.json.id).toBe(A.workspaceId);
    expect((await api(server.url, 'GET', '/v1/workspace', { key: B.key })).json.name).toBe('Workspace B');
    await api(server.url, 'PATCH', '/v1/workspace', { key: A.key, body: { name: 'Workspace A' } });
  });
});

describe("B's lists never show A's rows", () => {
  const aIds = () => new Set([...A.keyIds, A.userId, A.workspaceId]);

  it('/v1/api-keys holds exactly B\'s keys', async () => {
    const list = await server.resend(B.key).apiKeys.list({ limit: 100 });
    expect(list.error).toBeNull();
    const names = list.data!.data.map((k) => k.name);
    expect(names.every((n) => n === 'setup' || n.startsWith('b-'))).toBe(true);
    for (const id of B.keyIds) expect(list.data!.data.map((k) => k.id)).toContain(id);
    for (const k of list.data!.data) expect(aIds().has(k.id)).toBe(false);
  });

  it('/v1/members holds exactly B\'s members', async () => {
    const members = (await api(server.url, 'GET', '/v1/members', { key: B.key })).json.data;
    expect(members.map((m: any) => m.email).sort()).toEqual(['dev-b@example.com', 'owner-b@example.com']);
  });

  it("/v1/audit-log holds only B's entries, whatever the action filter", async () => {
    const all = (await api(server.url, 'GET', '/v1/audit-log?limit=100', { key: B.key })).json;
    expect(all.data.length).toBeGreaterThan(0);
    const text = JSON.stringify(all);
    for (const id of aIds()) expect(text).not.toContain(id);
    expect(text).not.toContain('a-key-');
    expect(text).not.toContain('owner-a@');
    for (const action of ['api_key.created', 'api_key.updated', 'member.invited', 'member.removed', 'workspace.updated']) {
      const page = (await api(server.url, 'GET', `/v1/audit-log?action=${action}&limit=100`, { key: B.key })).json;
      expect(JSON.stringify(page)).not.toContain('a-key-');
      for (const e of page.data) expect(e.action).toBe(action);
    }
    // A's many actions against B's ids were refused, so B's log has no record of them either.
    expect(text).not.toContain('taken over');
  });

  it("paging with A's ids as cursors never yields A's rows", async () => {
    const aAudit = (await api(server.url, 'GET', '/v1/audit-log?limit=100', { key: A.key })).json.data.map((e: any) => e.id);
    const aKeyIds = new Set(A.keyIds);
    const aAuditIds = new Set(aAudit);
    const cursors = [...A.keyIds, ...aAudit.slice(0, 3), A.userId, '', '0', 'zzzzzzzz', 'ffffffff-ffff-ffff-ffff-ffffffffffff'];
    for (const cursor of cursors) {
      for (const dir of ['after', 'before']) {
        const q = `limit=100&${dir}=${encodeURIComponent(cursor)}`;
        const keys = await api(server.url, 'GET', `/v1/api-keys?${q}`, { key: B.key });
        expect(keys.status).toBeLessThan(500);
        if (keys.status === 200) for (const k of keys.json.data) expect(aKeyIds.has(k.id)).toBe(false);
        const audit = await api(server.url, 'GET', `/v1/audit-log?${q}`, { key: B.key });
        expect(audit.status).toBeLessThan(500);
        if (audit.status === 200) for (const e of audit.json.data) expect(aAuditIds.has(e.id)).toBe(false);
      }
    }
  });

  it("paging through B's keys one at a time visits B's keys and nothing else", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await server.resend(B.key).apiKeys.list({ limit: 1, ...(after ? { after } : {}) });
      seen.push(...page.data!.data.map((k) => k.id));
      if (!page.data!.has_more) break;
      after = page.data!.data[0].id;
    }
    const all = (await server.resend(B.key).apiKeys.list({ limit: 100 })).data!.data.map((k) => k.id);
    expect(seen).toEqual(all);
    for (const id of seen) expect(A.keyIds).not.toContain(id);
  });
});

describe('sessions', () => {
  it("a session cannot switch into a workspace it is not a member of", async () => {
    const core = server.platform.core;
    await setPassword(core, core.db, A.userId, 'a long enough password');
    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'owner-a@example.com', password: 'a long enough password' }),
    });
    expect(login.status).toBe(200);
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    const cookie = login.headers.getSetCookie()[0].split(';')[0];
    const headers = { cookie, 'x-csrf-token': csrf_token };
    expectNotFound(await api(server.url, 'POST', '/v1/auth/workspace', { body: { workspace_id: B.workspaceId }, headers }));
    const ws = await api(server.url, 'GET', '/v1/workspace', { headers });
    expect(ws.json.id).toBe(A.workspaceId);
  });
});
