// Failed-login throttling, kept in the database so every node and door (HTTP, IMAP, POP3, SMTP
// AUTH) shares one count. Two keys count each failure: the account and the client IP. Reaching
// the limit locks that key for the lockout period; a success clears the account's count.
//
// A password check is slow (argon2id), so a door counts the attempt *before* checking it
// (beginAttempt), atomically: otherwise many attempts sent at once would all pass the check while
// none had failed yet, and the limit would not hold. After the check it calls attemptFailed or
// attemptSucceeded. Every count is one statement (an upsert that adds one), never read-then-write.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import type { Db } from '../db/database.ts';

export function throttleKeys(account: string | null, ip: string | null): { key: string; max: (c: Core) => number }[] {
  const keys: { key: string; max: (c: Core) => number }[] = [];
  if (account) keys.push({ key: `account:${account}`, max: (c) => c.settings.loginMaxFailures });
  if (ip) keys.push({ key: `ip:${ip}`, max: (c) => c.settings.loginIpMaxFailures });
  return keys;
}

function tooMany(seconds: number): CoreError {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const message = `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  return new CoreError(429, 'rate_limit_exceeded', message, Math.max(1, seconds));
}

/** Throws 429 rate_limit_exceeded when the account or IP is locked out. */
export async function assertNotLocked(core: Core, account: string | null, ip: string | null): Promise<void> {
  const now = core.clock.now();
  const keys = throttleKeys(account, ip).map((k) => k.key);
  if (keys.length === 0) return;
  const rows = await core.db.selectFrom('login_throttle').selectAll().where('key', 'in', keys).execute();
  const until = Math.max(0, ...rows.map((r) => r.locked_until ?? 0));
  if (until > now) throw tooMany(Math.ceil((until - now) / 1000));
}

/** Adds one to a key's count in one statement; a new window starts when the old one, or its lock, has passed. */
async function bump(core: Core, db: Db, key: string, now: number) {
  const window = core.settings.loginLockoutMs;
  const fresh = sql<boolean>`(${now} - login_throttle.window_started_at > ${window} or (login_throttle.locked_until is not null and login_throttle.locked_until <= ${now}))`;
  return db
    .insertInto('login_throttle')
    .values({ key, failures: 1, window_started_at: now, locked_until: null })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        failures: sql<number>`case when ${fresh} then 1 else login_throttle.failures + 1 end`,
        window_started_at: sql<number>`case when ${fresh} then ${now} else login_throttle.window_started_at end`,
        locked_until: sql<number | null>`case when ${fresh} then null else login_throttle.locked_until end`,
      }),
    )
    .returning(['failures', 'window_started_at', 'locked_until'])
    .executeTakeFirstOrThrow();
}

/** Locks a key whose count has reached its limit (and is not locked yet). */
async function lockIfAtLimit(core: Core, db: Db, key: string, max: number, now: number) {
  await db
    .updateTable('login_throttle')
    .set({ locked_until: now + core.settings.loginLockoutMs })
    .where('key', '=', key)
    .where('failures', '>=', max)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
    .execute();
}

/** How long an attempt waits for others of the same key still being checked (see beginAttempt). */
const SETTLE_WAIT_MS = 10;
const SETTLE_TRIES = 300;

/**
 * Counts an attempt before its credentials are checked. Throws 429 when a key is locked, or when
 * attempts already counted (failed or still being checked) use up the limit. Attempts still being
 * checked are not failures: when they alone put a key over its limit (no lock yet), this attempt
 * takes its count back and waits for them to settle, so that several right logins arriving together
 * (a mail client opening connections; imaptest's stress mode) are not refused for failures that never
 * happened, while a burst of guesses still has no more than the limit checked (the first failures
 * lock the key, and the waiting attempts then meet the lock).
 */
export async function beginAttempt(core: Core, account: string | null, ip: string | null): Promise<void> {
  for (let tries = 0; ; tries++) {
    await assertNotLocked(core, account, ip);
    const now = core.clock.now();
    const counted: string[] = [];
    let over: number | null = null;
    for (const { key, max } of throttleKeys(account, ip)) {
      const row = await bump(core, core.db, key, now);
      counted.push(key);
      if (row.locked_until !== null && row.locked_until > now) throw tooMany(Math.ceil((row.locked_until - now) / 1000));
      if (row.failures > max(core)) {
        over = Math.ceil((row.window_started_at + core.settings.loginLockoutMs - now) / 1000);
        break;
      }
    }
    if (over === null) return;
    if (tries >= SETTLE_TRIES) throw tooMany(over);
    await core.db.updateTable('login_throttle').set({ failures: sql<number>`failures - 1` }).where('key', 'in', counted).where('failures', '>', 0).execute();
    await sleep(SETTLE_WAIT_MS);
  }
}

/** The attempt begun with beginAttempt failed: lock each key whose count has reached its limit. */
export async function attemptFailed(core: Core, account: string | null, ip: string | null): Promise<void> {
  const now = core.clock.now();
  for (const { key, max } of throttleKeys(account, ip)) await lockIfAtLimit(core, core.db, key, max(core), now);
}

/** The attempt begun with beginAttempt succeeded: the account starts afresh; the IP's count drops by this attempt. */
export async function attemptSucceeded(core: Core, account: string, ip: string | null): Promise<void> {
  await recordSuccess(core, account);
  if (ip) {
    await core.db
      .updateTable('login_throttle')
      .set({ failures: sql<number>`failures - 1` })
      .where('key', '=', `ip:${ip}`)
      .where('failures', '>', 0)
      .execute();
  }
}

/** Counts one failure that was not begun with beginAttempt (e.g. a bad magic-link token). */
export async function recordFailure(core: Core, account: string | null, ip: string | null): Promise<void> {
  const now = core.clock.now();
  for (const { key, max } of throttleKeys(account, ip)) {
    const row = await bump(core, core.db, key, now);
    if (row.failures >= max(core)) await lockIfAtLimit(core, core.db, key, max(core), now);
  }
}

export async function recordSuccess(core: Core, account: string): Promise<void> {
  await core.db.deleteFrom('login_throttle').where('key', '=', `account:${account}`).execute();
}
