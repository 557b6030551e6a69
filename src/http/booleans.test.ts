// Every body field is honoured or refused, over real HTTP (issue 9: a forwarding rule created with
// `"enabled": false` came back enabled because the body validator silently dropped the field).
// 1. Every operation whose body schema is closed answers an unknown field with 422 naming it.
// 2. Every boolean of every create and update body, each both ways, reads back as sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestMailbox, createTestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let key: string;
let box: TestMailbox;
let cookie: string;
let csrf: string;
const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, { key, body });

beforeAll(async () => {
  server = await startTestServer();
  box = await createTestMailbox(server.platform.core, { domainName: 'bools.example.com', localPart: 'ann' });
  key = box.apiKey!;
  const user = await server.platform.core.db.selectFrom('users').select('email').where('id', '=', box.userId!).executeTakeFirstOrThrow();
  const { setPassword } = await import('../accounts/users.ts');
  await server.platform.core.store.transaction((tx) => setPassword(server.platform.core, tx, box.userId!, 'correct horse battery staple'));
  const res = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: 'correct horse battery staple' }) });
  expect(res.status).toBe(200);
  csrf = ((await res.json()) as { csrf_token: string }).csrf_token;
  cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('mailstack_session='))!;
}, 60_000);

afterAll(() => server?.stop());

describe('unknown body fields', () => {
  it('are a 422 naming the field on every operation with a closed body schema', async () => {
    const doc = (await api(server.url, 'GET', '/v1/openapi.json')).json;
    const closed: string[] = [];
    const wrong: string[] = [];
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const schema = op.requestBody?.content?.['application/json']?.schema;
        if (!schema || schema.additionalProperties !== false) continue;
        closed.push(`${method} ${path}`);
        const url = path.replace(/\{[^}]+\}/g, '0190d6f4-7a7e-7000-8000-000000000000');
        // A session (with CSRF) reaches the session-only routes too; its owner passes every permission.
        // Ajv checks `required` before `additionalProperties` and both before the properties' own
        // schemas: required fields are present (with any value) so the unknown one is the complaint.
        const body = { ...Object.fromEntries(((schema.required ?? []) as string[]).map((k) => [k, 1])), surely_unknown_field: 1 };
        const res = await api(server.url, method.toUpperCase(), url, { body, headers: { cookie, 'x-csrf-token': csrf } });
        if (res.status !== 422 || !String(res.json?.message).includes('`surely_unknown_field`')) wrong.push(`${method} ${path}: ${res.status} ${res.json?.message}`);
      }
    }
    expect(closed.length).toBeGreaterThan(20);
    expect(closed).toContain('post /v1/inboxes/{id}/forwarding');
    expect(wrong).toEqual([]);
  });
});

describe('booleans of create and update bodies, both ways', () => {
  it('domains: open_tracking and click_tracking on create and on update', async () => {
    for (const v of [true, false]) {
      const created = await call('POST', '/v1/domains', { name: `t-${v}.bools.example.net`, open_tracking: v, click_tracking: !v });
      expect(created.status).toBe(201);
      const got = (await call('GET', `/v1/domains/${created.json.id}`)).json;
      expect([got.open_tracking, got.click_tracking]).toEqual([v, !v]);
      expect((await call('PATCH', `/v1/domains/${created.json.id}`, { open_tracking: !v, click_tracking: v })).status).toBe(200);
      const after = (await call('GET', `/v1/domains/${created.json.id}`)).json;
      expect([after.open_tracking, after.click_tracking]).toEqual([!v, v]);
    }
  });

  it('forwarding rules: keep_copy and enabled on create and on update', async () => {
    const base = `/v1/inboxes/${box.mailbox.id}/forwarding`;
    for (const [keep, enabled] of [[true, false], [false, true], [false, false], [true, true]] as const) {
      const created = await call('POST', base, { to: `f-${keep}-${enabled}@elsewhere.example.org`, keep_copy: keep, enabled });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      expect(created.json).toMatchObject({ keep_copy: keep, enabled });
      expect((await call('GET', `${base}/${created.json.id}`)).json).toMatchObject({ keep_copy: keep, enabled });
      const row = await server.platform.core.db.selectFrom('forwarding_rules').select(['keep_copy', 'enabled']).where('id', '=', created.json.id).executeTakeFirstOrThrow();
      expect([row.keep_copy, row.enabled]).toEqual([keep ? 1 : 0, enabled ? 1 : 0]);
      const patched = await call('PATCH', `${base}/${created.json.id}`, { keep_copy: !keep, enabled: !enabled });
      expect(patched.json).toMatchObject({ keep_copy: !keep, enabled: !enabled });
      expect((await call('GET', `${base}/${created.json.id}`)).json).toMatchObject({ keep_copy: !keep, enabled: !enabled });
      expect((await call('DELETE', `${base}/${created.json.id}`)).status).toBe(200);
    }
  });

  it('inboxes: forwarding on create', async () => {
    for (const v of [true, false]) {
      const created = await call('POST', '/v1/inboxes', { email_address: `fw-${v}@bools.example.com`, forwarding: v });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const row = await server.platform.core.db.selectFrom('mailboxes').select('forwarding').where('id', '=', created.json.id).executeTakeFirstOrThrow();
      expect(row.forwarding).toBe(v ? 1 : 0);
    }
  });

  it('the workspace mail-client policy: mailbox_account_passwords', async () => {
    for (const v of [true, false, true, false]) {
      const res = await api(server.url, 'PATCH', '/v1/workspace/mail-clients', { body: { mailbox_account_passwords: v }, headers: { cookie, 'x-csrf-token': csrf } });
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      expect((await call('GET', '/v1/workspace/mail-clients')).json.mailbox_account_passwords).toBe(v);
    }
  });

  it('a boolean given as a string is a 422, not taken as true', async () => {
    const base = `/v1/inboxes/${box.mailbox.id}/forwarding`;
    const r = await call('POST', base, { to: 'strings@elsewhere.example.org', enabled: 'false' });
    expect(r.status).toBe(422);
    expect(await server.platform.core.db.selectFrom('forwarding_rules').select('id').where('to_address', '=', 'strings@elsewhere.example.org').executeTakeFirst()).toBeUndefined();
  });
});
