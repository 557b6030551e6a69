// The job queue's contract, on the store this project runs (SQLite or PostgreSQL): claim and lease,
// dedupe by unique key, retry with backoff, dead-lettering, release, and that a worker whose lease
// was taken over cannot overwrite the new owner's result. Time moves by a ManualClock, never by sleeping.
// A ManualClock keeps ticking with real time under its offset, so "just before" a deadline is
// checked with a margin (MARGIN) far larger than any test takes, never at the exact millisecond.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { type Store, openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { JobQueue, retryDelay } from './queue.ts';

const LEASE = 30_000;
const MARGIN = 2_000;
let tdb: TestDatabase;
let store: Store;
let clock: ManualClock;
let queue: JobQueue;

beforeAll(async () => {
  tdb = await createTestDatabase();
  store = openStore(tdb.url);
  await migrateToLatest(store.db);
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});
// Each test starts with an empty jobs table and its own clock.
beforeEach(async () => {
  await store.db.deleteFrom('jobs').execute();
  clock = new ManualClock();
  queue = new JobQueue(store, clock);
});

describe('JobQueue', () => {
  it('enqueues, claims and completes a job with its payload', async () => {
    const id = await queue.enqueue('mail.send', { to: 'a@example.com', n: 1 });
    expect((await queue.get(id))!.status).toBe('queued');

    const claimed = await queue.claim('w1', ['mail.send'], 10, LEASE);
    expect(claimed).toEqual([{ id, kind: 'mail.send', payload: { to: 'a@example.com', n: 1 }, attempts: 1, maxAttempts: 10 }]);
    const running = (await queue.get(id))!;
    expect(running).toMatchObject({ status: 'running', lease_owner: 'w1', attempts: 1 });
    expect(running.lease_expires_at! - clock.now()).toBeGreaterThan(LEASE - MARGIN);
    expect(running.lease_expires_at! - clock.now()).toBeLessThanOrEqual(LEASE);

    await queue.complete(id, 'w1');
    expect(await queue.get(id)).toMatchObject({ status: 'done', lease_owner: null, lease_expires_at: null });
    expect(await queue.claim('w2', ['mail.send'], 10, LEASE)).toEqual([]);
  });

  it('claims only the kinds asked for, at most `limit`, oldest run_at first', async () => {
    const now = clock.now();
    const late = await queue.enqueue('a', 1, { runAt: now - 10 });
    const early = await queue.enqueue('a', 2, { runAt: now - 1000 });
    await queue.enqueue('b', 3);
    const first = await queue.claim('w1', ['a'], 1, LEASE);
    expect(first.map((j) => j.id)).toEqual([early]);
    const rest = await queue.claim('w1', ['a'], 10, LEASE);
    expect(rest.map((j) => j.id)).toEqual([late]);
    expect(await queue.claim('w1', [], 10, LEASE)).toEqual([]);
    expect((await queue.claim('w1', ['b'], 10, LEASE)).map((j) => j.payload)).toEqual([3]);
  });

  it('dedupes by uniqueKey while the job is live, and frees the key once it is done', async () => {
    const a = await queue.enqueue('digest', { n: 1 }, { uniqueKey: 'digest:ws1' });
    const b = await queue.enqueue('digest', { n: 2 }, { uniqueKey: 'digest:ws1' });
    expect(b).toBe(a);
    const other = await queue.enqueue('digest', { n: 3 }, { uniqueKey: 'digest:ws2' });
    expect(other).not.toBe(a);
    expect(await store.db.selectFrom('jobs').select('id').where('kind', '=', 'digest').execute()).toHaveLength(2);

    // Still deduped while running.
    const [job] = await queue.claim('w1', ['digest'], 1, LEASE);
    expect(job.id).toBe(a);
    expect(await queue.enqueue('digest', { n: 4 }, { uniqueKey: 'digest:ws1' })).toBe(a);

    await queue.complete(a, 'w1');
    const fresh = await queue.enqueue('digest', { n: 5 }, { uniqueKey: 'digest:ws1' });
    expect(fresh).not.toBe(a);
    expect((await queue.get(fresh))!.status).toBe('queued');
  });

  it('enqueues inside the caller\'s transaction: a rollback leaves no job', async () => {
    await expect(
      store.transaction(async (tx) => {
        await queue.enqueue('tx.kind', {}, {}, tx);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const id = await store.transaction((tx) => queue.enqueue('tx.kind', { kept: true }, {}, tx));
    const rows = await store.db.selectFrom('jobs').select('id').where('kind', '=', 'tx.kind').execute();
    expect(rows.map((r) => r.id)).toEqual([id]);
  });

  it('does not hand a job out again while its lease is live, nor a job not yet due', async () => {
    const id = await queue.enqueue('k', {});
    await queue.enqueue('k', {}, { runAt: clock.now() + 60_000 });
    expect((await queue.claim('w1', ['k'], 10, LEASE)).map((j) => j.id)).toEqual([id]);
    expect(await queue.claim('w2', ['k'], 10, LEASE)).toEqual([]);
    clock.advance(LEASE - MARGIN);
    expect(await queue.claim('w2', ['k'], 10, LEASE)).toEqual([]);
    // A heartbeat pushes the lease out, so the job stays with w1 past the first lease's end.
    expect(await queue.heartbeat(id, 'w1', LEASE)).toBe(true);
    clock.advance(LEASE - MARGIN);
    expect((await queue.claim('w2', ['k'], 10, LEASE)).map((j) => j.id)).not.toContain(id);
    // Without further heartbeats it expires.
    clock.advance(MARGIN + 1);
    expect((await queue.claim('w2', ['k'], 10, LEASE)).map((j) => j.id)).toContain(id);
  });

  it('gives an expired lease to another owner; the old owner can no longer heartbeat, complete or fail it', async () => {
    const id = await queue.enqueue('k', { x: 1 });
    const [first] = await queue.claim('old', ['k'], 1, LEASE);
    clock.advance(LEASE + 1);

    const [second] = await queue.claim('new', ['k'], 1, LEASE);
    expect(second).toMatchObject({ id, attempts: 2, payload: { x: 1 } });
    expect((await queue.get(id))!.lease_owner).toBe('new');

    // The worker that lost the lease wakes up: every write it tries is ignored.
    expect(await queue.heartbeat(id, 'old', LEASE)).toBe(false);
    await queue.complete(id, 'old');
    await queue.fail(first, 'old', new Error('late failure'));
    await queue.release(id, 'old');
    expect(await queue.get(id)).toMatchObject({ status: 'running', lease_owner: 'new', attempts: 2, last_error: null });

    await queue.complete(id, 'new');
    expect((await queue.get(id))!.status).toBe('done');
  });

  it('retries a failed job after its backoff: not claimable before run_at, claimable after', async () => {
    const id = await queue.enqueue('k', {});
    const [job] = await queue.claim('w1', ['k'], 1, LEASE);
    const failedAt = clock.now();
    expect(await queue.fail(job, 'w1', new Error('connection refused'))).toBe('retry');

    const row = (await queue.get(id))!;
    expect(row).toMatchObject({ status: 'queued', lease_owner: null, last_error: 'connection refused', attempts: 1 });
    // First retry waits 10 s ± 20%.
    expect(row.run_at - failedAt).toBeGreaterThanOrEqual(8_000);
    expect(row.run_at - failedAt).toBeLessThanOrEqual(12_000);

    expect(await queue.claim('w1', ['k'], 1, LEASE)).toEqual([]);
    clock.advance(row.run_at - clock.now() - MARGIN);
    expect(await queue.claim('w1', ['k'], 1, LEASE)).toEqual([]);
    clock.advance(MARGIN);
    const [again] = await queue.claim('w2', ['k'], 1, LEASE);
    expect(again).toMatchObject({ id, attempts: 2 });
  });

  it('backs off exponentially with jitter, capped at one hour', () => {
    for (let i = 0; i < 50; i++) {
      const d1 = retryDelay(1);
      const d3 = retryDelay(3);
      expect(d1).toBeGreaterThanOrEqual(8_000);
      expect(d1).toBeLessThanOrEqual(12_000);
      expect(d3).toBeGreaterThanOrEqual(32_000);
      expect(d3).toBeLessThanOrEqual(48_000);
      expect(retryDelay(30)).toBeLessThanOrEqual(3_600_000 * 1.2);
      expect(retryDelay(30)).toBeGreaterThanOrEqual(3_600_000 * 0.8);
    }
  });

  it('respects an explicit retry delay (RetryLater)', async () => {
    const id = await queue.enqueue('k', {});
    const [job] = await queue.claim('w1', ['k'], 1, LEASE);
    const failedAt = clock.now();
    await queue.fail(job, 'w1', new Error('greylisted'), 5 * 60_000);
    const runAt = (await queue.get(id))!.run_at;
    expect(runAt - failedAt).toBeGreaterThanOrEqual(5 * 60_000);
    expect(runAt - failedAt).toBeLessThan(5 * 60_000 + MARGIN);
    clock.advance(5 * 60_000 - MARGIN);
    expect(await queue.claim('w1', ['k'], 1, LEASE)).toEqual([]);
    clock.advance(MARGIN);
    expect((await queue.claim('w1', ['k'], 1, LEASE)).map((j) => j.id)).toEqual([id]);
  });

  it('dead-letters after max_attempts, frees its unique key, and never claims it again', async () => {
    const id = await queue.enqueue('k', {}, { maxAttempts: 3, uniqueKey: 'once' });
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [job] = await queue.claim('w1', ['k'], 1, LEASE);
      expect(job).toMatchObject({ id, attempts: i + 1, maxAttempts: 3 });
      outcomes.push(await queue.fail(job, 'w1', new Error(`boom ${i + 1}`), 1_000));
      clock.advance(1_000);
    }
    expect(outcomes).toEqual(['retry', 'retry', 'dead']);
    expect(await queue.get(id)).toMatchObject({ status: 'dead', attempts: 3, last_error: 'boom 3', unique_key: null });

    clock.advance(365 * 24 * 3_600_000);
    expect(await queue.claim('w2', ['k'], 10, LEASE)).toEqual([]);
    expect((await queue.depth()).dead).toBe(1);
    // Its key is free again for a new job.
    expect(await queue.enqueue('k', {}, { uniqueKey: 'once' })).not.toBe(id);
  });

  it('dead-letters a job whose worker died on every attempt, instead of running it forever', async () => {
    const id = await queue.enqueue('k', {}, { maxAttempts: 2 });
    for (let i = 0; i < 2; i++) {
      expect((await queue.claim(`crashing-${i}`, ['k'], 1, LEASE)).map((j) => j.id)).toEqual([id]);
      clock.advance(LEASE + 1); // the worker died: its lease runs out
    }
    expect(await queue.claim('w', ['k'], 1, LEASE)).toEqual([]);
    expect(await queue.get(id)).toMatchObject({ status: 'dead', attempts: 2, lease_owner: null });
    expect((await queue.get(id))!.last_error).toMatch(/lease expired/);
  });

  it('release gives the job back at once, without spending an attempt', async () => {
    const id = await queue.enqueue('k', {}, { maxAttempts: 1 });
    const [job] = await queue.claim('w1', ['k'], 1, LEASE);
    expect(job.attempts).toBe(1);
    await queue.release(id, 'w1');
    expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 0, lease_owner: null, lease_expires_at: null });
    const [again] = await queue.claim('w2', ['k'], 1, LEASE);
    expect(again).toMatchObject({ id, attempts: 1 });
  });

  it('depth() counts queued, running and dead jobs (not done ones)', async () => {
    expect(await queue.depth()).toEqual({ queued: 0, running: 0, dead: 0 });
    for (let i = 0; i < 5; i++) await queue.enqueue('k', { i }, { maxAttempts: 1 });
    await queue.enqueue('k', {}, { runAt: clock.now() + 60_000 }); // queued, not yet due: still counted
    const [a, b, c] = await queue.claim('w1', ['k'], 3, LEASE);
    await queue.complete(a.id, 'w1');
    await queue.fail(b, 'w1', new Error('x'));
    expect(c).toBeDefined();
    expect(await queue.depth()).toEqual({ queued: 3, running: 1, dead: 1 });
  });

  it('purgeDone deletes only finished jobs older than the cut-off', async () => {
    const old = await queue.enqueue('k', {});
    await queue.claim('w', ['k'], 1, LEASE);
    await queue.complete(old, 'w');
    clock.advance(10_000);
    const recent = await queue.enqueue('k', {});
    await queue.claim('w', ['k'], 1, LEASE);
    await queue.complete(recent, 'w');
    const waiting = await queue.enqueue('k', {}, { runAt: clock.now() + 1 });
    clock.advance(1_000);
    expect(await queue.purgeDone(5_000)).toBe(1);
    expect(await queue.get(old)).toBeUndefined();
    expect((await queue.get(recent))!.status).toBe('done');
    expect((await queue.get(waiting))!.status).toBe('queued');
  });

  it('never hands one job to two claimers racing on separate connections', async () => {
    const other = openStore(tdb.url);
    try {
      const q2 = new JobQueue(other, clock);
      const ids = new Set<string>();
      for (let i = 0; i < 60; i++) ids.add(await queue.enqueue('race', { i }));
      const got: string[] = [];
      const claimers = Array.from({ length: 6 }, (_, n) => (async () => {
        const q = n % 2 === 0 ? queue : q2;
        for (;;) {
          const jobs = await q.claim(`c${n}`, ['race'], 4, LEASE);
          if (jobs.length === 0) return;
          got.push(...jobs.map((j) => j.id));
        }
      })());
      await Promise.all(claimers);
      expect(got.length).toBe(60);
      expect(new Set(got)).toEqual(ids);
    } finally {
      await other.close();
    }
  });
});
