// Two Scheduler instances (two nodes) on one schedule: it fires once per interval, however many
// tick, and each firing lands in the queue as a job of the schedule's kind. Time moves by a ManualClock.
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { type Store, openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { JobQueue } from './queue.ts';
import { Scheduler } from './scheduler.ts';

const log = pino({ level: 'silent' });
const MINUTE = 60_000;
let tdb: TestDatabase;
let storeA: Store;
let storeB: Store;
let clock: ManualClock;
const schedulers: Scheduler[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  storeA = openStore(tdb.url);
  await migrateToLatest(storeA.db);
  // On PostgreSQL the second node gets its own connection pool. On SQLite both share one connection:
  // two better-sqlite3 connections in one thread cannot wait for each other's write lock (the busy
  // handler blocks the thread the other one needs), which separate processes never have to do.
  storeB = tdb.url.startsWith('postgres') ? openStore(tdb.url) : storeA;
});
afterAll(async () => {
  for (const s of schedulers) s.stop();
  await storeA?.close();
  if (storeB !== storeA) await storeB?.close();
  await tdb?.drop();
});
beforeEach(async () => {
  await storeA.db.deleteFrom('jobs').execute();
  await storeA.db.deleteFrom('schedules').execute();
  clock = new ManualClock();
});

function node(store: Store): { scheduler: Scheduler; queue: JobQueue } {
  const queue = new JobQueue(store, clock);
  // A tick period far longer than a test: ticks happen only when the test calls tick().
  const scheduler = new Scheduler(store, queue, clock, log, 3_600_000);
  schedulers.push(scheduler);
  return { scheduler, queue };
}

describe('Scheduler', () => {
  it('fires a schedule once per interval across two nodes, and the job lands in the queue', async () => {
    const a = node(storeA);
    const b = node(storeB);
    a.scheduler.every('report.hourly', 10 * MINUTE);
    b.scheduler.every('report.hourly', 10 * MINUTE);
    // Both start (each ticks once): the schedule is due at once and fires once.
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);

    const jobs = () => storeA.db.selectFrom('jobs').selectAll().where('kind', '=', 'report.hourly').orderBy('id').execute();
    expect(await jobs()).toHaveLength(1);
    expect((await jobs())[0]).toMatchObject({ status: 'queued', max_attempts: 3 });

    // Within the interval nothing fires, however often either node ticks.
    clock.advance(5 * MINUTE);
    expect([...(await a.scheduler.tick()), ...(await b.scheduler.tick())]).toEqual([]);

    // Each interval fires exactly once, with both nodes ticking at the same moment.
    for (let round = 1; round <= 3; round++) {
      // The previous firing's job is run and done, so the next one is not folded into it.
      const [job] = await a.queue.claim('w', ['report.hourly'], 1, MINUTE);
      expect(job.payload).toMatchObject({ scheduledAt: expect.any(Number) });
      await a.queue.complete(job.id, 'w');

      clock.advance(10 * MINUTE);
      const fired = await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
      expect(fired.flat()).toEqual(['report.hourly']);
      const all = await jobs();
      expect(all).toHaveLength(1 + round);
      expect(all.filter((j) => j.status === 'queued')).toHaveLength(1);
    }

    const row = await storeA.db.selectFrom('schedules').selectAll().where('name', '=', 'report.hourly').executeTakeFirstOrThrow();
    expect(row.interval_ms).toBe(10 * MINUTE);
    expect(row.next_run_at).toBe(row.last_run_at! + 10 * MINUTE);
  });

  it('does not pile up copies while the previous firing has not run yet', async () => {
    const a = node(storeA);
    a.scheduler.every('cleanup', MINUTE);
    await a.scheduler.start();
    for (let i = 0; i < 3; i++) {
      clock.advance(MINUTE);
      expect(await a.scheduler.tick()).toEqual(['cleanup']);
    }
    // Fired on every interval, but one job waits for the slow worker, not four.
    const queued = await storeA.db.selectFrom('jobs').select('id').where('kind', '=', 'cleanup').execute();
    expect(queued).toHaveLength(1);
  });

  it('ticks only the schedules it registered, and a later start keeps the schedule\'s timing', async () => {
    const a = node(storeA);
    a.scheduler.every('mine', MINUTE);
    await a.scheduler.start();
    const b = node(storeB);
    b.scheduler.every('theirs', MINUTE);
    await b.scheduler.start();
    clock.advance(MINUTE);
    expect(await a.scheduler.tick()).toEqual(['mine']);
    expect(await b.scheduler.tick()).toEqual(['theirs']);

    // A node that starts later (a restart) with the same schedule does not fire it early.
    const schedule = () => storeA.db.selectFrom('schedules').selectAll().where('name', '=', 'mine').executeTakeFirstOrThrow();
    const before = await schedule();
    const c = node(storeB);
    c.scheduler.every('mine', MINUTE);
    await c.scheduler.start();
    expect(await schedule()).toEqual(before);
    expect(await c.scheduler.tick()).toEqual([]);
  });
});
