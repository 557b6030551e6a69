// The app-password API over plain HTTP: create (shown once), list (never the secret, with
// last_used_at), revoke; by inbox id or address; permissions; validation; tenant walls; and the
// mail-client policy switch for account passwords.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginMailbox } from '../../accounts/mailbox-login.ts';
import { setPassword } from '../../accounts/users.ts';
import { type TestMailbox, createTestMailbox } from '../../testkit/mailbox.ts';
import { type TestServer, api, startTestServer } from '../../testkit/server.ts';

let server: TestServer;
let A: TestMailbox & { key: string };
let B: TestMailbox & { key: string };
let sendingKey = '';
const absent = '01900000-0000-7000-8000-000000000000';

function expectNotFound(r: { status: number; json: any }) {
  expect(r.status).toBe(404);
  expect(r.json).toEqual({ statusCode: 404, name: 'not_found', message: expect.any(String) });
}

beforeAll(async () => {
  server = await startTestServer();
  const core = server.platform.core;
  const a = await createTestMailbox(core, {});
  const b = await createTestMailbox(core, {});
  A = { ...a, key: a.apiKey! };
  B = { ...b, key: b.apiKey! };
  const sk = await api(server.url, 'POST', '/v1/api-keys', { key: A.key, body: { name: 'sender', permission: 'sending_access' } });
  expect(sk.status).toBe(201);
  sendingKey = sk.json.token;
});
afterAll(() => server?.stop());

describe('app passwords over HTTP', () => {
  it('creates one (by inbox id) and shows the password only then', async () => {
    const r = await api(server.url, 'POST', `/v1/inboxes/${A.mailbox.id}/app-passwords`, { key: A.key, body: { name: 'Thunderbird' } });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ object: 'app_password', id: expect.any(String), inbox_id: A.mailbox.id, name: 'Thunderbird', password: expect.stringMatching(/^[a-z2-7]{4}(-[a-z2-7]{4}){9}$/), created_at: expect.any(String) });
    const list = await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/app-passwords`, { key: A.key });
    expect(list.status).toBe(200);
    expect(list.json.object).toBe('list');
    const row = list.json.data.find((p: any) => p.id === r.json.id);
    expect(row).toEqual({ object: 'app_password', id: r.json.id, inbox_id: A.mailbox.id, name: 'Thunderbird', created_at: r.json.created_at, last_used_at: null });
    expect(JSON.stringify(list.json)).not.toContain(r.json.password);

    // A login records its use.
    const login = await loginMailbox(server.platform.core, { username: A.mailbox.address, password: r.json.password, ip: '127.0.0.1', door: 'imap' });
    expect(login.ok).toBe(true);
    const after = await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.address}/app-passwords`, { key: A.key });
    expect(after.json.data.find((p: any) => p.id === r.json.id).last_used_at).toEqual(expect.any(String));
  });

  it('takes the inbox address (any case) instead of its id, pages the list, and audits', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api(server.url, 'POST', `/v1/inboxes/${encodeURIComponent(A.mailbox.address.toUpperCase())}/app-passwords`, { key: A.key, body: { name: `phone ${i}` } });
      expect(r.status).toBe(201);
      ids.push(r.json.id);
    }
    const page1 = await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/app-passwords?limit=2`, { key: A.key });
    expect(page1.json.data.map((p: any) => p.id)).toEqual([ids[2], ids[1]]);
    expect(page1.json.has_more).toBe(true);
    const page2 = await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/app-passwords?limit=2&after=${ids[1]}`, { key: A.key });
    expect(page2.json.data[0].id).toBe(ids[0]);
    const audit = await api(server.url, 'GET', '/v1/audit-log?action=app_password.created&limit=100', { key: A.key });
    expect(audit.status).toBe(200);
    expect(audit.json.data.map((e: any) => e.target.id)).toEqual(expect.arrayContaining(ids));
  });

  it('revokes one: it stops working and is gone from the list', async () => {
    const r = await api(server.url, 'POST', `/v1/inboxes/${A.mailbox.id}/app-passwords`, { key: A.key, body: { name: 'old laptop' } });
    const del = await api(server.url, 'DELETE', `/v1/inboxes/${A.mailbox.id}/app-passwords/${r.json.id}`, { key: A.key });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ object: 'app_password', id: r.json.id, deleted: true });
    expectNotFound(await api(server.url, 'DELETE', `/v1/inboxes/${A.mailbox.id}/app-passwords/${r.json.id}`, { key: A.key }));
    const list = await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/app-passwords?limit=100`, { key: A.key });
    expect(list.json.data.some((p: any) => p.id === r.json.id)).toBe(false);
    const login = await loginMailbox(server.platform.core, { username: A.mailbox.address, password: r.json.password, ip: '127.0.0.2', door: 'pop3' });
    expect(login).toEqual({ ok: false, reason: 'invalid' });
    const audit = await api(server.url, 'GET', '/v1/audit-log?action=app_password.revoked', { key: A.key });
    expect(audit.json.data[0].target.id).toBe(r.json.id);
  });

  it('validates in Resend\'s error shape', async () => {
    const path = `/v1/inboxes/${A.mailbox.id}/app-passwords`;
    for (const body of [{}, { name: '' }, { name: 'x'.repeat(51) }, { name: 5 }, { name: 'a\u0000b' }]) {
      const r = await api(server.url, 'POST', path, { key: A.key, body });
      expect(r.status).toBe(422);
      expect(r.json).toEqual({ statusCode: 422, name: 'validation_error', message: expect.any(String) });
    }
    expect((await api(server.url, 'POST', path, { key: A.key, raw: '{"name":' })).status).toBe(400);
    expectNotFound(await api(server.url, 'POST', '/v1/inboxes/not-an-inbox/app-passwords', { key: A.key, body: { name: 'x' } }));
    expectNotFound(await api(server.url, 'GET', `/v1/inboxes/${absent}/app-passwords`, { key: A.key }));
    expectNotFound(await api(server.url, 'DELETE', `/v1/inboxes/${A.mailbox.id}/app-passwords/not-a-uuid`, { key: A.key }));
  });

  it('needs inboxes:manage to create or revoke and inboxes:read to list', async () => {
    const path = `/v1/inboxes/${A.mailbox.id}/app-passwords`;
    for (const [method, body] of [['POST', { name: 'x' }], ['GET', undefined]] as const) {
      const r = await api(server.url, method, path, { key: sendingKey, body });
      expect(r.status).toBe(403);
      expect(r.json.name).toBe('restricted_api_key');
    }
    expect((await api(server.url, 'DELETE', `${path}/${absent}`, { key: sendingKey })).status).toBe(403);
    expect((await api(server.url, 'GET', path)).status).toBe(401);
  });
});

describe('tenant walls', () => {
  it("answers A's key about B's inbox exactly as about an inbox that does not exist", async () => {
    const bPass = await api(server.url, 'POST', `/v1/inboxes/${B.mailbox.id}/app-passwords`, { key: B.key, body: { name: 'B only' } });
    expect(bPass.status).toBe(201);
    for (const ref of [B.mailbox.id, B.mailbox.address]) {
      expectNotFound(await api(server.url, 'POST', `/v1/inboxes/${ref}/app-passwords`, { key: A.key, body: { name: 'intruder' } }));
      expectNotFound(await api(server.url, 'GET', `/v1/inboxes/${ref}/app-passwords`, { key: A.key }));
      expectNotFound(await api(server.url, 'DELETE', `/v1/inboxes/${ref}/app-passwords/${bPass.json.id}`, { key: A.key }));
    }
    // B's password id under A's own inbox is not found either, and is not revoked.
    expectNotFound(await api(server.url, 'DELETE', `/v1/inboxes/${A.mailbox.id}/app-passwords/${bPass.json.id}`, { key: A.key }));
    const forNothing = await api(server.url, 'GET', `/v1/inboxes/${absent}/app-passwords`, { key: A.key });
    const forB = await api(server.url, 'GET', `/v1/inboxes/${B.mailbox.id}/app-passwords`, { key: A.key });
    expect(forB.json).toEqual(forNothing.json);
    const list = await api(server.url, 'GET', `/v1/inboxes/${B.mailbox.id}/app-passwords`, { key: B.key });
    expect(list.json.data.map((p: any) => p.id)).toEqual([bPass.json.id]);
    expect((await loginMailbox(server.platform.core, { username: B.mailbox.address, password: bPass.json.password, ip: '127.0.0.3', door: 'imap' })).ok).toBe(true);
  });
});

describe('mail-client policy', () => {
  it('turns account-password logins on and off for inbox owners, audited', async () => {
    const core = server.platform.core;
    await setPassword(core, core.db, A.userId!, 'the owner password 123');
    const owned = await createTestMailbox(core, { workspaceId: A.workspaceId, domainName: A.domainName, ownerUserId: A.userId });
    const tryLogin = () => loginMailbox(core, { username: owned.mailbox.address, password: 'the owner password 123', ip: '127.0.0.4', door: 'imap' });
    expect((await api(server.url, 'GET', '/v1/workspace/mail-clients', { key: A.key })).json).toEqual({ object: 'mail_client_policy', mailbox_account_passwords: false });
    expect((await tryLogin()).ok).toBe(false);
    const on = await api(server.url, 'PATCH', '/v1/workspace/mail-clients', { key: A.key, body: { mailbox_account_passwords: true } });
    expect(on.json).toEqual({ object: 'mail_client_policy', mailbox_account_passwords: true });
    expect(await tryLogin()).toMatchObject({ ok: true, via: 'account_password' });
    // B's policy is its own.
    expect((await api(server.url, 'GET', '/v1/workspace/mail-clients', { key: B.key })).json.mailbox_account_passwords).toBe(false);
    expect((await api(server.url, 'PATCH', '/v1/workspace/mail-clients', { key: A.key, body: { mailbox_account_passwords: 'yes' } })).status).toBe(422);
    expect((await api(server.url, 'PATCH', '/v1/workspace/mail-clients', { key: sendingKey, body: { mailbox_account_passwords: false } })).status).toBe(403);
    await api(server.url, 'PATCH', '/v1/workspace/mail-clients', { key: A.key, body: { mailbox_account_passwords: false } });
    expect((await tryLogin()).ok).toBe(false);
    const audit = await api(server.url, 'GET', '/v1/audit-log?action=workspace.updated', { key: A.key });
    expect(audit.json.data[0].data).toEqual({ mailbox_account_passwords: { from: true, to: false } });
  });

  it('lists the routes in the OpenAPI document', async () => {
    const doc = await api(server.url, 'GET', '/v1/openapi.json');
    expect(Object.keys(doc.json.paths)).toEqual(expect.arrayContaining(['/v1/inboxes/{id}/app-passwords', '/v1/inboxes/{id}/app-passwords/{pid}', '/v1/workspace/mail-clients']));
  });
});
