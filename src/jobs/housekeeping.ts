// Periodic upkeep of the foundation's own tables: finished jobs, spent sign-in links, expired
// sessions and stale login throttles. Other parts register their own retention jobs beside these.
import type { Core } from '../core/core.ts';
import type { Scheduler } from './scheduler.ts';
import type { Worker } from './worker.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const HOUSEKEEPING_JOB = 'housekeeping.foundation';

export async function runHousekeeping(core: Core): Promise<Record<string, number>> {
  const now = core.clock.now();
  const jobs = await core.jobs.purgeDone(7 * DAY);
  const links = await core.db.deleteFrom('magic_links').where('expires_at', '<', now - DAY).executeTakeFirst();
  const sessions = await core.db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<', now - DAY), eb('revoked_at', '<', now - 30 * DAY)]))
    .executeTakeFirst();
  const throttles = await core.db
    .deleteFrom('login_throttle')
    .where('window_started_at', '<', now - DAY)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .executeTakeFirst();
  return {
    jobs,
    magic_links: Number(links.numDeletedRows),
    sessions: Number(sessions.numDeletedRows),
    login_throttle: Number(throttles.numDeletedRows),
  };
}

export function registerHousekeeping(core: Core, worker: Worker, scheduler: Scheduler): void {
  scheduler.every(HOUSEKEEPING_JOB, HOUR);
  worker.handle(HOUSEKEEPING_JOB, async () => {
    const removed = await runHousekeeping(core);
    core.log.info({ removed }, 'housekeeping done');
  });
}
