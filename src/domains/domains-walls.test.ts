// Domains: tenant walls, roles, hostile names, removal with the keys held to a domain, and the
// DKIM key's re-encryption by `mailstack keys rotate`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, csrfToken } from '../accounts/sessions.ts';
import { ensureUser } from '../accounts/users.ts';
import { SESSION_COOKIE } from '../http/auth.ts';
import { type TestServer, api, runCli, startTestServer } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';

let db: TestDatabase;
let dns: TestDns;
let server: TestServer;
let a: { workspaceId: string; apiKey: string };
let b: { workspaceId: string; apiKey: string };

beforeAll(async () => {
  db = await createTestDatabase();
  dns = await startTestDns();
  server = await startTestServer({ db, env: { MAILSTACK_DNS_SERVERS: dns.address } });
  a = await server.setup('a@example.com', 'A');
  b = await server.setup('b@example.com', 'B');
});
afterAll(async () => {
  await server?.stop();
  await dns?.close();
  await db?.drop();
});

describe('tenant walls', () => {
  it("keeps one workspace's domains out of another's reach", async () => {
    const ra = server.resend(a.apiKey);
    const rb = server.resend(b.apiKey);
    const mine = (await ra.domains.create({ name: 'walled.example.com' })).data!;
    for (const r of [
      await rb.domains.get(mine.id),
      await rb.domains.update({ id: mine.id, openTracking: true, capabilities: { receiving: 'enabled' } }),
      await rb.domains.verify(mine.id),
      await rb.domains.remove(mine.id),
    ]) {
      expect(r.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    }
    expect((await rb.domains.list()).data!.data.map((d) => d.id)).not.toContain(mine.id);
    // Nothing B did touched A's domain, and B's verify queued no check of it.
    const still = (await ra.domains.get(mine.id)).data as any;
    expect(still).toMatchObject({ status: 'not_started', open_tracking: false, capabilities: { receiving: 'disabled' } });
    const audits = await server.platform.core.db.selectFrom('audit_log').select('action').where('target_id', '=', mine.id).execute();
    expect(audits.map((x) => x.action)).toEqual(['domain.created']);
    // Names are unique per workspace, so B adding the same name reveals nothing about A.
    const theirs = await rb.domains.create({ name: 'walled.example.com' });
    expect(theirs.error).toBeNull();
    expect(theirs.data!.id).not.toBe(mine.id);
    expect((await ra.domains.list()).data!.data.filter((d) => d.name === 'walled.example.com')).toHaveLength(1);
  });
});

describe('roles', () => {
  it('lets a viewer read but not add a domain, and a sending key do neither', async () => {
    const core = server.platform.core;
    const { user } = await ensureUser(core, core.db, 'viewer@example.com');
    await core.db.insertInto('memberships').values({ workspace_id: a.workspaceId, user_id: user.id, role: 'viewer', created_at: Date.now() }).execute();
    const { token, session } = await createSession(core, user.id, a.workspaceId, null, null);
    const headers = { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': await csrfToken(core, session.id) };
    const create = await api(server.url, 'POST', '/v1/domains', { headers, body: { name: 'viewer.example.com' } });
    expect(create.status).toBe(403);
    expect(create.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    const list = await api(server.url, 'GET', '/v1/domains', { headers });
    expect(list.status).toBe(200);

    const sending = (await server.resend(a.apiKey).apiKeys.create({ name: 'sender', permission: 'sending_access' })).data!;
    const rs = server.resend(sending.token);
    expect((await rs.domains.create({ name: 'sender.example.com' })).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    expect((await rs.domains.list()).error).toMatchObject({ statusCode: 403, name: 'restricted_api_key' });
    const names = await core.db.selectFrom('domains').select('name').where('workspace_id', '=', a.workspaceId).execute();
    expect(names.map((n) => n.name)).not.toContain('viewer.example.com');
    expect(names.map((n) => n.name)).not.toContain('sender.example.com');
  });
});

describe('hostile names', () => {
  const bad = [
    'a..b.com',
    `${'x'.repeat(300)}.com`,
    `${'x'.repeat(64)}.com`,
    '<script>alert(1)</script>.com',
    '😀.com',
    '\u212Aexample.com', // KELVIN SIGN, which lower-cases to an ASCII "k"
    'exa mple.com',
    'a_b.example.com',
    '-lead.example.com',
    'localhost',
    '192.168.1.1',
    '',
    '.',
    'example.com\r\nX-Injected: 1',
  ];
  it.each(bad)('refuses %j with 422, not 500', async (name) => {
    const r = await server.resend(a.apiKey).domains.create({ name });
    expect(r.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });

  it('refuses non-string names, bad return paths and unknown fields with 422', async () => {
    for (const body of [{ name: 42 }, { name: null }, { name: 'ok.example.com', custom_return_path: 'a.b' }, { name: 'ok.example.com', custom_return_path: '<x>' }, { name: 'ok.example.com', dkim_algorithm: 'dsa' }]) {
      const r = await api(server.url, 'POST', '/v1/domains', { key: a.apiKey, body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    }
  });

  it('normalises case and a trailing dot, and refuses a duplicate with 422', async () => {
    const ra = server.resend(a.apiKey);
    const made = await ra.domains.create({ name: 'MiXeD.Example.ORG.' });
    expect(made.data!.name).toBe('mixed.example.org');
    const dup = await ra.domains.create({ name: 'mixed.EXAMPLE.org' });
    expect(dup.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });
});

describe('remove', () => {
  it('removes the domain and, by the foreign key cascade, the API keys held to it', async () => {
    const ra = server.resend(a.apiKey);
    const d = (await ra.domains.create({ name: 'gone.example.com' })).data!;
    const held = (await ra.apiKeys.create({ name: 'held', permission: 'sending_access', domain_id: d.id })).data!;
    expect((await api(server.url, 'GET', '/v1/domains', { key: held.token })).status).toBe(403); // it authenticates
    expect(await ra.domains.remove(d.id)).toMatchObject({ data: { object: 'domain', id: d.id, deleted: true }, error: null });
    expect((await ra.domains.get(d.id)).error).toMatchObject({ statusCode: 404 });
    expect((await ra.domains.remove(d.id)).error).toMatchObject({ statusCode: 404 });
    const key = await server.platform.core.db.selectFrom('api_keys').select('id').where('id', '=', held.id).executeTakeFirst();
    expect(key).toBeUndefined();
    expect((await api(server.url, 'GET', '/v1/domains', { key: held.token })).status).toBe(401);
  });
});

describe('mailstack keys rotate', () => {
  it('re-encrypts DKIM private keys under the new master key', async () => {
    const d = (await server.resend(a.apiKey).domains.create({ name: 'rotate.example.com' })).data!;
    const core = server.platform.core;
    const before = await core.db.selectFrom('domains').select(['dkim_private_key_enc']).where('id', '=', d.id).executeTakeFirstOrThrow();
    const plain = core.vault.decrypt(before.dkim_private_key_enc!, `dkim:${d.id}`);
    expect(plain).toContain('BEGIN PRIVATE KEY');
    const env = server.env;
    await server.stop(); // the same database stays (opts.db)
    const out = runCli(['keys', 'rotate'], env);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout).rotated).toBeGreaterThanOrEqual(1);

    server = await startTestServer({ db, env: { MAILSTACK_DNS_SERVERS: dns.address } });
    const after = await server.platform.core.db.selectFrom('domains').select(['dkim_private_key_enc']).where('id', '=', d.id).executeTakeFirstOrThrow();
    expect(after.dkim_private_key_enc).not.toBe(before.dkim_private_key_enc);
    expect(server.platform.core.vault.isCurrent(after.dkim_private_key_enc!)).toBe(true);
    expect(server.platform.core.vault.decrypt(after.dkim_private_key_enc!, `dkim:${d.id}`)).toBe(plain);
    // Bound to its row: the ciphertext does not open as another domain's key.
    expect(() => server.platform.core.vault.decrypt(after.dkim_private_key_enc!, 'dkim:someone-else')).toThrow();
  });
});
