// Runs jobs from the queue: polls for due jobs of the kinds it has handlers for, runs up to
// `concurrency` at once, extends each lease while its handler runs, and on stop() finishes what is
// running (until the shutdown timeout) and releases the rest so another node picks them up.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { randomToken } from '../core/ids.ts';
import type { ClaimedJob, JobQueue } from './queue.ts';

export interface JobContext {
  job: ClaimedJob;
  /** Aborted when the worker is stopping and the job should give up early if it can. */
  signal: AbortSignal;
}

/** Thrown by a handler to ask for a retry after a specific delay rather than the default backoff. */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

export type JobHandler = (payload: any, ctx: JobContext) => Promise<void>;

export interface WorkerOptions {
  concurrency: number;
  pollMs: number;
  leaseMs: number;
  log: Logger;
  /** Called when a job ends, with how long its handler ran (seconds). */
  onJobDone?: (job: ClaimedJob, outcome: 'done' | 'retry' | 'dead', seconds: number) => void;
}

export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomToken(8)}`;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly running = new Map<string, { promise: Promise<void>; abort: AbortController }>();
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly queue: JobQueue,
    private readonly opts: WorkerOptions,
  ) {}

  handle(kind: string, handler: JobHandler): this {
    this.handlers.set(kind, handler);
    return this;
  }

  start(): void {
    if (this.opts.concurrency === 0) return;
    this.stopping = false;
    this.schedule(0);
  }

  /** Polls at once instead of waiting for the next tick (after an enqueue in this process). */
  nudge(): void {
    if (this.timer && !this.stopping) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll().finally(() => {
        this.polling = null;
        // poll() may have asked for an immediate re-poll (a full batch); do not push it back.
        if (!this.stopping && !this.timer) this.schedule(this.opts.pollMs);
      });
    }, ms);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    const free = this.opts.concurrency - this.running.size;
    if (free <= 0) return;
    let jobs: ClaimedJob[];
    try {
      jobs = await this.queue.claim(this.id, [...this.handlers.keys()], free, this.opts.leaseMs);
    } catch (err) {
      this.opts.log.error({ err }, 'job claim failed');
      return;
    }
    for (const job of jobs) this.run(job);
    // A full batch suggests more are waiting: poll again straight after.
    if (jobs.length === free && !this.stopping) this.schedule(0);
  }

  private run(job: ClaimedJob): void {
    const abort = new AbortController();
    // Beat well inside the lease: a floor of one second here once let a lease of a second or less
    // run out before the first beat, and another worker took the job while it was still running.
    const beat = setInterval(() => {
      this.queue.heartbeat(job.id, this.id, this.opts.leaseMs).catch(() => {});
    }, Math.max(50, this.opts.leaseMs / 3));
    const promise = (async () => {
      const log = this.opts.log.child({ job: job.id, kind: job.kind, attempt: job.attempts });
      let outcome: 'done' | 'retry' | 'dead';
      const started = performance.now();
      try {
        await this.handlers.get(job.kind)!(job.payload, { job, signal: abort.signal });
        await this.queue.complete(job.id, this.id);
        outcome = 'done';
      } catch (err) {
        if (abort.signal.aborted && this.stopping) {
          await this.queue.release(job.id, this.id).catch(() => {});
          return;
        }
        const delay = err instanceof RetryLater ? err.delayMs : undefined;
        outcome = await this.queue.fail(job, this.id, err, delay).catch(() => 'retry' as const);
        log[outcome === 'dead' ? 'error' : 'warn']({ err }, outcome === 'dead' ? 'job failed for good' : 'job failed; will retry');
      } finally {
        clearInterval(beat);
        this.running.delete(job.id);
      }
      this.opts.onJobDone?.(job, outcome, (performance.now() - started) / 1000);
      if (!this.stopping) this.nudge();
    })();
    this.running.set(job.id, { promise, abort });
  }

  /** Stops claiming, waits up to `timeoutMs` for running jobs, then releases the leases of the rest. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    const all = Promise.all([...this.running.values()].map((r) => r.promise));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const [id, r] of this.running) {
        r.abort.abort();
        await this.queue.release(id, this.id).catch(() => {});
      }
    }
  }

  get busy(): number {
    return this.running.size;
  }
}
