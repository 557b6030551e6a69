// The durable job queue: one `jobs` table that every node shares.
//
// Implementation notes:
// - A claim is one statement that flips due rows to `running` with a lease, so two workers never
//   hold the same job: PostgreSQL picks rows with FOR UPDATE SKIP LOCKED; SQLite has one writer at
//   a time, so its UPDATE … WHERE id IN (SELECT …) is atomic across processes.
// - A job is due when it is queued and its run_at has come, or when it is running and its lease
//   has expired (its worker died). Handlers must therefore be idempotent: at-least-once delivery.
// - Every state change after a claim checks lease_owner, so a worker whose lease was taken over
//   cannot overwrite the new owner's result.
// - A failed job waits retryDelay(attempts) and goes to `dead` after max_attempts: kept for people
//   to look at, never run again by itself. So does a job whose lease expires on its last attempt.
import { sql } from 'kysely';
import type { Clock } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import type { Db, Store } from '../db/database.ts';
import type { JobsTable } from '../db/schema.ts';

export interface EnqueueOptions {
  /** Earliest time to run (epoch ms); default now. */
  runAt?: number;
  maxAttempts?: number;
  /** At most one live job per key: enqueueing a duplicate returns the existing job's id. */
  uniqueKey?: string;
}

export interface ClaimedJob {
  id: string;
  kind: string;
  payload: unknown;
  attempts: number;
  maxAttempts: number;
}

export type JobRow = JobsTable;

/** Backoff: 10 s, 20 s, 40 s … capped at one hour, with ±20% jitter so retries do not stampede. */
export function retryDelay(attempt: number): number {
  const base = Math.min(3_600_000, 10_000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export class JobQueue {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Adds a job. Pass `db` to enqueue inside the caller's transaction. */
  async enqueue(kind: string, payload: unknown, opts: EnqueueOptions = {}, db: Db = this.store.db): Promise<string> {
    const now = this.clock.now();
    const id = newId(now);
    const row = {
      id,
      kind,
      payload: JSON.stringify(payload ?? null),
      status: 'queued' as const,
      run_at: opts.runAt ?? now,
      attempts: 0,
      max_attempts: opts.maxAttempts ?? 10,
      lease_owner: null,
      lease_expires_at: null,
      last_error: null,
      unique_key: opts.uniqueKey ?? null,
      created_at: now,
      updated_at: now,
    };
    if (!opts.uniqueKey) {
      await db.insertInto('jobs').values(row).execute();
      return id;
    }
    // The holder of the key may finish (freeing it) between our insert and our look-up: try again.
    for (let tries = 0; ; tries++) {
      const inserted = await db
        .insertInto('jobs')
        .values(row)
        .onConflict((oc) => oc.column('unique_key').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) return inserted.id;
      const existing = await db.selectFrom('jobs').select('id').where('unique_key', '=', opts.uniqueKey).executeTakeFirst();
      if (existing) return existing.id;
      if (tries >= 3) throw new Error(`could not enqueue ${kind} with unique key ${opts.uniqueKey}`);
    }
  }

  /** Claims up to `limit` due jobs of the given kinds for `owner`, leasing them for `leaseMs`. */
  async claim(owner: string, kinds: string[], limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    const now = this.clock.now();
    const due = (db: Db) =>
      db
        .selectFrom('jobs')
        .select('id')
        .where('kind', 'in', kinds)
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'queued'), eb('run_at', '<=', now)]),
            eb.and([
              eb('status', '=', 'running'),
              eb('lease_expires_at', '<', now),
              eb('attempts', '<', eb.ref('max_attempts')),
            ]),
          ]),
        )
        .orderBy('run_at')
        .limit(limit);
    // A lease that ran out on the last allowed attempt means the worker died on every try (a job
    // that crashes or hangs its process): dead-letter it, or it would go round the cluster forever.
    await this.store.db
      .updateTable('jobs')
      .set({
        status: 'dead',
        lease_owner: null,
        lease_expires_at: null,
        unique_key: null,
        last_error: 'lease expired on the last attempt (the worker died or hung)',
        updated_at: now,
      })
      .where('kind', 'in', kinds)
      .where('status', '=', 'running')
      .where('lease_expires_at', '<', now)
      .where((eb) => eb('attempts', '>=', eb.ref('max_attempts')))
      .execute();
    const picked =
      this.store.dialect === 'postgres'
        ? due(this.store.db).forUpdate().skipLocked()
        : due(this.store.db);
    const rows = await this.store.db
      .updateTable('jobs')
      .set({
        status: 'running',
        lease_owner: owner,
        lease_expires_at: now + leaseMs,
        attempts: sql`attempts + 1`,
        updated_at: now,
      })
      .where('id', 'in', picked)
      .returning(['id', 'kind', 'payload', 'attempts', 'max_attempts'])
      .execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      payload: JSON.parse(r.payload),
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
    }));
  }

  /** Extends the lease of a job this owner still holds; false when the lease was lost. */
  async heartbeat(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    const r = await this.store.db
      .updateTable('jobs')
      .set({ lease_expires_at: now + leaseMs, updated_at: now })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async complete(id: string, owner: string): Promise<void> {
    await this.store.db
      .updateTable('jobs')
      .set({ status: 'done', lease_owner: null, lease_expires_at: null, unique_key: null, updated_at: this.clock.now() })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  }

  /** Records a failure: retried after a backoff, or dead once attempts are used up. */
  async fail(job: ClaimedJob, owner: string, error: unknown, retryInMs?: number): Promise<'retry' | 'dead'> {
    const now = this.clock.now();
    const message = error instanceof Error ? error.message : String(error);
    const dead = job.attempts >= job.maxAttempts;
    await this.store.db
      .updateTable('jobs')
      .set({
        status: dead ? 'dead' : 'queued',
        run_at: dead ? now : now + (retryInMs ?? retryDelay(job.attempts)),
        last_error: message.slice(0, 2000),
        lease_owner: null,
        lease_expires_at: null,
        unique_key: dead ? null : undefined,
        updated_at: now,
      })
      .where('id', '=', job.id)
      .where('lease_owner', '=', owner)
      .execute();
    return dead ? 'dead' : 'retry';
  }

  /** Gives a claimed job back untouched (used at shutdown): it runs again at once elsewhere. */
  async release(id: string, owner: string): Promise<void> {
    await this.store.db
      .updateTable('jobs')
      .set({ status: 'queued', attempts: sql`attempts - 1`, lease_owner: null, lease_expires_at: null, updated_at: this.clock.now() })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .execute();
  }

  async get(id: string): Promise<JobRow | undefined> {
    return this.store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Job counts by status, for /metrics. */
  async depth(): Promise<Record<string, number>> {
    const rows = await this.store.db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', '!=', 'done')
      .groupBy('status')
      .execute();
    const out: Record<string, number> = { queued: 0, running: 0, dead: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /** Deletes finished jobs older than `olderThanMs`. */
  async purgeDone(olderThanMs: number): Promise<number> {
    const r = await this.store.db
      .deleteFrom('jobs')
      .where('status', '=', 'done')
      .where('updated_at', '<', this.clock.now() - olderThanMs)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
