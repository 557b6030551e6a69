// Failed-login throttling, kept in the database so every node and door (HTTP, IMAP, POP3, SMTP
// AUTH) shares one count. Two keys count each failure: the account and the client IP. Reaching
// the limit locks that key for the lockout period; a success clears the account's count.
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';

export function throttleKeys(account: string | null, ip: string | null): { key: string; max: (c: Core) => number }[] {
  const keys: { key: string; max: (c: Core) => number }[] = [];
  if (account) keys.push({ key: `account:${account}`, max: (c) => c.settings.loginMaxFailures });
  if (ip) keys.push({ key: `ip:${ip}`, max: (c) => c.settings.loginIpMaxFailures });
  return keys;
}

/** Throws 429 rate_limit_exceeded when the account or IP is locked out. */
export async function assertNotLocked(core: Core, account: string | null, ip: string | null): Promise<void> {
  const now = core.clock.now();
  const keys = throttleKeys(account, ip).map((k) => k.key);
  if (keys.length === 0) return;
  const rows = await core.db.selectFrom('login_throttle').selectAll().where('key', 'in', keys).execute();
  const until = Math.max(0, ...rows.map((r) => r.locked_until ?? 0));
  if (until > now) {
    const minutes = Math.ceil((until - now) / 60_000);
    const message = `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
    throw new CoreError(429, 'rate_limit_exceeded', message, Math.ceil((until - now) / 1000));
  }
}

export async function recordFailure(core: Core, account: string | null, ip: string | null): Promise<void> {
  const now = core.clock.now();
  const window = core.settings.loginLockoutMs;
  await core.store.transaction(async (tx) => {
    for (const { key, max } of throttleKeys(account, ip)) {
      const row = await tx.selectFrom('login_throttle').selectAll().where('key', '=', key).executeTakeFirst();
      const fresh = !row || now - row.window_started_at > window || (row.locked_until !== null && row.locked_until <= now);
      const failures = fresh ? 1 : row.failures + 1;
      const locked_until = failures >= max(core) ? now + window : null;
      const values = { key, failures, window_started_at: fresh ? now : row!.window_started_at, locked_until };
      await tx
        .insertInto('login_throttle')
        .values(values)
        .onConflict((oc) => oc.column('key').doUpdateSet({ failures, window_started_at: values.window_started_at, locked_until }))
        .execute();
    }
  });
}

export async function recordSuccess(core: Core, account: string): Promise<void> {
  await core.db.deleteFrom('login_throttle').where('key', '=', `account:${account}`).execute();
}
