// Idempotency-Key on the send API, through the SDK's `idempotencyKey` request option: replay,
// conflict, concurrency, failure hand-back, expiry after 24 hours (ManualClock) and the purge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { api } from '../testkit/server.ts';
import { IDEMPOTENCY_PURGE_JOB } from './emails.ts';
import { purgeExpired } from './idempotency.ts';
import { type SendingWorld, startSendingWorld } from '../testkit/sending.ts';

let w: SendingWorld;
const clock = new ManualClock();
const HOUR = 3_600_000;

beforeAll(async () => {
  w = await startSendingWorld({ clock });
  await w.verifyDomain('idem.test');
});
afterAll(async () => {
  await w?.stop();
});

const core = () => w.server.platform.core;
const email = (subject: string) => ({ from: 'hello@idem.test', to: 'someone@example.net', subject, text: 'body' });
const emailsWithKey = (key: string) => core().db.selectFrom('emails').select('id').where('idempotency_key', '=', key).execute();

describe('Idempotency-Key', () => {
  it('returns the same id for the same key and body, without a second message', async () => {
    const first = await w.resend.emails.send(email('same'), { idempotencyKey: 'order-1' });
    expect(first.error).toBeNull();
    const again = await w.resend.emails.send(email('same'), { idempotencyKey: 'order-1' });
    expect(again.error).toBeNull();
    expect(again.data!.id).toBe(first.data!.id);
    expect(await emailsWithKey('order-1')).toHaveLength(1);
    const jobs = await core().db.selectFrom('email_recipients').select('id').where('email_id', '=', first.data!.id).execute();
    expect(jobs).toHaveLength(1);
  });

  it('answers 409 invalid_idempotent_request for the same key with another body', async () => {
    await w.resend.emails.send(email('original'), { idempotencyKey: 'order-2' });
    const other = await w.resend.emails.send(email('changed'), { idempotencyKey: 'order-2' });
    expect(other.data).toBeNull();
    expect(other.error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
    expect(await emailsWithKey('order-2')).toHaveLength(1);
  });

  it('keeps keys per workspace: another workspace may use the same key', async () => {
    await w.resend.emails.send(email('ws-a'), { idempotencyKey: 'shared-key' });
    const ws = await w.server.setup('other@idem.test', 'Other');
    const other = w.server.resend(ws.apiKey);
    await w.verifyDomain('idem-other.test', other);
    const r = await other.emails.send({ ...email('ws-b'), from: 'x@idem-other.test' }, { idempotencyKey: 'shared-key' });
    expect(r.error).toBeNull();
    expect(await emailsWithKey('shared-key')).toHaveLength(2);
  });

  it('distinguishes the send and batch endpoints, and replays a batch', async () => {
    const b1 = await w.resend.batch.send([email('b-1'), email('b-2')], { idempotencyKey: 'batch-1' });
    expect(b1.error).toBeNull();
    const b2 = await w.resend.batch.send([email('b-1'), email('b-2')], { idempotencyKey: 'batch-1' });
    expect(b2.data!.data.map((d) => d.id)).toEqual(b1.data!.data.map((d) => d.id));
    expect(await emailsWithKey('batch-1')).toHaveLength(2);
    const single = await w.resend.emails.send(email('b-1'), { idempotencyKey: 'batch-1' });
    expect(single.error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
    const permissive = await w.resend.batch.send([email('b-1'), email('b-2')], { idempotencyKey: 'batch-1', batchValidation: 'permissive' });
    expect(permissive.error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
  });

  it('refuses a key longer than 256 characters and accepts one of exactly 256', async () => {
    const long = await w.resend.emails.send(email('long'), { idempotencyKey: 'k'.repeat(257) });
    expect(long.error).toMatchObject({ statusCode: 400, name: 'invalid_idempotency_key' });
    const ok = await w.resend.emails.send(email('long'), { idempotencyKey: 'k'.repeat(256) });
    expect(ok.error).toBeNull();
  });

  it('gives the key back when the request fails, so a corrected request can use it', async () => {
    const failed = await w.resend.emails.send({ ...email('fail'), from: 'x@not-verified.test' }, { idempotencyKey: 'retry-me' });
    expect(failed.error).toMatchObject({ statusCode: 403 });
    const ok = await w.resend.emails.send(email('fixed'), { idempotencyKey: 'retry-me' });
    expect(ok.error).toBeNull();
  });

  it('answers 409 concurrent_idempotent_requests while the first request holds the key, and takes over an abandoned one', async () => {
    const now = clock.now();
    await core().db.insertInto('idempotency_keys').values({ workspace_id: w.workspaceId, key: 'in-flight', request_hash: 'x', response: 'pending:abc', created_at: now }).execute();
    const busy = await w.resend.emails.send(email('busy'), { idempotencyKey: 'in-flight' });
    // A different hash is reported as such; the same request while pending is "concurrent".
    expect(busy.error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
    const hashRow = await api(w.server.url, 'POST', '/v1/emails', { key: w.apiKey, body: email('probe'), headers: { 'idempotency-key': 'probe-key' } });
    expect(hashRow.status).toBe(200);
    const stored = await core().db.selectFrom('idempotency_keys').select('request_hash').where('key', '=', 'probe-key').executeTakeFirstOrThrow();
    await core().db.insertInto('idempotency_keys').values({ workspace_id: w.workspaceId, key: 'in-flight-2', request_hash: stored.request_hash, response: 'pending:def', created_at: now }).execute();
    const concurrent = await api(w.server.url, 'POST', '/v1/emails', { key: w.apiKey, body: email('probe'), headers: { 'idempotency-key': 'in-flight-2' } });
    expect(concurrent.status).toBe(409);
    expect(concurrent.json).toMatchObject({ statusCode: 409, name: 'concurrent_idempotent_requests' });
    // Eleven minutes later the holder is deemed crashed (its transaction never committed): taken over.
    clock.advance(11 * 60_000);
    const taken = await api(w.server.url, 'POST', '/v1/emails', { key: w.apiKey, body: email('probe'), headers: { 'idempotency-key': 'in-flight-2' } });
    expect(taken.status).toBe(200);
    expect(await emailsWithKey('in-flight-2')).toHaveLength(1);
  });

  it('sends exactly one email when the same request races itself', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => w.resend.emails.send(email('race'), { idempotencyKey: 'race-1' })));
    const ids = new Set<string>();
    for (const r of results) {
      if (r.error) expect(r.error).toMatchObject({ statusCode: 409, name: 'concurrent_idempotent_requests' });
      else ids.add(r.data!.id);
    }
    expect(ids.size).toBe(1);
    expect(await emailsWithKey('race-1')).toHaveLength(1);
    const after = await w.resend.emails.send(email('race'), { idempotencyKey: 'race-1' });
    expect(after.data!.id).toBe([...ids][0]);
  });

  it('forgets a key after 24 hours: the same request then sends again; the purge job deletes expired keys', async () => {
    const first = await w.resend.emails.send(email('expiry'), { idempotencyKey: 'day-1' });
    clock.advance(23 * HOUR);
    const within = await w.resend.emails.send(email('expiry'), { idempotencyKey: 'day-1' });
    expect(within.data!.id).toBe(first.data!.id);
    clock.advance(HOUR + 1000);
    const later = await w.resend.emails.send(email('expiry'), { idempotencyKey: 'day-1' });
    expect(later.error).toBeNull();
    expect(later.data!.id).not.toBe(first.data!.id);
    expect(await emailsWithKey('day-1')).toHaveLength(2);

    // The purge: the periodic job is scheduled, and deletes keys older than 24 h only.
    expect(await w.server.platform.scheduler.tick()).toContain(IDEMPOTENCY_PURGE_JOB);
    clock.advance(24 * HOUR + 1000);
    await w.resend.emails.send(email('fresh'), { idempotencyKey: 'fresh-key' });
    const removed = await purgeExpired(core());
    expect(removed).toBeGreaterThan(0);
    const left = await core().db.selectFrom('idempotency_keys').select('key').where('workspace_id', '=', w.workspaceId).execute();
    expect(left.map((k) => k.key)).toEqual(['fresh-key']);
  });
});
