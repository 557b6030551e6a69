// The settings of spam filtering and abuse controls (src/spam/, src/abuse/), parsed as part of
// loadSettings (settings.ts); kept in their own file so that concern's settings read together.

export interface SpamSettings {
  /** rspamd's controller URL (e.g. http://127.0.0.1:11334); null: the built-in filter. */
  rspamdUrl: string | null;
  /** The controller password for learning (rspamd's `Password` header); null when loopback needs none. */
  rspamdPassword: string | null;
  /** DNS blocklist zones (e.g. zen.spamhaus.org) the built-in filter asks about the client IP. */
  dnsbl: string[];
  /** At or above: refused with 550 5.7.1 (built-in filter; rspamd's own `reject` action too). */
  rejectScore: number;
  /** At or above: delivered to Junk (built-in filter; rspamd's `add header`/`rewrite subject` too). */
  junkScore: number;
}

export interface AbuseSettings {
  /** Recipients a workspace may send to per hour / per day; 0: no limit. */
  hourlyLimit: number;
  dailyLimit: number;
  /** Auto-pause: the window of a workspace's last sends, and the rates that pause it. */
  pauseMinSends: number;
  pauseBounceRate: number;
  pauseComplaintRate: number;
  /** New workspaces start at this many recipients a day, growing with good delivery; 0 disables warm-up. */
  warmupStart: number;
}

type Getter = (name: string) => string | undefined;
/** settings.ts's SettingsError, passed in so this file does not import settings.ts back. */
type Fail = (message: string) => Error;

function num(fail: Fail, get: Getter, name: string, fallback: number, min: number, max: number): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || v < min || v > max) {
    throw fail(`MAILSTACK_${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 100))}`);
  }
  return v;
}

function url(fail: Fail, get: Getter, name: string): string | null {
  const raw = get(name);
  if (raw === undefined) return null;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return raw.replace(/\/+$/, '');
  } catch {
    throw fail(`MAILSTACK_${name} must be an http:// or https:// URL (rspamd's controller, e.g. http://127.0.0.1:11334), got ${JSON.stringify(raw.slice(0, 100))}`);
  }
}

export function parseSpamSettings(get: Getter, fail: Fail): SpamSettings {
  const dnsbl = (get('DNSBL') ?? '').split(',').map((z) => z.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean);
  for (const z of dnsbl) {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(z)) throw fail(`MAILSTACK_DNSBL must be a comma-separated list of DNS zones such as zen.spamhaus.org, got ${JSON.stringify(z.slice(0, 100))}`);
  }
  const rejectScore = num(fail, get, 'SPAM_REJECT_SCORE', 15, 0, 10000);
  const junkScore = num(fail, get, 'SPAM_JUNK_SCORE', 6, 0, 10000);
  if (junkScore > rejectScore) throw fail('MAILSTACK_SPAM_JUNK_SCORE must not be above MAILSTACK_SPAM_REJECT_SCORE');
  return {
    rspamdUrl: url(fail, get, 'RSPAMD_URL'),
    rspamdPassword: get('RSPAMD_PASSWORD') ?? null,
    dnsbl,
    rejectScore,
    junkScore,
  };
}

export function parseAbuseSettings(get: Getter, fail: Fail): AbuseSettings {
  return {
    hourlyLimit: num(fail, get, 'WORKSPACE_HOURLY_LIMIT', 0, 0, 1e9),
    dailyLimit: num(fail, get, 'WORKSPACE_DAILY_LIMIT', 0, 0, 1e9),
    pauseMinSends: num(fail, get, 'PAUSE_MIN_SENDS', 500, 1, 1e7),
    pauseBounceRate: num(fail, get, 'PAUSE_BOUNCE_RATE', 0.05, 0, 1),
    pauseComplaintRate: num(fail, get, 'PAUSE_COMPLAINT_RATE', 0.001, 0, 1),
    warmupStart: num(fail, get, 'WARMUP_START', 1000, 0, 1e9),
  };
}
