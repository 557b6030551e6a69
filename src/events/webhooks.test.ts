// Webhooks through the resend SDK against a real node, delivering to a real HTTP receiver on
// 127.0.0.1 (so the node runs with MAILSTACK_WEBHOOK_ALLOW_PRIVATE=true), with a short retry
// schedule so retries happen within the test.
import { randomBytes } from 'node:crypto';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resealAll } from '../secrets/rotate.ts';
import { Vault } from '../secrets/vault.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';
import { EVENT_TYPES, emitEvent, getWebhook } from './webhooks.ts';

let server: TestServer;
let receiver: Receiver;
let key: string;
let workspaceId: string;
let resend: Resend;

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({ env: { MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true', MAILSTACK_WEBHOOK_RETRY_DELAYS: '50ms,50ms,50ms' } });
  ({ apiKey: key, workspaceId } = await server.setup('owner@example.com', 'Acme'));
  resend = server.resend(key);
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

const core = () => server.platform.core;
const sample = (n = 1) => ({ email_id: `e-${n}`, from: 'a@acme.test', to: ['b@example.com'], subject: `hello ${n}`, created_at: '2026-01-02T03:04:05.000Z' });

async function createHook(path: string, events: string[] = ['email.sent', 'email.delivered']) {
  const { data, error } = await resend.webhooks.create({ endpoint: `${receiver.url}${path}`, events: events as any });
  expect(error).toBeNull();
  return data!;
}

const receivedAt = (path: string) => receiver.received.filter((r) => r.path === path);

function verifyWith(secret: string, r: { headers: Record<string, any>; body: string }) {
  return resend.webhooks.verify({
    payload: r.body,
    headers: { id: r.headers['webhook-id'], timestamp: r.headers['webhook-timestamp'], signature: r.headers['webhook-signature'] },
    webhookSecret: secret,
  });
}

async function statusOf(webhookId: string, eventId: string) {
  const { data } = await resend.webhooks.events.get({ webhookId, eventId });
  return data?.status;
}

describe('webhook endpoints through the resend SDK', () => {
  it('creates, gets, lists, updates and removes an endpoint, with an audit record of each change', async () => {
    const made = await createHook('/crud', ['email.sent']);
    expect(made).toEqual({ object: 'webhook', id: expect.any(String), signing_secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/) });

    const got = await resend.webhooks.get(made.id);
    expect(got.error).toBeNull();
    expect(got.data).toEqual({
      object: 'webhook',
      id: made.id,
      created_at: expect.any(String),
      status: 'enabled',
      endpoint: `${receiver.url}/crud`,
      events: ['email.sent'],
      signing_secret: made.signing_secret,
    });

    const listed = await resend.webhooks.list();
    expect(listed.data!.object).toBe('list');
    expect(listed.data!.data.find((w) => w.id === made.id)).toEqual({
      id: made.id,
      endpoint: `${receiver.url}/crud`,
      created_at: got.data!.created_at,
      status: 'enabled',
      events: ['email.sent'],
    });
    expect(JSON.stringify(listed.data)).not.toContain('whsec_');

    const updated = await resend.webhooks.update(made.id, { endpoint: `${receiver.url}/crud2`, events: ['email.bounced', 'domain.updated'], status: 'disabled' });
    expect(updated.data).toEqual({ object: 'webhook', id: made.id });
    const after = (await resend.webhooks.get(made.id)).data!;
    expect(after).toMatchObject({ endpoint: `${receiver.url}/crud2`, events: ['email.bounced', 'domain.updated'], status: 'disabled' });

    const removed = await resend.webhooks.remove(made.id);
    expect(removed.data).toEqual({ object: 'webhook', id: made.id, deleted: true });
    expect((await resend.webhooks.get(made.id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await resend.webhooks.remove(made.id)).error).toMatchObject({ statusCode: 404, name: 'not_found' });

    const actions = await core()
      .db.selectFrom('audit_log')
      .select('action')
      .where('target_id', '=', made.id)
      .orderBy('id')
      .execute();
    expect(actions.map((a) => a.action)).toEqual(['webhook.created', 'webhook.updated', 'webhook.removed']);
  });

  it('pages the list newest first with cursors', async () => {
    const ids = [];
    for (const p of ['/p1', '/p2', '/p3']) ids.push((await createHook(p)).id);
    const first = (await resend.webhooks.list({ limit: 2 })).data!;
    expect(first.has_more).toBe(true);
    expect(first.data.map((w) => w.id)).toEqual([ids[2], ids[1]]);
    const next = (await resend.webhooks.list({ limit: 1, after: ids[1] })).data!;
    expect(next.data.map((w) => w.id)).toEqual([ids[0]]);
    for (const id of ids) await resend.webhooks.remove(id);
  });
});

describe('delivery', () => {
  it('delivers a signed event that resend.webhooks.verify accepts, and refuses a tampered body', async () => {
    const hook = await createHook('/signed');
    const data = sample(1);
    const eventId = await emitEvent(core(), workspaceId, 'email.sent', data);
    const [got] = await waitFor('the signed delivery', () => (receivedAt('/signed').length ? receivedAt('/signed') : null));

    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe(eventId);
    expect(got.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    const payload = verifyWith(hook.signing_secret, got);
    expect(payload).toEqual({ type: 'email.sent', created_at: expect.any(String), data });

    expect(() => verifyWith(hook.signing_secret, { ...got, body: got.body.replace('hello 1', 'hello 2') })).toThrow(/signature/i);
    expect(() => verifyWith(hook.signing_secret, { ...got, headers: { ...got.headers, 'webhook-id': 'other' } })).toThrow(/signature/i);
    const other = await createHook('/unused');
    expect(() => verifyWith(other.signing_secret, got)).toThrow(/signature/i);

    await waitFor('success recorded', async () => (await statusOf(hook.id, eventId)) === 'success');
    await resend.webhooks.remove(hook.id);
    await resend.webhooks.remove(other.id);
  });

  it('sends an event only to enabled endpoints subscribed to its type', async () => {
    const sent = await createHook('/only-sent', ['email.sent']);
    const bounced = await createHook('/only-bounced', ['email.bounced']);
    const off = await createHook('/off', ['email.bounced']);
    await resend.webhooks.update(off.id, { status: 'disabled' });

    const eventId = await emitEvent(core(), workspaceId, 'email.bounced', sample(2));
    const deliveries = await core().db.selectFrom('webhook_deliveries').select('webhook_id').where('event_id', '=', eventId).execute();
    expect(deliveries.map((d) => d.webhook_id)).toEqual([bounced.id]);
    await waitFor('the bounced delivery', async () => (await statusOf(bounced.id, eventId)) === 'success');
    expect(receivedAt('/only-bounced')).toHaveLength(1);
    expect((await resend.webhooks.events.list({ webhookId: sent.id })).data!.data).toEqual([]);
    expect((await resend.webhooks.events.get({ webhookId: sent.id, eventId })).error).toMatchObject({ statusCode: 404 });
    for (const h of [sent, bounced, off]) await resend.webhooks.remove(h.id);
  });

  it('retries a failing receiver and then delivers, listing every attempt', async () => {
    const hook = await createHook('/flaky');
    receiver.answers.push(500, 503);
    const eventId = await emitEvent(core(), workspaceId, 'email.delivered', sample(3));
    await waitFor('delivery after two failures', async () => (await statusOf(hook.id, eventId)) === 'success');

    const got = receivedAt('/flaky');
    expect(got).toHaveLength(3);
    // The same message each time: same webhook-id and body, each signed validly.
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]));
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    for (const r of got) expect(verifyWith(hook.signing_secret, r)).toMatchObject({ type: 'email.delivered' });

    const attempts = (await resend.webhooks.events.attempts.list({ webhookId: hook.id, eventId })).data!;
    expect(attempts.object).toBe('list');
    expect(attempts.data.map((a) => a.http_status_code)).toEqual([200, 503, 500]);
    expect(attempts.data[2]).toMatchObject({ id: expect.any(String), response: 'receiver says 500', sent_at: expect.any(String) });
    expect(attempts.data[0].response).toBe('ok');
    const page = (await resend.webhooks.events.attempts.list({ webhookId: hook.id, eventId, limit: 1, after: attempts.data[0].id })).data!;
    expect(page.data.map((a) => a.http_status_code)).toEqual([503]);
    expect(page.has_more).toBe(true);
    await resend.webhooks.remove(hook.id);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const hook = await createHook('/moved');
    receiver.answers.push(302);
    const eventId = await emitEvent(core(), workspaceId, 'email.sent', sample(6));
    await waitFor('delivery after the redirect', async () => (await statusOf(hook.id, eventId)) === 'success');
    const attempts = (await resend.webhooks.events.attempts.list({ webhookId: hook.id, eventId })).data!.data;
    expect(attempts.map((a) => a.http_status_code)).toEqual([200, 302]);
    expect(receivedAt('/moved')).toHaveLength(2);
    expect(receivedAt('/redirected')).toEqual([]);
    await resend.webhooks.remove(hook.id);
  });

  it('gives an event up after the last retry, keeping the endpoint enabled', async () => {
    const hook = await createHook('/down');
    receiver.answers.push(500, 500, 500, 500);
    const eventId = await emitEvent(core(), workspaceId, 'email.sent', sample(4));
    await waitFor('the event given up', async () => (await statusOf(hook.id, eventId)) === 'failed');
    const event = (await resend.webhooks.events.get({ webhookId: hook.id, eventId })).data!;
    expect(event.next_attempt_at).toBeNull();
    const attempts = (await resend.webhooks.events.attempts.list({ webhookId: hook.id, eventId })).data!.data;
    // One attempt plus one per configured retry delay (three).
    expect(attempts.map((a) => a.http_status_code)).toEqual([500, 500, 500, 500]);
    expect(receivedAt('/down')).toHaveLength(4);
    expect((await resend.webhooks.get(hook.id)).data!.status).toBe('enabled');
    await resend.webhooks.remove(hook.id);
  });

  it('records a network error as an attempt with status 0 and the error', async () => {
    const closed = await startReceiver();
    const url = `${closed.url}/gone`;
    await closed.close();
    const { data: hook } = await resend.webhooks.create({ endpoint: url, events: ['email.failed'] });
    const eventId = await emitEvent(core(), workspaceId, 'email.failed', { email_id: 'x', reason: 'test' });
    await waitFor('the event given up', async () => (await statusOf(hook!.id, eventId)) === 'failed');
    const attempts = (await resend.webhooks.events.attempts.list({ webhookId: hook!.id, eventId })).data!.data as any[];
    expect(attempts).toHaveLength(4);
    expect(attempts[0]).toMatchObject({ http_status_code: 0, response: '', error: expect.stringMatching(/ECONNREFUSED/) });
    await resend.webhooks.remove(hook!.id);
  });

  it('rotates the signing secret: messages verify with the new secret and not the old one', async () => {
    const hook = await createHook('/rotate');
    const rotated = await resend.webhooks.rotateSigningSecret(hook.id);
    expect(rotated.data).toEqual({ object: 'webhook', id: hook.id, signing_secret: expect.stringMatching(/^whsec_/) });
    expect(rotated.data!.signing_secret).not.toBe(hook.signing_secret);
    expect((await resend.webhooks.get(hook.id)).data!.signing_secret).toBe(rotated.data!.signing_secret);

    const eventId = await emitEvent(core(), workspaceId, 'email.sent', sample(5));
    const [got] = await waitFor('the delivery after rotation', () => (receivedAt('/rotate').length ? receivedAt('/rotate') : null));
    expect(got.headers['webhook-id']).toBe(eventId);
    expect(verifyWith(rotated.data!.signing_secret, got)).toMatchObject({ type: 'email.sent' });
    expect(() => verifyWith(hook.signing_secret, got)).toThrow(/signature/i);
    const audited = await core().db.selectFrom('audit_log').select('action').where('target_id', '=', hook.id).where('action', '=', 'webhook.secret_rotated').execute();
    expect(audited).toHaveLength(1);
    await resend.webhooks.remove(hook.id);
  });

  it('lists, gets and replays events; a replay re-sends the same message', async () => {
    const hook = await createHook('/replay');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await emitEvent(core(), workspaceId, 'email.sent', sample(10 + i)));
    await waitFor('three deliveries', async () => {
      for (const id of ids) if ((await statusOf(hook.id, id)) !== 'success') return false;
      return true;
    });

    const list = (await resend.webhooks.events.list({ webhookId: hook.id, limit: 2 })).data!;
    expect(list).toMatchObject({ object: 'list', has_more: true });
    expect(list.data).toEqual([
      { id: ids[2], type: 'email.sent', created_at: expect.any(String), status: 'success' },
      { id: ids[1], type: 'email.sent', created_at: expect.any(String), status: 'success' },
    ]);
    const rest = (await resend.webhooks.events.list({ webhookId: hook.id, after: ids[1] })).data!;
    expect(rest.data.map((e) => e.id)).toEqual([ids[0]]);
    expect(rest.has_more).toBe(false);

    const one = (await resend.webhooks.events.get({ webhookId: hook.id, eventId: ids[0] })).data!;
    expect(one).toMatchObject({ object: 'webhook_event', id: ids[0], type: 'email.sent', status: 'success', next_attempt_at: null });
    expect(one.payload).toEqual({ type: 'email.sent', created_at: one.created_at, data: sample(10) });

    const before = receivedAt('/replay').length;
    const replay = await resend.webhooks.events.replay({ webhookId: hook.id, eventId: ids[0] });
    expect(replay.data).toEqual({ object: 'webhook_event', id: ids[0] });
    await waitFor('the replayed delivery', () => receivedAt('/replay').length === before + 1);
    const again = receivedAt('/replay').at(-1)!;
    expect(again.headers['webhook-id']).toBe(ids[0]);
    expect(verifyWith(hook.signing_secret, again)).toEqual(one.payload);
    await waitFor('the replay recorded', async () => {
      const a = (await resend.webhooks.events.attempts.list({ webhookId: hook.id, eventId: ids[0] })).data!.data;
      return a.length === 2 && a.every((x) => x.http_status_code === 200);
    });
    expect((await resend.webhooks.events.replay({ webhookId: hook.id, eventId: 'nope' })).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    await resend.webhooks.remove(hook.id);
  });
});

describe('emitEvent', () => {
  it('writes the event and its delivery jobs in the caller transaction: a rollback leaves neither', async () => {
    const hook = await createHook('/tx', ['domain.updated']);
    const countJobs = async () => (await core().db.selectFrom('jobs').select('id').where('kind', '=', 'webhook.deliver').execute()).length;
    const jobsBefore = await countJobs();
    let eventId = '';
    await expect(
      core().store.transaction(async (tx) => {
        eventId = await emitEvent(core(), workspaceId, 'domain.updated', { id: 'd1', name: 'acme.test', status: 'verified' }, tx);
        throw new Error('the caller fails after emitting');
      }),
    ).rejects.toThrow('the caller fails');
    expect(eventId).not.toBe('');
    expect(await core().db.selectFrom('event_records').select('id').where('id', '=', eventId).executeTakeFirst()).toBeUndefined();
    expect(await countJobs()).toBe(jobsBefore);

    const committed = await core().store.transaction((tx) => emitEvent(core(), workspaceId, 'domain.updated', { id: 'd1' }, tx));
    await waitFor('the committed event delivered', async () => (await statusOf(hook.id, committed)) === 'success');
    await resend.webhooks.remove(hook.id);
  });

  it('refuses an unknown event type', async () => {
    await expect(emitEvent(core(), workspaceId, 'email.exploded' as any, {})).rejects.toMatchObject({ status: 422, code: 'validation_error' });
  });
});

describe('secrets at rest', () => {
  it('stores the signing secret only sealed by the vault', async () => {
    const hook = await createHook('/sealed');
    const rotated = (await resend.webhooks.rotateSigningSecret(hook.id)).data!;
    const row = await core().db.selectFrom('webhooks').selectAll().where('id', '=', hook.id).executeTakeFirstOrThrow();
    expect(row.secret_enc).toMatch(/^v1\./);
    expect(core().vault.decrypt(row.secret_enc, `webhook:${hook.id}`)).toBe(rotated.signing_secret);
    // Bound to its row: the same ciphertext does not open under another webhook's context.
    expect(() => core().vault.decrypt(row.secret_enc, 'webhook:other')).toThrow();
    for (const table of ['webhooks', 'webhook_deliveries', 'webhook_attempts', 'event_records', 'audit_log', 'jobs'] as const) {
      const rows = await core().db.selectFrom(table).selectAll().execute();
      const dump = JSON.stringify(rows);
      expect(dump, table).not.toContain('whsec_');
      expect(dump, table).not.toContain(rotated.signing_secret.slice(6));
      expect(dump, table).not.toContain(hook.signing_secret.slice(6));
    }
    await resend.webhooks.remove(hook.id);
  });

  it('re-seals webhook secrets when the master key is rotated (SEALED_COLUMNS)', async () => {
    const hook = await createHook('/reseal');
    const rotatedVault = new Vault(randomBytes(32), [core().vault.current.key]);
    const changed = await resealAll({ ...core(), vault: rotatedVault });
    expect(changed).toBeGreaterThanOrEqual(1);
    const row = await core().db.selectFrom('webhooks').select('secret_enc').where('id', '=', hook.id).executeTakeFirstOrThrow();
    expect(rotatedVault.isCurrent(row.secret_enc)).toBe(true);
    expect(rotatedVault.decrypt(row.secret_enc, `webhook:${hook.id}`)).toBe(hook.signing_secret);
    // Put the node's own key back so the rest of this file can read its secrets.
    await resealAll({ ...core(), vault: new Vault(core().vault.current.key, [rotatedVault.current.key]) });
    expect((await resend.webhooks.get(hook.id)).data!.signing_secret).toBe(hook.signing_secret);
    await resend.webhooks.remove(hook.id);
  });

  it('shows the secret only to callers who may manage webhooks', async () => {
    const hook = await createHook('/viewer');
    const asViewer = await getWebhook(core(), workspaceId, hook.id, false);
    expect(asViewer).not.toHaveProperty('signing_secret');
    expect((await getWebhook(core(), workspaceId, hook.id, true)).signing_secret).toBe(hook.signing_secret);
    await resend.webhooks.remove(hook.id);
  });
});

describe('tenant walls', () => {
  it("gives another workspace's key not_found on every webhook endpoint, and changes nothing", async () => {
    const hook = await createHook('/walled', ['email.sent']);
    const eventId = await emitEvent(core(), workspaceId, 'email.sent', sample(20));
    await waitFor('the walled delivery', async () => (await statusOf(hook.id, eventId)) === 'success');

    const b = await server.setup('other@example.com', 'Beta');
    const rb = server.resend(b.apiKey);
    const notFound = { statusCode: 404, name: 'not_found' };
    expect((await rb.webhooks.get(hook.id)).error).toMatchObject(notFound);
    expect((await rb.webhooks.update(hook.id, { status: 'disabled', endpoint: 'http://127.0.0.1:9/stolen' })).error).toMatchObject(notFound);
    expect((await rb.webhooks.rotateSigningSecret(hook.id)).error).toMatchObject(notFound);
    expect((await rb.webhooks.events.list({ webhookId: hook.id })).error).toMatchObject(notFound);
    expect((await rb.webhooks.events.get({ webhookId: hook.id, eventId })).error).toMatchObject(notFound);
    expect((await rb.webhooks.events.replay({ webhookId: hook.id, eventId })).error).toMatchObject(notFound);
    expect((await rb.webhooks.events.attempts.list({ webhookId: hook.id, eventId })).error).toMatchObject(notFound);
    expect((await rb.webhooks.remove(hook.id)).error).toMatchObject(notFound);
    expect((await rb.webhooks.list()).data!.data).toEqual([]);

    // B's own endpoint does not receive A's events, and A's endpoint is unchanged.
    const bHook = (await rb.webhooks.create({ endpoint: `${receiver.url}/b-side`, events: ['email.sent'] })).data!;
    const second = await emitEvent(core(), workspaceId, 'email.sent', sample(21));
    expect(await core().db.selectFrom('webhook_deliveries').select('webhook_id').where('event_id', '=', second).execute()).toEqual([{ webhook_id: hook.id }]);
    expect((await rb.webhooks.events.get({ webhookId: bHook.id, eventId: second })).error).toMatchObject(notFound);
    const still = (await resend.webhooks.get(hook.id)).data!;
    expect(still).toMatchObject({ status: 'enabled', endpoint: `${receiver.url}/walled`, signing_secret: hook.signing_secret });
    await resend.webhooks.remove(hook.id);
    await rb.webhooks.remove(bHook.id);
  });
});

describe('roles', () => {
  it('refuses a sending_access key with 403 restricted_api_key', async () => {
    const hook = await createHook('/roles');
    const sending = (await resend.apiKeys.create({ name: 'sender', permission: 'sending_access' })).data!;
    const rs = server.resend(sending.token);
    const restricted = { statusCode: 403, name: 'restricted_api_key' };
    expect((await rs.webhooks.create({ endpoint: `${receiver.url}/x`, events: ['email.sent'] })).error).toMatchObject(restricted);
    expect((await rs.webhooks.list()).error).toMatchObject(restricted);
    expect((await rs.webhooks.get(hook.id)).error).toMatchObject(restricted);
    expect((await rs.webhooks.rotateSigningSecret(hook.id)).error).toMatchObject(restricted);
    expect((await rs.webhooks.remove(hook.id)).error).toMatchObject(restricted);
    expect((await resend.webhooks.get(hook.id)).data!.signing_secret).toBe(hook.signing_secret);
    await resend.webhooks.remove(hook.id);
  });
});

describe('hostile input', () => {
  it("answers bad endpoints, unknown event types and oversized strings with 422 in Resend's shape", async () => {
    const long = 'x'.repeat(10_240);
    const cases: unknown[] = [
      { endpoint: 'not a url', events: ['email.sent'] },
      { endpoint: 'ftp://example.com/hook', events: ['email.sent'] },
      { endpoint: 'javascript:alert(1)', events: ['email.sent'] },
      { endpoint: 'file:///etc/passwd', events: ['email.sent'] },
      { endpoint: 'http://user:pw@127.0.0.1/hook', events: ['email.sent'] },
      { endpoint: `http://127.0.0.1/${long}`, events: ['email.sent'] },
      { endpoint: `http://${long}.example.com/`, events: ['email.sent'] },
      { endpoint: `${receiver.url}/h`, events: ['email.exploded'] },
      { endpoint: `${receiver.url}/h`, events: [long] },
      { endpoint: `${receiver.url}/h`, events: [] },
      { endpoint: `${receiver.url}/h`, events: { 'email.sent': true } },
      { endpoint: `${receiver.url}/h`, events: [1, 2] },
      { endpoint: `${receiver.url}/h`, events: Array(1000).fill('email.sent') },
      { endpoint: 42, events: ['email.sent'] },
      { events: ['email.sent'] },
      { endpoint: `${receiver.url}/h` },
    ];
    for (const body of cases) {
      const r = await api(server.url, 'POST', '/v1/webhooks', { key, body });
      expect(r.status, JSON.stringify(body).slice(0, 120)).toBe(422);
      expect(r.json).toEqual({ statusCode: 422, name: 'validation_error', message: expect.any(String) });
    }
    const hook = await createHook('/hostile');
    for (const body of [{ endpoint: 'gopher://x' }, { events: ['nope'] }, { status: 'paused' }, { endpoint: long }]) {
      const r = await api(server.url, 'PATCH', `/v1/webhooks/${hook.id}`, { key, body });
      expect(r.status, JSON.stringify(body).slice(0, 120)).toBe(422);
      expect(r.json.name).toBe('validation_error');
    }
    const badJson = await api(server.url, 'POST', '/v1/webhooks', { key, raw: '{"endpoint":' });
    expect(badJson.status).toBe(400);
    expect(badJson.json.name).toBe('validation_error');
    const longId = await api(server.url, 'GET', `/v1/webhooks/${'a'.repeat(150)}`, { key });
    expect(longId.status).toBeLessThan(500);
    const weirdId = await api(server.url, 'GET', `/v1/webhooks/${encodeURIComponent("' OR 1=1 --")}/events`, { key });
    expect(weirdId.json).toMatchObject({ statusCode: 404, name: 'not_found' });
    // Nothing of this changed the endpoint.
    expect((await resend.webhooks.get(hook.id)).data).toMatchObject({ endpoint: `${receiver.url}/hostile`, status: 'enabled' });
    await resend.webhooks.remove(hook.id);
  });

  it('documents the webhook endpoints in the OpenAPI document', async () => {
    const r = await api(server.url, 'GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    for (const path of ['/v1/webhooks', '/v1/webhooks/{id}', '/v1/webhooks/{id}/signing-secret/rotate', '/v1/webhooks/{id}/events', '/v1/webhooks/{id}/events/{eventId}', '/v1/webhooks/{id}/events/{eventId}/replay', '/v1/webhooks/{id}/events/{eventId}/attempts']) {
      expect(r.json.paths, path).toHaveProperty([path]);
    }
  });

  it('accepts every Resend event name', async () => {
    // Ours include Mailstack's own (workspace.sending_paused …), which the SDK's type does not list.
    const { data, error } = await resend.webhooks.create({ endpoint: `${receiver.url}/all`, events: [...EVENT_TYPES] as Parameters<typeof resend.webhooks.create>[0]['events'] });
    expect(error).toBeNull();
    expect((await resend.webhooks.get(data!.id)).data!.events).toEqual([...EVENT_TYPES]);
    await resend.webhooks.remove(data!.id);
  });
});
