// Housekeeping removes what is spent and only that: done jobs older than a week, sign-in links a day
// past expiry, sessions expired (a day) or revoked (30 days), idle login throttles; and it runs as a
// scheduled job through the scheduler and a worker.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import type { Core } from '../core/core.ts';
import { type Store, openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { HOUSEKEEPING_JOB, registerHousekeeping, runHousekeeping } from './housekeeping.ts';
import { JobQueue } from './queue.ts';
import { Scheduler } from './scheduler.ts';
import { Worker } from './worker.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const log = pino({ level: 'silent' });
let tdb: TestDatabase;
let store: Store;
let clock: ManualClock;
let core: Core;

beforeAll(async () => {
  tdb = await createTestDatabase();
  store = openStore(tdb.url);
  await migrateToLatest(store.db);
  clock = new ManualClock();
  // runHousekeeping needs only these parts of the core.
  core = { store, db: store.db, clock, jobs: new JobQueue(store, clock), log } as unknown as Core;
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});

describe('housekeeping', () => {
  it('deletes spent rows and keeps live ones', async () => {
    const now = clock.now();
    await store.db.insertInto('users').values({ id: 'u1', email: 'u1@example.com', name: null, password_hash: null, created_at: now, updated_at: now, disabled_at: null }).execute();

    // Jobs: one done 8 days ago (purged), one done 6 days ago, one queued and one dead (kept).
    const job = (id: string, status: 'done' | 'queued' | 'dead', updated: number) => ({
      id, kind: 'k', payload: '{}', status, run_at: updated, attempts: 1, max_attempts: 3, lease_owner: null,
      lease_expires_at: null, last_error: null, unique_key: null, created_at: updated, updated_at: updated,
    });
    await store.db.insertInto('jobs').values([
      job('done-old', 'done', now - 8 * DAY),
      job('done-recent', 'done', now - 6 * DAY),
      job('queued-old', 'queued', now - 30 * DAY),
      job('dead-old', 'dead', now - 30 * DAY),
    ]).execute();

    const link = (id: string, expires: number) => ({ id, token_hash: `h-${id}`, user_id: 'u1', ip: null, created_at: now - 2 * DAY, expires_at: expires, used_at: null });
    await store.db.insertInto('magic_links').values([link('l-old', now - 2 * DAY), link('l-live', now + 10 * 60_000)]).execute();

    const session = (id: string, expires: number, revoked: number | null) => ({
      id, token_hash: `h-${id}`, user_id: 'u1', workspace_id: null, ip: null, user_agent: null, created_at: now - 40 * DAY,
      last_seen_at: now - DAY, expires_at: expires, revoked_at: revoked,
    });
    await store.db.insertInto('sessions').values([
      session('s-expired', now - 2 * DAY, null),
      session('s-revoked-long-ago', now + 10 * DAY, now - 31 * DAY),
      session('s-revoked-recently', now + 10 * DAY, now - DAY),
      session('s-live', now + 10 * DAY, null),
    ]).execute();

    await store.db.insertInto('login_throttle').values([
      { key: 'idle', failures: 3, window_started_at: now - 2 * DAY, locked_until: null },
      { key: 'still-locked', failures: 9, window_started_at: now - 2 * DAY, locked_until: now + HOUR },
      { key: 'fresh', failures: 1, window_started_at: now - HOUR, locked_until: null },
    ]).execute();

    expect(await runHousekeeping(core)).toEqual({ jobs: 1, magic_links: 1, sessions: 2, login_throttle: 1 });
    const ids = async (table: 'jobs' | 'magic_links' | 'sessions') =>
      (await store.db.selectFrom(table).select('id').execute()).map((r) => r.id).sort();
    expect(await ids('jobs')).toEqual(['dead-old', 'done-recent', 'queued-old']);
    expect(await ids('magic_links')).toEqual(['l-live']);
    expect(await ids('sessions')).toEqual(['s-live', 's-revoked-recently']);
    expect((await store.db.selectFrom('login_throttle').select('key').execute()).map((r) => r.key).sort()).toEqual(['fresh', 'still-locked']);

    // Nothing left to do on a second run.
    expect(await runHousekeeping(core)).toEqual({ jobs: 0, magic_links: 0, sessions: 0, login_throttle: 0 });
  });

  it('runs hourly as a scheduled job through the worker', async () => {
    const scheduler = new Scheduler(store, core.jobs, clock, log, HOUR);
    const outcomes: string[] = [];
    const w = new Worker(core.jobs, { concurrency: 1, pollMs: 10, leaseMs: 30_000, log, onJobDone: (j, o) => outcomes.push(`${j.kind}:${o}`) });
    registerHousekeeping(core, w, scheduler);
    try {
      await scheduler.start();
      w.start();
      const deadline = Date.now() + 10_000;
      while (outcomes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(outcomes).toEqual([`${HOUSEKEEPING_JOB}:done`]);
      const row = await store.db.selectFrom('schedules').selectAll().where('name', '=', HOUSEKEEPING_JOB).executeTakeFirstOrThrow();
      expect(row.interval_ms).toBe(HOUR);
    } finally {
      scheduler.stop();
      await w.stop(1_000);
    }
  });
});
