// The Resend SDK's apiKeys methods against a real node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../core/ids.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let key: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ apiKey: key } = await server.setup('owner@example.com', 'Acme'));
});
afterAll(() => server?.stop());

describe('apiKeys through the resend SDK', () => {
  it('creates a key shown once, stored only as a hash', async () => {
    const resend = server.resend(key);
    const { data, error } = await resend.apiKeys.create({ name: 'Production' });
    expect(error).toBeNull();
    expect(data!.token).toMatch(/^ms_[1-9A-HJ-NP-Za-km-z]{44}$/);
    const row = await server.platform.core.db.selectFrom('api_keys').selectAll().where('id', '=', data!.id).executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(sha256(data!.token));
    expect(JSON.stringify(row)).not.toContain(data!.token);
    const listed = await resend.apiKeys.list();
    expect(JSON.stringify(listed.data)).not.toContain(data!.token);
  });

  it('lists newest first with cursors, and records last use', async () => {
    const resend = server.resend(key);
    const made = [];
    for (const name of ['k1', 'k2', 'k3']) made.push((await resend.apiKeys.create({ name })).data!.id);
    const first = await resend.apiKeys.list({ limit: 2 });
    expect(first.data!.object).toBe('list');
    expect(first.data!.has_more).toBe(true);
    expect(first.data!.data.map((k) => k.name)).toEqual(['k3', 'k2']);
    const next = await resend.apiKeys.list({ limit: 2, after: first.data!.data[1].id });
    expect(next.data!.data[0].name).toBe('k1');
    const back = await resend.apiKeys.list({ limit: 1, before: next.data!.data[0].id });
    expect(back.data!.data.map((k) => k.name)).toEqual(['k2']);

    const newKey = (await resend.apiKeys.create({ name: 'used' })).data!;
    const before = (await resend.apiKeys.list({ limit: 1 })).data!.data[0];
    expect(before.last_used_at).toBeNull();
    await server.resend(newKey.token).apiKeys.list();
    const after = (await resend.apiKeys.list({ limit: 1 })).data!.data[0];
    expect(after.id).toBe(newKey.id);
    expect(Date.parse(after.last_used_at!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('renames and removes, with not_found for a missing key', async () => {
    const resend = server.resend(key);
    const { data } = await resend.apiKeys.create({ name: 'temp' });
    const renamed = await resend.apiKeys.update(data!.id, { name: 'renamed' });
    expect(renamed.data).toEqual({ object: 'api_key', id: data!.id });
    const removed = await resend.apiKeys.remove(data!.id);
    expect(removed.data).toEqual({ object: 'api_key', id: data!.id, deleted: true });
    const again = await resend.apiKeys.remove(data!.id);
    expect(again.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    // The removed key no longer authenticates.
    const r = await api(server.url, 'GET', '/v1/api-keys', { key: data!.token });
    expect(r.status).toBe(401);
  });

  it('answers 401 missing_api_key and invalid_api_key in Resend\'s shape', async () => {
    const none = await api(server.url, 'GET', '/v1/api-keys');
    expect(none.status).toBe(401);
    expect(none.json).toEqual({ statusCode: 401, name: 'missing_api_key', message: expect.any(String) });
    const bad = await server.resend('ms_notakey').apiKeys.list();
    expect(bad.error).toMatchObject({ statusCode: 401, name: 'invalid_api_key' });
  });

  it('holds a sending_access key to sending: 403 restricted_api_key on key management', async () => {
    const resend = server.resend(key);
    const sending = (await resend.apiKeys.create({ name: 'sender', permission: 'sending_access' })).data!;
    const r = await server.resend(sending.token).apiKeys.create({ name: 'escalate' });
    expect(r.error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    const list = await server.resend(sending.token).apiKeys.list();
    expect(list.error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
  });
});
