// Periodic jobs. Each schedule is a row (name, interval, next_run_at); every node ticks, and the
// node whose conditional UPDATE moves next_run_at forward is the one that enqueues the job, so a
// schedule fires once per interval however many nodes run.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Store } from '../db/database.ts';
import type { JobQueue } from './queue.ts';

export interface Periodic {
  /** Schedule name; also the job kind it enqueues. */
  name: string;
  intervalMs: number;
}

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private readonly periodic: Periodic[] = [];

  constructor(
    private readonly store: Store,
    private readonly queue: JobQueue,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly tickMs = 5000,
  ) {}

  every(name: string, intervalMs: number): this {
    this.periodic.push({ name, intervalMs });
    return this;
  }

  async start(): Promise<void> {
    const now = this.clock.now();
    for (const p of this.periodic) {
      await this.store.db
        .insertInto('schedules')
        .values({ name: p.name, interval_ms: p.intervalMs, next_run_at: now, last_run_at: null })
        .onConflict((oc) => oc.column('name').doUpdateSet({ interval_ms: p.intervalMs }))
        .execute();
    }
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref?.();
  }

  /** Enqueues every schedule that is due; returns the names fired. */
  async tick(): Promise<string[]> {
    const now = this.clock.now();
    const fired: string[] = [];
    try {
      const due = await this.store.db
        .selectFrom('schedules')
        .selectAll()
        .where('name', 'in', this.periodic.length ? this.periodic.map((p) => p.name) : [''])
        .where('next_run_at', '<=', now)
        .execute();
      for (const s of due) {
        const won = await this.store.transaction(async (tx) => {
          const r = await tx
            .updateTable('schedules')
            .set({ next_run_at: now + s.interval_ms, last_run_at: now })
            .where('name', '=', s.name)
            .where('next_run_at', '=', s.next_run_at)
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) === 0) return false;
          await this.queue.enqueue(s.name, { scheduledAt: now }, { maxAttempts: 3, uniqueKey: `schedule:${s.name}` }, tx);
          return true;
        });
        if (won) fired.push(s.name);
      }
    } catch (err) {
      this.log.error({ err }, 'scheduler tick failed');
    }
    return fired;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
