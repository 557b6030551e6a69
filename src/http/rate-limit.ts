// API rate limits per workspace, in Resend's terms: every /v1 response of an identified caller
// carries `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (seconds until the
// window ends); past the limit the answer is 429 `rate_limit_exceeded` with `retry-after`.
//
// Implementation notes:
// - The counters are in this process's memory: a fixed window per workspace that starts at the
//   workspace's first request after the previous window ended. That is exact for one node. With
//   several nodes behind a balancer each node counts on its own, so a workspace gets up to
//   (nodes × limit) per window; a shared window (a DB or Redis counter) is the change to make then.
// - Time comes from core.clock, so a test can move to the next window with a ManualClock.
// - The hook runs after authentication (it needs the workspace) and before validation and the
//   handler, so a refused request costs nothing but this check. Callers that are not identified
//   (401) are not counted here; failed sign-ins have their own throttle.
// - Cookie sessions (the web app) are counted per session, not with the workspace's API keys.
// - The table of windows is swept of ended windows when it grows, so it stays bounded by the
//   number of workspaces active within one window.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core/core.ts';
import { sendError } from './errors.ts';

interface Window {
  startedAt: number;
  count: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Counts one request of `key` at `now`; says whether it is allowed and what the headers say. */
  take(key: string, now: number): { allowed: boolean; remaining: number; resetMs: number } {
    let w = this.windows.get(key);
    if (!w || now - w.startedAt >= this.windowMs || now < w.startedAt) {
      if (this.windows.size > 10_000) this.sweep(now);
      w = { startedAt: now, count: 0 };
      this.windows.set(key, w);
    }
    const resetMs = w.startedAt + this.windowMs - now;
    if (w.count >= this.limit) return { allowed: false, remaining: 0, resetMs };
    w.count++;
    return { allowed: true, remaining: this.limit - w.count, resetMs };
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.startedAt >= this.windowMs) this.windows.delete(k);
  }
}

/** An onRequest hook (register after the auth hook); a no-op when MAILSTACK_API_RATE_LIMIT=0. */
export function rateLimitHook(core: Core) {
  const setting = core.settings.apiRateLimit;
  const limiter = setting ? new RateLimiter(setting.limit, setting.windowMs) : null;
  return async function rateLimit(request: FastifyRequest, reply: FastifyReply) {
    if (!limiter || !request.principal || !request.url.startsWith('/v1/')) return;
    // API keys share their workspace's window (Resend's limit); a signed-in person in the web app
    // has a window of their own, so one busy browser or script does not lock out the others.
    const key = request.session ? `session:${request.session.id}` : request.principal.workspaceId;
    const r = limiter.take(key, core.clock.now());
    const resetSeconds = Math.max(1, Math.ceil(r.resetMs / 1000));
    reply.header('ratelimit-limit', String(limiter.limit));
    reply.header('ratelimit-remaining', String(r.remaining));
    reply.header('ratelimit-reset', String(resetSeconds));
    if (!r.allowed) {
      reply.header('retry-after', String(resetSeconds));
      const per = limiter.windowMs === 1000 ? 'second' : `${limiter.windowMs / 1000} seconds`;
      return sendError(reply, 429, 'rate_limit_exceeded', `Too many requests. You can only make ${limiter.limit} requests per ${per}. Try again in ${resetSeconds} second${resetSeconds === 1 ? '' : 's'}.`);
    }
  };
}
