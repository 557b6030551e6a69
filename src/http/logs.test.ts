// The API request log through the resend SDK (logs.list, logs.get): what is recorded (and what
// never is), pagination, permissions and the tenant wall.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let a: { workspaceId: string; apiKey: string };
let b: { workspaceId: string; apiKey: string };

beforeAll(async () => {
  server = await startTestServer();
  a = await server.setup('a@example.com', 'A');
  b = await server.setup('b@example.com', 'B');
});
afterAll(async () => {
  await server?.stop();
});

describe('logs.list and logs.get', () => {
  it('records each /v1 request with method, path, status and user agent, never bodies or secrets', async () => {
    const resend = server.resend(a.apiKey);
    expect((await resend.apiKeys.list()).error).toBeNull();
    const created = await resend.apiKeys.create({ name: 'secret-named key' });
    expect(created.error).toBeNull();
    const missing = await resend.domains.get('00000000-0000-7000-8000-000000000000');
    expect(missing.error).toMatchObject({ statusCode: 404 });
    await api(server.url, 'GET', '/v1/api-keys?limit=5&after=someone%40example.com', { key: a.apiKey, headers: { 'user-agent': 'curl/8.0' } });

    const list = await resend.logs.list({ limit: 3 });
    expect(list.error).toBeNull();
    expect(list.data).toMatchObject({ object: 'list', has_more: true });
    const [ours, notFound, post] = list.data!.data;
    expect(ours).toMatchObject({ method: 'GET', endpoint: '/v1/api-keys', response_status: 200, user_agent: 'curl/8.0' });
    expect(notFound).toMatchObject({ method: 'GET', endpoint: '/v1/domains/00000000-0000-7000-8000-000000000000', response_status: 404 });
    expect(notFound.user_agent).toMatch(/^resend-node:/);
    expect(post).toMatchObject({ method: 'POST', endpoint: '/v1/api-keys', response_status: 201 });
    expect(Date.parse(post.created_at)).toBeGreaterThan(0);

    const got = await resend.logs.get(post.id);
    expect(got.error).toBeNull();
    expect(got.data).toMatchObject({ object: 'log', id: post.id, method: 'POST', endpoint: '/v1/api-keys', response_status: 201, request_body: null, response_body: null });
    expect((got.data as any).api_key_id).toBeTruthy();
    expect((got.data as any).duration_ms).toBeGreaterThanOrEqual(0);

    // Nothing of the key's token, the request body or the query string is stored.
    const rows = await server.platform.core.db.selectFrom('api_requests').selectAll().where('workspace_id', '=', a.workspaceId).execute();
    const all = JSON.stringify(rows);
    expect(all).not.toContain(created.data!.token);
    expect(all).not.toContain(a.apiKey);
    expect(all).not.toContain('secret-named');
    expect(all).not.toContain('someone');
    expect(all).not.toContain('?');

    // Pages with the SDK's cursors.
    const next = await resend.logs.list({ limit: 3, after: post.id });
    expect(next.error).toBeNull();
    expect(next.data!.data.map((l) => [l.method, l.endpoint])).toEqual([['GET', '/v1/api-keys']]);
    expect(next.data!.data[0].id < post.id).toBe(true);
  });

  it('keeps workspaces apart: B sees none of A\'s log and cannot read an entry of it', async () => {
    const aList = await server.resend(a.apiKey).logs.list({ limit: 100 });
    const aIds = aList.data!.data.map((l) => l.id);
    expect(aIds.length).toBeGreaterThan(0);
    const bList = await server.resend(b.apiKey).logs.list({ limit: 100 });
    expect(bList.error).toBeNull();
    expect(bList.data!.data.some((l) => aIds.includes(l.id))).toBe(false);
    const peek = await server.resend(b.apiKey).logs.get(aIds[0]);
    expect(peek.data).toBeNull();
    expect(peek.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    // B's own reads are in B's log.
    expect(bList.data!.data.every((l) => l.endpoint.startsWith('/v1/'))).toBe(true);
  });

  it('is not readable with a sending-only key, and unidentified callers are not recorded', async () => {
    const sender = await server.resend(a.apiKey).apiKeys.create({ name: 'sender', permission: 'sending_access' });
    const r = await server.resend(sender.data!.token).logs.list();
    expect(r.error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    const before = await server.platform.core.db.selectFrom('api_requests').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect((await api(server.url, 'GET', '/v1/logs', { key: 'ms_wrong' })).status).toBe(401);
    expect((await api(server.url, 'GET', '/v1/logs')).status).toBe(401);
    const after = await server.platform.core.db.selectFrom('api_requests').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});
