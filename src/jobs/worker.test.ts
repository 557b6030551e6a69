// The Worker on a real store: two workers on separate connections share the queue and run every job
// exactly once; failures are retried (default backoff, RetryLater) or dead-lettered; a live worker
// keeps its lease; stop() waits for running jobs and, past its timeout, gives their leases back.
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { type Store, openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { type ClaimedJob, JobQueue } from './queue.ts';
import { RetryLater, Worker, type WorkerOptions } from './worker.ts';

const log = pino({ level: 'silent' });
let tdb: TestDatabase;
let storeA: Store;
let storeB: Store;
let clock: ManualClock;
const workers: Worker[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  storeA = openStore(tdb.url);
  await migrateToLatest(storeA.db);
  // A second, separate connection (pool) to the same database, as a second node would have.
  storeB = openStore(tdb.url);
});
afterAll(async () => {
  await storeA?.close();
  await storeB?.close();
  await tdb?.drop();
});
beforeEach(async () => {
  await storeA.db.deleteFrom('jobs').execute();
  clock = new ManualClock();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(1_000)));
});

function worker(store: Store, opts: Partial<WorkerOptions> = {}): Worker {
  const w = new Worker(new JobQueue(store, clock), { concurrency: 4, pollMs: 10, leaseMs: 30_000, log, ...opts });
  workers.push(w);
  return w;
}

/** Polls `check` until it returns true; fails after `ms`. */
async function until(check: () => Promise<boolean> | boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('Worker', () => {
  it('two workers on separate connections run each of 200 jobs exactly once', async () => {
    const queue = new JobQueue(storeA, clock);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(await queue.enqueue('count', { i }));

    const runs = new Map<string, number>();
    const byWorker = new Map<string, number>();
    const handlerFor = (name: string) => async (payload: { i: number }, ctx: { job: ClaimedJob }) => {
      expect(ids[payload.i]).toBe(ctx.job.id);
      runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
      byWorker.set(name, (byWorker.get(name) ?? 0) + 1);
      await sleep(1); // let the other worker in
    };
    const a = worker(storeA).handle('count', handlerFor('a'));
    const b = worker(storeB).handle('count', handlerFor('b'));
    a.start();
    b.start();

    const done = async () =>
      (await storeA.db.selectFrom('jobs').select('id').where('status', '=', 'done').execute()).length === 200;
    await until(done, 20_000, '200 jobs done');

    expect(runs.size).toBe(200);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(runs.keys())).toEqual(new Set(ids));
    // Both workers took part, so the test did exercise two claimers.
    expect(byWorker.get('a')).toBeGreaterThan(0);
    expect(byWorker.get('b')).toBeGreaterThan(0);
    const statuses = await storeA.db.selectFrom('jobs').select(['status', 'attempts', 'lease_owner']).execute();
    expect(statuses.every((r) => r.status === 'done' && r.attempts === 1 && r.lease_owner === null)).toBe(true);
  });

  it('retries a handler that throws after the default backoff, then marks it done', async () => {
    const queue = new JobQueue(storeA, clock);
    const outcomes: string[] = [];
    let calls = 0;
    const w = worker(storeA, { onJobDone: (_job, outcome) => outcomes.push(outcome) }).handle('flaky', async (_p, { job }) => {
      calls++;
      if (job.attempts === 1) throw new Error('temporary failure');
    });
    const id = await queue.enqueue('flaky', {});
    w.start();

    await until(() => outcomes.length === 1, 5_000, 'first attempt');
    expect(outcomes).toEqual(['retry']);
    expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 1, last_error: 'temporary failure' });
    // Not run again before its backoff (10 s ± 20%) has passed.
    await sleep(100);
    expect(calls).toBe(1);

    clock.advance(13_000);
    await until(() => outcomes.length === 2, 5_000, 'second attempt');
    expect(outcomes).toEqual(['retry', 'done']);
    expect(calls).toBe(2);
    expect(await queue.get(id)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('honours RetryLater\'s delay, and dead-letters once attempts are used up', async () => {
    const queue = new JobQueue(storeA, clock);
    const outcomes: string[] = [];
    const w = worker(storeA, { onJobDone: (job, outcome) => outcomes.push(`${job.attempts}:${outcome}`) }).handle('greylisted', async () => {
      throw new RetryLater('451 try again later', 5 * 60_000);
    });
    const id = await queue.enqueue('greylisted', {}, { maxAttempts: 2 });
    const before = clock.now();
    w.start();

    await until(() => outcomes.length === 1, 5_000, 'first attempt');
    const row = (await queue.get(id))!;
    expect(row).toMatchObject({ status: 'queued', last_error: '451 try again later' });
    expect(row.run_at - before).toBeGreaterThanOrEqual(5 * 60_000);
    expect(row.run_at - before).toBeLessThan(5 * 60_000 + 5_000);

    clock.advance(4 * 60_000); // not yet
    await sleep(100);
    expect(outcomes).toEqual(['1:retry']);

    clock.advance(60_000 + 5_000);
    await until(() => outcomes.length === 2, 5_000, 'second attempt');
    expect(outcomes).toEqual(['1:retry', '2:dead']);
    expect(await queue.get(id)).toMatchObject({ status: 'dead', attempts: 2 });
    clock.advance(24 * 3_600_000);
    await sleep(100);
    expect(outcomes).toHaveLength(2);
  });

  it('keeps the lease of a job that runs longer than leaseMs by heartbeats', async () => {
    const queue = new JobQueue(storeA, clock);
    const release = gate();
    let started = false;
    const w = worker(storeA, { leaseMs: 300 }).handle('long', async () => {
      started = true;
      await release.opened;
    });
    const id = await queue.enqueue('long', {});
    w.start();
    await until(() => started, 5_000, 'job start');

    // Another node polls hard for a second, three lease lengths: it must never get the job.
    const thief = new JobQueue(storeB, clock);
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline) {
      expect(await thief.claim('thief', ['long'], 1, 300)).toEqual([]);
      await sleep(20);
    }
    release.open();
    await until(async () => (await queue.get(id))!.status === 'done', 5_000, 'job done');
    expect((await queue.get(id))!.attempts).toBe(1);
  });

  it('stop() waits for a running job to finish', async () => {
    const queue = new JobQueue(storeA, clock);
    const release = gate();
    let started = false;
    const w = worker(storeA).handle('slow', async () => {
      started = true;
      await release.opened;
    });
    const id = await queue.enqueue('slow', {});
    w.start();
    await until(() => started, 5_000, 'job start');

    let stopped = false;
    const stopping = w.stop(10_000).then(() => (stopped = true));
    await sleep(100);
    expect(stopped).toBe(false);
    expect((await queue.get(id))!.status).toBe('running');

    release.open();
    await stopping;
    expect(await queue.get(id)).toMatchObject({ status: 'done', lease_owner: null });

    // A stopped worker claims nothing more.
    const later = await queue.enqueue('slow', {});
    await sleep(100);
    expect((await queue.get(later))!.status).toBe('queued');
  });

  it('stop() past its timeout aborts the job and releases its lease, so another worker runs it', async () => {
    const queue = new JobQueue(storeA, clock);
    const hung = gate();
    let firstSignal: AbortSignal | undefined;
    const a = worker(storeA).handle('stuck', async (_p, { signal }) => {
      firstSignal = signal;
      await hung.opened; // ignores the abort: a handler stuck in I/O
    });
    const id = await queue.enqueue('stuck', { n: 1 });
    a.start();
    await until(() => firstSignal !== undefined, 5_000, 'job start');

    await a.stop(200);
    expect(firstSignal!.aborted).toBe(true);
    // Back in the queue at once, the attempt not counted, no lease.
    expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 0, lease_owner: null, lease_expires_at: null });

    const ranBy: string[] = [];
    const b = worker(storeB).handle('stuck', async () => {
      ranBy.push('b');
    });
    b.start();
    await until(async () => (await queue.get(id))!.status === 'done', 5_000, 'job done by b');
    expect(ranBy).toEqual(['b']);

    // The first handler finally returns: its late complete() must not touch the row.
    const doneRow = (await queue.get(id))!;
    hung.open();
    await sleep(50);
    expect(await queue.get(id)).toEqual(doneRow);
  });
});
