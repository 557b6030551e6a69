// Every route against every permission, over real HTTP: the routes are read from /v1/openapi.json,
// whose security requirement names each operation's permission, and every one is called by an
// owner, admin, developer and viewer (cookie sessions) and by a full_access and a sending_access key.
// A caller the permission table does not grant gets 403 (`restricted_api_key` for the sending key,
// `invalid_access` for a role) before anything else is looked at; a granted one never gets that
// 403. The sending key (Resend: sending access "can only send emails") passes only the send routes:
// issue 9 found it could reschedule (PATCH /v1/emails/:id) and cancel scheduled emails.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Grantee, type Permission, PERMISSIONS, can } from '../accounts/roles.ts';
import { ensureUser, setPassword } from '../accounts/users.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

const PASSWORD = 'correct horse battery staple';
let server: TestServer;
let workspaceId: string;
type Caller = { grantee: Grantee; label: string; call(method: string, path: string, body?: unknown): ReturnType<typeof api> };
const callers: Caller[] = [];
let routes: { method: string; path: string; permission: Permission }[] = [];

async function session(role: 'owner' | 'admin' | 'developer' | 'viewer'): Promise<Caller> {
  const core = server.platform.core;
  const email = `${role}@perm.example.com`;
  await core.store.transaction(async (tx) => {
    const { user } = await ensureUser(core, tx, email);
    await setPassword(core, tx, user.id, PASSWORD);
    await tx.insertInto('memberships').values({ workspace_id: workspaceId, user_id: user.id, role, created_at: core.clock.now() }).execute();
  });
  const res = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
  expect(res.status).toBe(200);
  const { csrf_token } = (await res.json()) as { csrf_token: string };
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('mailstack_session='))!;
  return { grantee: role, label: `${role} session`, call: (method, path, body) => api(server.url, method, path, { body, headers: { cookie, 'x-csrf-token': csrf_token } }) };
}

beforeAll(async () => {
  server = await startTestServer();
  const ws = await server.setup('first@perm.example.com', 'Perm');
  workspaceId = ws.workspaceId;
  const key = (k: string, grantee: Grantee, label: string): Caller => ({ grantee, label, call: (method, path, body) => api(server.url, method, path, { key: k, body }) });
  const sending = await api(server.url, 'POST', '/v1/api-keys', { key: ws.apiKey, body: { name: 'sender', permission: 'sending_access' } });
  expect(sending.status).toBe(201);
  callers.push(key(sending.json.token, 'sender', 'sending_access key'), key(ws.apiKey, 'admin', 'full_access key'));
  for (const role of ['viewer', 'developer', 'admin', 'owner'] as const) callers.push(await session(role));

  const doc = (await api(server.url, 'GET', '/v1/openapi.json')).json;
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      const scopes: string[] = op.security?.[0]?.bearer ?? [];
      if (scopes.length) routes.push({ method: method.toUpperCase(), path, permission: scopes[0] as Permission });
    }
  }
}, 60_000);

afterAll(() => server?.stop());

describe('every route against every permission', () => {
  it('names a known permission for each protected route, and covers the email routes of issue 9', () => {
    expect(routes.length).toBeGreaterThan(60);
    for (const r of routes) expect(Object.keys(PERMISSIONS), `${r.method} ${r.path}`).toContain(r.permission);
    expect(routes).toContainEqual({ method: 'PATCH', path: '/v1/emails/{id}', permission: 'emails:manage' });
    expect(routes).toContainEqual({ method: 'POST', path: '/v1/emails/{id}/cancel', permission: 'emails:manage' });
  });

  it('answers 403 exactly where the table denies, for each of the six kinds of caller', async () => {
    const wrong: string[] = [];
    for (const caller of callers) {
      for (const r of routes) {
        const granted = can(caller.grantee, r.permission);
        // A granted close would end the workspace the rest of the walk runs in.
        if (granted && r.permission === 'workspace:close') continue;
        // A granted live stream (Server-Sent Events) never ends; its refusal is still checked.
        if (granted && r.method === 'GET' && r.path === '/v1/webmail/events') continue;
        const path = r.path.replace(/\{[^}]+\}/g, () => randomUUID());
        const res = await caller.call(r.method, path, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
        const denied = res.status === 403 && (res.json?.name === 'restricted_api_key' || res.json?.name === 'invalid_access');
        if (denied === granted) wrong.push(`${caller.label} ${r.method} ${r.path} (${r.permission}): ${res.status} ${res.json?.name ?? ''}`);
        if (denied) expect(res.json.name).toBe(caller.grantee === 'sender' ? 'restricted_api_key' : 'invalid_access');
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('lets a sending_access key through only the send routes', () => {
    const open = routes.filter((r) => can('sender', r.permission)).map((r) => `${r.method} ${r.path}`).sort();
    expect(open).toEqual(['POST /v1/emails', 'POST /v1/emails/batch']);
  });
});
