// Suppressions through the resend SDK against a real node: add, list with cursors and the origin
// filter, get and remove by id and by address, batch add/remove, the audit log and events, tenant
// walls, roles, and hostile input answered in Resend's error shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resend } from 'resend';
import { createSession, csrfToken } from '../accounts/sessions.ts';
import { ensureUser } from '../accounts/users.ts';
import { SESSION_COOKIE } from '../http/auth.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { findSuppression } from './suppressions.ts';

let server: TestServer;
let a: { workspaceId: string; apiKey: string; resend: Resend };
let b: { workspaceId: string; apiKey: string; resend: Resend };

beforeAll(async () => {
  server = await startTestServer({ env: { MAILSTACK_WORKER_CONCURRENCY: '0' } });
  const wa = await server.setup('owner-a@example.com', 'A');
  const wb = await server.setup('owner-b@example.com', 'B');
  a = { ...wa, resend: server.resend(wa.apiKey) };
  b = { ...wb, resend: server.resend(wb.apiKey) };
});
afterAll(async () => {
  await server?.stop();
});

const db = () => server.platform.core.db;

describe('suppressions through the resend SDK', () => {
  it('adds an address (normalised), gets it by id and by address, and removes it', async () => {
    const added = await a.resend.suppressions.add({ email: '  Someone@Example.COM ' });
    expect(added.error).toBeNull();
    expect(added.data).toEqual({ object: 'suppression', id: expect.any(String) });
    const id = added.data!.id;

    const byId = await a.resend.suppressions.get(id);
    expect(byId.error).toBeNull();
    expect(byId.data).toMatchObject({ object: 'suppression', id, email: 'someone@example.com', origin: 'manual', source_id: null });
    expect(Date.parse(byId.data!.created_at)).toBeGreaterThan(0);

    const byEmail = await a.resend.suppressions.get('SOMEONE@example.com');
    expect(byEmail.error).toBeNull();
    expect(byEmail.data!.id).toBe(id);

    // Adding again is idempotent: the same suppression, first cause kept.
    const again = await a.resend.suppressions.add({ email: 'someone@example.com' });
    expect(again.data!.id).toBe(id);

    const removed = await a.resend.suppressions.remove('someone@example.com');
    expect(removed.error).toBeNull();
    expect(removed.data).toEqual({ object: 'suppression', id, deleted: true });
    const gone = await a.resend.suppressions.get(id);
    expect(gone.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    const twice = await a.resend.suppressions.remove(id);
    expect(twice.error).toMatchObject({ statusCode: 404, name: 'not_found' });
  });

  it('removes by id too, and handles addresses with + and / in the path', async () => {
    const { data } = await a.resend.suppressions.add({ email: 'a+tag/x@example.com' });
    expect((await a.resend.suppressions.get('a+tag/x@example.com')).data?.id).toBe(data!.id);
    const removed = await a.resend.suppressions.remove(data!.id);
    expect(removed.data).toEqual({ object: 'suppression', id: data!.id, deleted: true });
  });

  it('lists newest first with after/before cursors and the origin filter', async () => {
    const emails = Array.from({ length: 7 }, (_, i) => `list${i}@paging.example`);
    const ids: string[] = [];
    for (const email of emails) ids.push((await a.resend.suppressions.add({ email })).data!.id);
    const newestFirst = [...ids].reverse();

    const first = await a.resend.suppressions.list({ limit: 3 });
    expect(first.error).toBeNull();
    expect(first.data!.object).toBe('list');
    expect(first.data!.has_more).toBe(true);
    expect(first.data!.data.map((s) => s.id)).toEqual(newestFirst.slice(0, 3));
    expect(first.data!.data[0]).toMatchObject({ email: 'list6@paging.example', origin: 'manual' });
    expect(first.data!.data[0]).not.toHaveProperty('object');

    const second = await a.resend.suppressions.list({ limit: 3, after: newestFirst[2] });
    expect(second.data!.data.map((s) => s.id)).toEqual(newestFirst.slice(3, 6));
    const back = await a.resend.suppressions.list({ limit: 3, before: newestFirst[3] });
    expect(back.data!.data.map((s) => s.id)).toEqual(newestFirst.slice(0, 3));

    // Walk everything with `after`; each of ours appears once.
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await a.resend.suppressions.list(after ? { limit: 2, after } : { limit: 2 });
      seen.push(...r.data!.data.map((s) => s.id));
      if (!r.data!.has_more) break;
      after = r.data!.data.at(-1)!.id;
    }
    for (const id of ids) expect(seen.filter((s) => s === id)).toHaveLength(1);

    const manual = await a.resend.suppressions.list({ origin: 'manual', limit: 100 });
    expect(manual.data!.data.length).toBeGreaterThanOrEqual(7);
    const bounces = await a.resend.suppressions.list({ origin: 'bounce' });
    expect(bounces.data!.data).toEqual([]);
    const bad = await api(server.url, 'GET', '/v1/suppressions?origin=nonsense', { key: a.apiKey });
    expect(bad.status).toBe(422);
    expect(bad.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });

  it('batch adds (all or nothing) and batch removes by emails or by ids', async () => {
    const added = await a.resend.suppressions.batch.add({ emails: ['b1@batch.example', 'B2@batch.example', 'b1@batch.example'] });
    expect(added.error).toBeNull();
    expect(added.data!.data).toHaveLength(2);
    for (const d of added.data!.data) expect(d).toMatchObject({ object: 'suppression', id: expect.any(String) });

    // One bad address refuses the batch: nothing of it is added.
    const refused = await a.resend.suppressions.batch.add({ emails: ['ok@batch.example', 'not an address'] });
    expect(refused.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(await findSuppression(db(), a.workspaceId, 'ok@batch.example')).toBeUndefined();

    const byEmails = await a.resend.suppressions.batch.remove({ emails: ['b1@batch.example', 'missing@batch.example'] });
    expect(byEmails.error).toBeNull();
    expect(byEmails.data!.data).toEqual([
      expect.objectContaining({ object: 'suppression', id: added.data!.data[0].id, deleted: true }),
      expect.objectContaining({ object: 'suppression', deleted: false }),
    ]);
    const byIds = await a.resend.suppressions.batch.remove({ ids: [added.data!.data[1].id] });
    expect(byIds.data!.data).toEqual([expect.objectContaining({ id: added.data!.data[1].id, deleted: true })]);
    expect(await findSuppression(db(), a.workspaceId, 'b2@batch.example')).toBeUndefined();

    const both = await api(server.url, 'POST', '/v1/suppressions/batch/remove', { key: a.apiKey, body: { emails: ['x@y.example'], ids: ['z'] } });
    expect(both.status).toBe(422);
    const neither = await api(server.url, 'POST', '/v1/suppressions/batch/remove', { key: a.apiKey, body: {} });
    expect(neither.status).toBe(422);
    const tooMany = await a.resend.suppressions.batch.add({ emails: Array.from({ length: 101 }, (_, i) => `m${i}@batch.example`) });
    expect(tooMany.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });

  it('audits every add and remove, and announces them as suppression.added / suppression.removed', async () => {
    const { data } = await a.resend.suppressions.add({ email: 'audited@example.com' });
    await a.resend.suppressions.remove(data!.id);
    const audit = await db().selectFrom('audit_log').select(['action', 'actor_type', 'workspace_id']).where('target_id', '=', data!.id).orderBy('id').execute();
    expect(audit).toEqual([
      { action: 'suppression.added', actor_type: 'api_key', workspace_id: a.workspaceId },
      { action: 'suppression.removed', actor_type: 'api_key', workspace_id: a.workspaceId },
    ]);
    const events = await db().selectFrom('event_records').select(['type', 'payload']).where('workspace_id', '=', a.workspaceId).where('type', 'like', 'suppression.%').execute();
    const mine = events.filter((e) => JSON.parse(e.payload).data.id === data!.id);
    expect(mine.map((e) => e.type).sort()).toEqual(['suppression.added', 'suppression.removed']);
    expect(JSON.parse(mine[0].payload).data).toMatchObject({ id: data!.id, email: 'audited@example.com', origin: 'manual', source_id: null });
  });
});

describe('tenant walls', () => {
  it('B cannot see, get or remove A\'s suppressions, and an address suppressed in A is not suppressed in B', async () => {
    const { data } = await a.resend.suppressions.add({ email: 'walled@example.com' });
    const id = data!.id;
    expect((await b.resend.suppressions.get(id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.resend.suppressions.get('walled@example.com')).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.resend.suppressions.remove(id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await b.resend.suppressions.remove('walled@example.com')).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    const batch = await b.resend.suppressions.batch.remove({ ids: [id] });
    expect(batch.data!.data).toEqual([expect.objectContaining({ id, deleted: false })]);
    const list = await b.resend.suppressions.list({ limit: 100 });
    expect(list.data!.data.map((s) => s.id)).not.toContain(id);
    // Still there for A.
    expect((await a.resend.suppressions.get(id)).data?.email).toBe('walled@example.com');
    // Not suppressed in B; B may suppress it on its own, with its own id.
    expect(await findSuppression(db(), b.workspaceId, 'walled@example.com')).toBeUndefined();
    const own = await b.resend.suppressions.add({ email: 'walled@example.com' });
    expect(own.data!.id).not.toBe(id);
    await b.resend.suppressions.remove(own.data!.id);
    expect((await a.resend.suppressions.get(id)).data?.id).toBe(id);
  });
});

describe('roles', () => {
  it('lets a viewer read but not add or remove; refuses a sending-only key', async () => {
    const core = server.platform.core;
    const { user } = await ensureUser(core, core.db, 'viewer@example.com');
    await core.db.insertInto('memberships').values({ workspace_id: a.workspaceId, user_id: user.id, role: 'viewer', created_at: Date.now() }).execute();
    const { token, session } = await createSession(core, user.id, a.workspaceId, null, null);
    const cookie = { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': await csrfToken(core, session.id) };

    const list = await api(server.url, 'GET', '/v1/suppressions', { headers: cookie });
    expect(list.status).toBe(200);
    const add = await api(server.url, 'POST', '/v1/suppressions', { headers: cookie, body: { email: 'viewer-add@example.com' } });
    expect(add.status).toBe(403);
    expect(add.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    const batch = await api(server.url, 'POST', '/v1/suppressions/batch/add', { headers: cookie, body: { emails: ['v@example.com'] } });
    expect(batch.status).toBe(403);
    expect(await findSuppression(core.db, a.workspaceId, 'viewer-add@example.com')).toBeUndefined();

    const key = await a.resend.apiKeys.create({ name: 'sender', permission: 'sending_access' });
    const sender = server.resend(key.data!.token);
    expect((await sender.suppressions.add({ email: 'x@example.com' })).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    expect((await sender.suppressions.list()).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
  });
});

describe('hostile input', () => {
  it('answers bad addresses and huge strings with 422 in Resend\'s shape, never 500', async () => {
    const huge = 'x'.repeat(10 * 1024);
    const bodies: unknown[] = [
      { email: 'not-an-address' },
      { email: '' },
      { email: 'a@b' },
      { email: `${huge}@example.com` },
      { email: `user@${huge}.com` },
      { email: 42 },
      { email: null },
      { email: 'a\u0000b@example.com' },
      { email: 'a b@example.com' },
      { email: '<a@example.com>' },
      {},
    ];
    for (const body of bodies) {
      const r = await api(server.url, 'POST', '/v1/suppressions', { key: a.apiKey, body });
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error', message: expect.any(String) });
    }
    for (const emails of [[huge], [`${huge}@x.com`], [{}], [], {}]) {
      const r = await api(server.url, 'POST', '/v1/suppressions/batch/add', { key: a.apiKey, body: { emails } });
      expect(r.status, JSON.stringify(emails).slice(0, 80)).toBe(422);
    }
    const r = await api(server.url, 'POST', '/v1/suppressions/batch/remove', { key: a.apiKey, body: { ids: [huge] } });
    expect(r.status).toBe(422);
    // A 10 KB path segment: a clear 4xx, not a crash.
    const longGet = await api(server.url, 'GET', `/v1/suppressions/${encodeURIComponent(huge)}`, { key: a.apiKey });
    expect(longGet.status).toBeGreaterThanOrEqual(400);
    expect(longGet.status).toBeLessThan(500);
    expect(longGet.json).toMatchObject({ statusCode: longGet.status, name: expect.any(String) });
    // Not a UUID and not an address: simply not found.
    for (const idOrEmail of ['nope', "' or 1=1 --", '..%2F..', '00000000-0000-0000-0000-000000000000']) {
      const g = await api(server.url, 'GET', `/v1/suppressions/${encodeURIComponent(idOrEmail)}`, { key: a.apiKey });
      expect(g.status, idOrEmail).toBe(404);
      expect(g.json).toMatchObject({ statusCode: 404, name: 'not_found' });
    }
    const badLimit = await api(server.url, 'GET', '/v1/suppressions?limit=1000', { key: a.apiKey });
    expect(badLimit.status).toBe(422);
    const noKey = await api(server.url, 'GET', '/v1/suppressions');
    expect(noKey.status).toBe(401);
  });
});
