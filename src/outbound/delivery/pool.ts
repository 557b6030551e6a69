// Connection reuse and a per-destination concurrency limit for outbound SMTP.
//
// - A destination is one MX host (or the smarthost) with a port and TLS policy. At most `max`
//   sessions to it are open at once, busy or idle; a caller that finds them all busy waits its
//   turn (first come, first served), which is the per-destination concurrency limit.
// - A session handed back after a transaction waits idle for the next message; before it carries
//   another one it gets an RSET (RFC 5321 §4.1.1.5), and if that fails it is thrown away and a new
//   one opened. Idle sessions are closed with QUIT after `idleMs` (Postfix keeps them 2 s), and
//   after `maxMessages` a session is retired so one connection never lives forever.
// - A waiting caller gives up when its AbortSignal fires (the worker is stopping).
import { type SessionOptions, SmtpSession, type SmtpTarget } from './smtp-client.ts';

export interface PoolOptions {
  /** Sessions per destination, busy or idle. */
  max: number;
  idleMs: number;
  maxMessages: number;
}

interface Destination {
  idle: { session: SmtpSession; timer: NodeJS.Timeout }[];
  /** Sessions open or being opened, idle or not. */
  count: number;
  waiters: { wake: () => void; signal?: AbortSignal }[];
}

export interface PoolStats {
  opened: number;
  reused: number;
}

export class SmtpPool {
  private readonly destinations = new Map<string, Destination>();
  private closed = false;
  readonly stats: PoolStats = { opened: 0, reused: 0 };

  constructor(
    private readonly session: SessionOptions,
    private readonly opts: PoolOptions,
  ) {}

  private dest(key: string): Destination {
    let d = this.destinations.get(key);
    if (!d) this.destinations.set(key, (d = { idle: [], count: 0, waiters: [] }));
    return d;
  }

  static keyOf(t: SmtpTarget): string {
    return `${t.host}|${t.port}|${t.servername ?? ''}|${t.secure ? 'tls' : 'plain'}|${t.tls}|${t.auth?.user ?? ''}`;
  }

  /**
   * Runs `use` with a session to `target`: an idle one after RSET, or a new one. The session goes
   * back to the pool if `use` leaves it healthy, and is closed otherwise.
   */
  async with<T>(target: SmtpTarget, use: (s: SmtpSession, reused: boolean) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const key = SmtpPool.keyOf(target);
    const { session, reused } = await this.acquire(key, target, signal);
    try {
      return await use(session, reused);
    } finally {
      this.release(key, session);
    }
  }

  private async acquire(key: string, target: SmtpTarget, signal?: AbortSignal): Promise<{ session: SmtpSession; reused: boolean }> {
    const d = this.dest(key);
    for (;;) {
      if (this.closed) throw new Error('the SMTP pool is closed');
      signal?.throwIfAborted();
      // An idle session first: RSET it, or drop it and look again.
      while (d.idle.length) {
        const { session, timer } = d.idle.pop()!;
        clearTimeout(timer);
        try {
          await session.reset();
          this.stats.reused++;
          return { session, reused: true };
        } catch {
          session.close();
          d.count--;
        }
      }
      if (d.count < this.opts.max) {
        d.count++;
        try {
          const session = await SmtpSession.open(target, this.session);
          this.stats.opened++;
          return { session, reused: false };
        } catch (err) {
          d.count--;
          this.wakeOne(d);
          throw err;
        }
      }
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          signal,
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          d.waiters.splice(d.waiters.indexOf(waiter), 1);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        d.waiters.push(waiter);
      });
    }
  }

  private release(key: string, session: SmtpSession): void {
    const d = this.dest(key);
    if (this.closed || session.broken || session.messages >= this.opts.maxMessages) {
      session.close();
      d.count--;
    } else {
      const timer = setTimeout(() => {
        const i = d.idle.findIndex((e) => e.session === session);
        if (i >= 0) {
          d.idle.splice(i, 1);
          session.close();
          d.count--;
          this.wakeOne(d);
        }
      }, this.opts.idleMs);
      timer.unref();
      d.idle.push({ session, timer });
    }
    this.wakeOne(d);
  }

  private wakeOne(d: Destination): void {
    d.waiters.shift()?.wake();
  }

  /** Closes every idle session (QUIT); busy ones close when handed back. */
  close(): void {
    this.closed = true;
    for (const d of this.destinations.values()) {
      for (const { session, timer } of d.idle.splice(0)) {
        clearTimeout(timer);
        session.close();
        d.count--;
      }
      for (const w of d.waiters.splice(0)) w.wake();
    }
  }
}
