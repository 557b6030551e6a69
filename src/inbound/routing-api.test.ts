// Our own routing endpoints over HTTP: /v1/aliases, /v1/inboxes/{id}/forwarding and
// /v1/domains/{id}/catch-all — shapes, validation, audit records, permissions, and the tenant wall
// (another workspace's key gets 404 for every endpoint and changes nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestMailbox, createTestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { routeRecipient } from './route.ts';

let server: TestServer;
let core: Core;
let a: TestMailbox;
let a2: TestMailbox;
let b: TestMailbox;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  server = await startTestServer();
  core = server.platform.core;
  a = await createTestMailbox(core, { domainName: 'a.example.com', localPart: 'ann' });
  keyA = a.apiKey!;
  a2 = await createTestMailbox(core, { workspaceId: a.workspaceId, domainName: 'a.example.com', localPart: 'andy' });
  b = await createTestMailbox(core, { domainName: 'b.example.com', localPart: 'bob' });
  keyB = b.apiKey!;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const call = (key: string, method: string, path: string, body?: unknown) => api(server.url, method, path, { key, body });
const auditActions = async (targetId: string) =>
  (await core.db.selectFrom('audit_log').select('action').where('target_id', '=', targetId).orderBy('id').execute()).map((r) => r.action);

describe('/v1/aliases', () => {
  it('creates, lists, gets, updates and removes an alias, each change audited, and the MX routes by it', async () => {
    const created = await call(keyA, 'POST', '/v1/aliases', { address: 'Team@A.example.com', inbox_ids: [a.mailbox.id, a2.mailbox.id] });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ object: 'alias', address: 'team@a.example.com', domain_id: a.domainId, inbox_ids: [a.mailbox.id, a2.mailbox.id].sort() });
    const id = created.json.id;
    expect(await routeRecipient(core, 'TEAM@a.example.com')).toMatchObject({ accept: true, target: { kind: 'mailbox', via: 'alias', mailboxIds: [a.mailbox.id, a2.mailbox.id].sort() } });

    const list = await call(keyA, 'GET', '/v1/aliases');
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ object: 'list', has_more: false });
    expect(list.json.data.map((x: any) => x.id)).toContain(id);
    expect((await call(keyA, 'GET', `/v1/aliases/${id}`)).json).toEqual(created.json);

    const patched = await call(keyA, 'PATCH', `/v1/aliases/${id}`, { address: 'crew@a.example.com', inbox_ids: [a2.mailbox.id] });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ address: 'crew@a.example.com', inbox_ids: [a2.mailbox.id] });
    expect(await routeRecipient(core, 'team@a.example.com')).toMatchObject({ accept: false, code: 550, enhanced: '5.1.1' });
    expect(await routeRecipient(core, 'crew@a.example.com')).toMatchObject({ accept: true, target: { mailboxIds: [a2.mailbox.id] } });

    const removed = await call(keyA, 'DELETE', `/v1/aliases/${id}`);
    expect(removed.json).toEqual({ object: 'alias', id, deleted: true });
    expect((await call(keyA, 'GET', `/v1/aliases/${id}`)).status).toBe(404);
    expect(await routeRecipient(core, 'crew@a.example.com')).toMatchObject({ accept: false, enhanced: '5.1.1' });
    expect(await auditActions(id)).toEqual(['alias.created', 'alias.updated', 'alias.removed']);
  });

  it('refuses bad input with 422: syntax, foreign or non-receiving domains, shadowing an inbox, duplicates, empty targets', async () => {
    const bad = async (body: unknown) => {
      const r = await call(keyA, 'POST', '/v1/aliases', body);
      expect(r.status, JSON.stringify(r.json)).toBe(422);
      expect(r.json.name).toBe('validation_error');
      return r.json.message as string;
    };
    await bad({ address: 'not an address', inbox_ids: [a.mailbox.id] });
    await bad({ address: 'x@a.example.com', inbox_ids: [] });
    await bad({ address: 'x@a.example.com' });
    expect(await bad({ address: 'x@b.example.com', inbox_ids: [a.mailbox.id] })).toContain('not a domain of this workspace');
    expect(await bad({ address: 'ann@a.example.com', inbox_ids: [a2.mailbox.id] })).toContain('already an inbox');
    expect(await bad({ address: '"quoted"@a.example.com', inbox_ids: [a.mailbox.id] })).toContain('email address');
    expect(await bad({ address: 'x\u0000@a.example.com', inbox_ids: [a.mailbox.id] })).toContain('NUL');
    const sendOnly = await call(keyA, 'POST', '/v1/domains', { name: 'sendonly-a.example.com' });
    expect(sendOnly.status).toBe(201);
    expect(await bad({ address: 'x@sendonly-a.example.com', inbox_ids: [a.mailbox.id] })).toContain('receiving enabled');
    const ok = await call(keyA, 'POST', '/v1/aliases', { address: 'dup@a.example.com', inbox_ids: [a.mailbox.id] });
    expect(ok.status).toBe(201);
    expect(await bad({ address: 'DUP@a.example.com', inbox_ids: [a.mailbox.id] })).toContain('already in use');
    expect((await call(keyA, 'POST', '/v1/aliases', { address: 'y@a.example.com', inbox_ids: ['nope'] })).status).toBe(404);
    expect((await call(keyA, 'POST', '/v1/aliases', { address: 'y@a.example.com', inbox_ids: Array(51).fill(a.mailbox.id) })).status).toBe(422);
  });

  it('holds the tenant wall: B cannot see, change or remove A\'s alias, nor point an alias at A\'s inbox', async () => {
    const created = await call(keyA, 'POST', '/v1/aliases', { address: 'walled@a.example.com', inbox_ids: [a.mailbox.id] });
    const id = created.json.id;
    expect((await call(keyB, 'GET', `/v1/aliases/${id}`)).status).toBe(404);
    expect((await call(keyB, 'GET', '/v1/aliases')).json.data.map((x: any) => x.id)).not.toContain(id);
    expect((await call(keyB, 'PATCH', `/v1/aliases/${id}`, { inbox_ids: [b.mailbox.id] })).status).toBe(404);
    expect((await call(keyB, 'DELETE', `/v1/aliases/${id}`)).status).toBe(404);
    // B's alias in B's domain, but to A's inbox: that inbox does not exist for B.
    const cross = await call(keyB, 'POST', '/v1/aliases', { address: 'steal@b.example.com', inbox_ids: [a.mailbox.id] });
    expect(cross.status).toBe(404);
    expect((await call(keyA, 'GET', `/v1/aliases/${id}`)).json).toEqual(created.json);
    expect(await core.db.selectFrom('aliases').select('id').where('address', '=', 'steal@b.example.com').executeTakeFirst()).toBeUndefined();
  });

  it("does not let B claim an address of A's domain by adding that domain unverified", async () => {
    // B adds A's domain name with receiving enabled; it cannot verify it (A holds the DNS).
    const squat = await call(keyB, 'POST', '/v1/domains', { name: 'a.example.com', capabilities: { receiving: 'enabled' } });
    expect(squat.status, JSON.stringify(squat.json)).toBe(201);
    const alias = await call(keyB, 'POST', '/v1/aliases', { address: 'ceo@a.example.com', inbox_ids: [b.mailbox.id] });
    expect(alias.status).toBe(422);
    expect(alias.json.message).toContain('not verified');
    const inbox = await call(keyB, 'POST', '/v1/inboxes', { email_address: 'ceo2@a.example.com' });
    expect(inbox.status).toBe(422);
    expect(await routeRecipient(core, 'ceo@a.example.com')).toMatchObject({ accept: false, enhanced: '5.1.1' });
    // A can still use the address.
    expect((await call(keyA, 'POST', '/v1/aliases', { address: 'ceo@a.example.com', inbox_ids: [a.mailbox.id] })).status).toBe(201);
  });
});

describe('/v1/inboxes/{id}/forwarding', () => {
  it('creates, lists, gets, updates and removes rules, audited', async () => {
    const base = `/v1/inboxes/${a.mailbox.id}/forwarding`;
    const created = await call(keyA, 'POST', base, { to: 'Someone@Outside.example.net', keep_copy: false });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ object: 'forwarding_rule', inbox_id: a.mailbox.id, to: 'someone@outside.example.net', keep_copy: false, enabled: true });
    const id = created.json.id;
    expect((await call(keyA, 'GET', base)).json).toMatchObject({ object: 'list', has_more: false, data: [created.json] });
    expect((await call(keyA, 'GET', `${base}/${id}`)).json).toEqual(created.json);
    const patched = await call(keyA, 'PATCH', `${base}/${id}`, { keep_copy: true, enabled: false });
    expect(patched.json).toMatchObject({ keep_copy: true, enabled: false, to: 'someone@outside.example.net' });
    expect((await call(keyA, 'DELETE', `${base}/${id}`)).json).toEqual({ object: 'forwarding_rule', id, deleted: true });
    expect((await call(keyA, 'GET', `${base}/${id}`)).status).toBe(404);
    expect(await auditActions(id)).toEqual(['inbox.forwarding.created', 'inbox.forwarding.updated', 'inbox.forwarding.removed']);
  });

  it('refuses bad rules with 422: bad address, its own address, duplicates, an agent inbox', async () => {
    const base = `/v1/inboxes/${a2.mailbox.id}/forwarding`;
    for (const to of ['nope', 'a@b', `${a2.mailbox.address}`, 'x@@y.example', 'x y@example.net']) {
      expect((await call(keyA, 'POST', base, { to })).status, to).toBe(422);
    }
    expect((await call(keyA, 'POST', base, { to: 'ok@example.net', keep_copy: 'yes' })).status).toBe(422);
    expect((await call(keyA, 'POST', base, { to: 'ok@example.net' })).status).toBe(201);
    expect((await call(keyA, 'POST', base, { to: 'OK@example.net' })).status).toBe(422);
    const agent = await createTestMailbox(core, { workspaceId: a.workspaceId, domainName: 'a.example.com', localPart: 'bot', mode: 'agent' });
    expect((await call(keyA, 'POST', `/v1/inboxes/${agent.mailbox.id}/forwarding`, { to: 'ok@example.net' })).status).toBe(422);
  });

  it('holds the tenant wall for every forwarding endpoint', async () => {
    const base = `/v1/inboxes/${a.mailbox.id}/forwarding`;
    const rule = (await call(keyA, 'POST', base, { to: 'wall@example.net' })).json;
    expect((await call(keyB, 'GET', base)).status).toBe(404);
    expect((await call(keyB, 'POST', base, { to: 'thief@example.net' })).status).toBe(404);
    expect((await call(keyB, 'GET', `${base}/${rule.id}`)).status).toBe(404);
    expect((await call(keyB, 'PATCH', `${base}/${rule.id}`, { to: 'thief@example.net' })).status).toBe(404);
    expect((await call(keyB, 'DELETE', `${base}/${rule.id}`)).status).toBe(404);
    // B's own inbox with A's rule id: not found either.
    expect((await call(keyB, 'GET', `/v1/inboxes/${b.mailbox.id}/forwarding/${rule.id}`)).status).toBe(404);
    const rows = await core.db.selectFrom('forwarding_rules').select('to_address').where('mailbox_id', '=', a.mailbox.id).execute();
    expect(rows.map((r) => r.to_address)).toEqual(['wall@example.net']);
  });
});

describe('/v1/domains/{id}/catch-all', () => {
  it('sets, reads and removes the catch-all; the MX follows', async () => {
    expect(await routeRecipient(core, 'random@a.example.com')).toMatchObject({ accept: false, enhanced: '5.1.1' });
    const set = await call(keyA, 'PUT', `/v1/domains/${a.domainId}/catch-all`, { inbox_id: a2.mailbox.id });
    expect(set.status).toBe(200);
    expect(set.json).toEqual({ object: 'catch_all', domain_id: a.domainId, domain: 'a.example.com', inbox_id: a2.mailbox.id });
    expect((await call(keyA, 'GET', `/v1/domains/${a.domainId}/catch-all`)).json.inbox_id).toBe(a2.mailbox.id);
    expect(await routeRecipient(core, 'random@a.example.com')).toMatchObject({ accept: true, target: { kind: 'mailbox', via: 'catch_all', mailboxIds: [a2.mailbox.id] } });
    const del = await call(keyA, 'DELETE', `/v1/domains/${a.domainId}/catch-all`);
    expect(del.json.inbox_id).toBeNull();
    expect(await routeRecipient(core, 'random@a.example.com')).toMatchObject({ accept: false, enhanced: '5.1.1' });
    expect(await auditActions(a.domainId)).toEqual(expect.arrayContaining(['domain.catch_all_set', 'domain.catch_all_removed']));
  });

  it('refuses a domain without receiving (422) and holds the tenant wall', async () => {
    const sendOnly = await call(keyA, 'POST', '/v1/domains', { name: 'nocatch-a.example.com' });
    expect((await call(keyA, 'PUT', `/v1/domains/${sendOnly.json.id}/catch-all`, { inbox_id: a.mailbox.id })).status).toBe(422);
    expect((await call(keyA, 'PUT', `/v1/domains/${a.domainId}/catch-all`, { inbox_id: 42 })).status).toBe(422);
    // B: A's domain is not found; A's inbox as B's catch-all is not found.
    expect((await call(keyB, 'PUT', `/v1/domains/${a.domainId}/catch-all`, { inbox_id: b.mailbox.id })).status).toBe(404);
    expect((await call(keyB, 'GET', `/v1/domains/${a.domainId}/catch-all`)).status).toBe(404);
    expect((await call(keyB, 'DELETE', `/v1/domains/${a.domainId}/catch-all`)).status).toBe(404);
    expect((await call(keyB, 'PUT', `/v1/domains/${b.domainId}/catch-all`, { inbox_id: a.mailbox.id })).status).toBe(404);
    const rowA = await core.db.selectFrom('domains').select('catch_all_mailbox_id').where('id', '=', a.domainId).executeTakeFirstOrThrow();
    const rowB = await core.db.selectFrom('domains').select('catch_all_mailbox_id').where('id', '=', b.domainId).executeTakeFirstOrThrow();
    expect(rowA.catch_all_mailbox_id).toBeNull();
    expect(rowB.catch_all_mailbox_id).toBeNull();
  });
});

describe('permissions', () => {
  it('a sending-only key may not read or manage routing', async () => {
    const key = await call(keyA, 'POST', '/api-keys'.replace(/^/, '/v1'), { name: 'send only', permission: 'sending_access' });
    expect(key.status).toBe(201);
    const token = key.json.token;
    expect((await call(token, 'GET', '/v1/aliases')).status).toBe(403);
    expect((await call(token, 'POST', '/v1/aliases', { address: 'z@a.example.com', inbox_ids: [a.mailbox.id] })).status).toBe(403);
    expect((await call(token, 'GET', `/v1/inboxes/${a.mailbox.id}/forwarding`)).status).toBe(403);
    expect((await call(token, 'PUT', `/v1/domains/${a.domainId}/catch-all`, { inbox_id: a.mailbox.id })).status).toBe(403);
  });
});
