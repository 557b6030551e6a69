// Settings: read once at start from MAILSTACK_* environment variables and, optionally, a JSON
// file named by MAILSTACK_CONFIG (same keys; the environment wins). Every value is validated here,
// and a bad one becomes a SettingsError whose message is one line naming the variable and what it
// expects. Nothing else in the code reads process.env.
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { parseDuration } from '../core/duration.ts';
import { type AbuseSettings, type SpamSettings, parseAbuseSettings, parseSpamSettings } from './spam-settings.ts';

export class SettingsError extends Error {
  override name = 'SettingsError';
  constructor(message: string) {
    // One line, always: a value or a JSON parser's message may carry line breaks.
    super(message.replace(/\s*[\r\n]+\s*/g, ' '));
  }
}

/** A value quoted for an error message: escaped (so a newline stays on the line) and bounded. */
function shown(raw: string): string {
  return JSON.stringify(raw.length > 200 ? raw.slice(0, 200) + '…' : raw);
}

export interface Settings {
  /**
   * `development` (MAILSTACK_MODE, or `mailstack dev`): domains verify without DNS, outbound mail is
   * captured instead of sent, and loopback-friendly defaults (src/devmode/). `production` otherwise.
   */
  mode: 'production' | 'development';
  /** NODE_ENV as given (only to notice a development setup that forgot MAILSTACK_MODE). */
  nodeEnv: string | null;
  /** `pretty` (a banner and readable lines), `json` (one object a line), or `auto`: pretty on a TTY. */
  logFormat: 'pretty' | 'json' | 'auto';
  /** Bearer token /metrics demands (MAILSTACK_METRICS_TOKEN); null: open, unless on its own address. */
  metricsToken: string | null;
  /** Serve /metrics on its own listener (MAILSTACK_METRICS_ADDRESS, host:port) instead of the HTTP door. */
  metricsAddress: { host: string; port: number } | null;
  dataDir: string;
  databaseUrl: string;
  /** `sqlite` unless the database URL is postgres:// or postgresql:// */
  store: 'sqlite' | 'postgres';
  hostname: string;
  listenAddress: string;
  publicUrl: string;
  trustProxy: boolean;
  httpPort: number;
  smtpPort: number;
  submissionPort: number;
  submissionsPort: number;
  imapPort: number;
  imapsPort: number;
  pop3Port: number;
  pop3sPort: number;
  dnsServers: { host: string; port: number }[];
  smarthost: SmarthostSettings | null;
  tlsCert: string | null;
  tlsKey: string | null;
  masterKey: Buffer | null;
  /** Older master keys still accepted for decryption while a rotation is rolled out. */
  masterKeysPrevious: Buffer[];
  httpBodyLimit: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  allowSignup: boolean;
  mailFrom: string;
  loginMaxFailures: number;
  loginLockoutMs: number;
  loginIpMaxFailures: number;
  workerConcurrency: number;
  workerPollMs: number;
  jobLeaseMs: number;
  shutdownTimeoutMs: number;
  sessionTtlMs: number;
  /** Let webhook endpoints resolve to loopback, private and other non-public addresses (tests, labs). */
  webhookAllowPrivate: boolean;
  /** Waits between webhook delivery attempts; an event is given up after the last one. */
  webhookRetryDelaysMs: number[];
  /** Largest message the SMTP relay accepts (announced with SIZE, RFC 1870). */
  maxMessageBytes: number;
  /** Most envelope recipients one message may have on the SMTP relay. */
  maxRecipients: number;
  /** Default days message bodies, delivery detail and the API request log are kept (a workspace may set its own). */
  retentionDays: number;
  /** Requests per window per workspace on /v1, or null for no limit (MAILSTACK_API_RATE_LIMIT=0). */
  apiRateLimit: { limit: number; windowMs: number } | null;
  /** The port every MX connection goes to (RFC 5321 §5: 25; tests that are not root use a high one). */
  mxPort: number;
  /** Waits between delivery attempts of a deferred recipient; it bounces after the last one. */
  retryDelaysMs: number[];
  /** The most connections open at once to one MX host (or the smarthost). */
  mxConcurrency: number;
  /** Default quota of a hosted mailbox in bytes (a mailbox may have its own). */
  mailboxQuotaBytes: number;
  /** Days a message stays in Trash or Junk before the scheduler purges it. */
  trashDays: number;
  /** Refuse at DATA a message whose DMARC check fails under a p=reject policy (550 5.7.1). */
  dmarcReject: boolean;
  /** Most simultaneous connections one client IP may hold on the MX. */
  mxMaxConnectionsPerIp: number;
  /** Largest header section (everything before the first empty line) the MX accepts: 552 5.3.4 over it. */
  mxMaxHeaderBytes: number;
  /** The MTA-STS policy served for hosted domains (RFC 8461): 'none' serves none and lists no records. */
  mtaStsMode: 'testing' | 'enforce' | 'none';
  /** Apply the MTA-STS policies of recipient domains to outbound delivery (RFC 8461 §5). */
  mtaStsOutbound: boolean;
  /** Extra CA certificates (PEM file) trusted for MTA-STS policy hosts and MX certificates under a policy. */
  mtaStsCaFile: string | null;
  /** The HTTPS port MTA-STS policies are fetched from (443; tests use another). */
  mtaStsHttpsPort: number;
  /** Let IMAP/POP3 clients log in before TLS (off: LOGINDISABLED until STARTTLS, RFC 9051 §6.2.3). */
  allowPlaintextAuth: boolean;
  /** Days audit log records are kept (0: purged at the next run). */
  auditRetentionDays: number;
  /** Days the API request log is kept. */
  requestLogDays: number;
  /** Days a closed workspace's or user's data is kept (the grace to reopen) before deletion. */
  closedAccountDays: number;
  /** Days the record of a closed account (name, identity, its audit trail) is kept after deletion. */
  closedAccountRecordDays: number;
  /** Days a finished export is kept. */
  exportDays: number;
  /** Mail for a suspended workspace or inbox: refused with 4xx (`refuse`) or accepted and held (`hold`). */
  suspendedInbound: 'refuse' | 'hold';
  /** Backups kept: the newest `count`, or those younger than `days` (MAILSTACK_BACKUP_KEEP=7 or 30d). */
  backupKeep: { count: number } | { days: number };
  /** How often the node makes a backup by itself (MAILSTACK_BACKUP_SCHEDULE, e.g. 24h), or null: never. */
  backupScheduleMs: number | null;
  /** Where scheduled backups go (MAILSTACK_BACKUP_DIR; default <data>/backups). */
  backupDir: string;
  /** Broadcast messages handed to the MTA per second per workspace (MAILSTACK_BROADCAST_RATE); 0: no limit. */
  broadcastRate: number;
  /** Largest CSV a contact import accepts (MAILSTACK_IMPORT_MAX_BYTES); a larger upload is refused. */
  importMaxBytes: number;
  /** Spam filtering (src/spam/): MAILSTACK_RSPAMD_*, MAILSTACK_DNSBL, MAILSTACK_SPAM_*. */
  spam: SpamSettings;
  /** Outbound abuse controls (src/abuse/): quotas, auto-pause, warm-up. */
  abuse: AbuseSettings;
}

export interface SmarthostSettings {
  url: string;
  host: string;
  port: number;
  secure: boolean;
  user: string | null;
  pass: string | null;
}

type Source = Record<string, string | undefined>;

const PREFIX = 'MAILSTACK_';

/** Builds settings from an environment (process.env by default). Throws SettingsError. */
export function loadSettings(env: Source = process.env, cwd = process.cwd(), overrides: Source = {}): Settings {
  const src = { ...withConfigFile(env, cwd), ...stripUndefined(overrides) };
  const get = (name: string): string | undefined => {
    const v = src[PREFIX + name];
    return v === undefined || v === '' ? undefined : v;
  };

  const mode = oneOf(get, 'MODE', 'production', ['production', 'development'] as const);
  const dev = mode === 'development';
  // Development keeps its data apart (a production node refuses a development store, see
  // src/devmode/) and listens on loopback with ports that need no root.
  const dataDir = path.resolve(cwd, get('DATA_DIR') ?? (dev ? 'data-dev' : 'data'));
  const databaseUrl = get('DATABASE_URL') ?? `sqlite:${path.join(dataDir, 'mailstack.db')}`;
  const store = parseStore(databaseUrl);
  // Unset, the machine's name is used when it is a valid DNS name (else localhost, so a quick start
  // never fails on it); set, it must be valid.
  const hostname = get('HOSTNAME') !== undefined ? parseHostname(get('HOSTNAME')!) : dev ? 'localhost' : defaultHostname();
  const httpPort = port(get, 'HTTP_PORT', 8080);
  const listenAddress = get('LISTEN_ADDRESS') ?? (dev ? '127.0.0.1' : '0.0.0.0');
  const publicUrl = parsePublicUrl(get('PUBLIC_URL') ?? `http://${hostname}:${httpPort}`);

  const tlsCert = get('TLS_CERT') ?? null;
  const tlsKey = get('TLS_KEY') ?? null;
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw new SettingsError(
      `${PREFIX}TLS_CERT and ${PREFIX}TLS_KEY must be set together (paths to a PEM certificate and its key)`,
    );
  }

  return {
    mode,
    nodeEnv: src.NODE_ENV || null,
    logFormat: oneOf(get, 'LOG_FORMAT', 'auto', ['pretty', 'json', 'auto'] as const),
    metricsToken: parseMetricsToken(get('METRICS_TOKEN')),
    metricsAddress: parseListenAddress(get('METRICS_ADDRESS'), 'METRICS_ADDRESS'),
    dataDir,
    databaseUrl,
    store,
    hostname,
    listenAddress,
    publicUrl,
    trustProxy: bool(get, 'TRUST_PROXY', false),
    httpPort,
    smtpPort: port(get, 'SMTP_PORT', dev ? 2525 : 25),
    submissionPort: port(get, 'SUBMISSION_PORT', dev ? 2587 : 587),
    submissionsPort: port(get, 'SUBMISSIONS_PORT', dev ? 2465 : 465),
    imapPort: port(get, 'IMAP_PORT', dev ? 2143 : 143),
    imapsPort: port(get, 'IMAPS_PORT', dev ? 2993 : 993),
    pop3Port: port(get, 'POP3_PORT', dev ? 2110 : 110),
    pop3sPort: port(get, 'POP3S_PORT', dev ? 2995 : 995),
    dnsServers: parseDnsServers(get('DNS_SERVERS')),
    smarthost: parseSmarthost(get('SMARTHOST')),
    tlsCert,
    tlsKey,
    masterKey: parseMasterKey(get('MASTER_KEY'), 'MASTER_KEY'),
    masterKeysPrevious: (get('MASTER_KEY_PREVIOUS') ?? '').split(',').filter(Boolean).map((k) => parseMasterKey(k.trim(), 'MASTER_KEY_PREVIOUS')!),
    httpBodyLimit: int(get, 'HTTP_BODY_LIMIT', 45 * 1024 * 1024, 1024, 1024 ** 3, 'a size in bytes'),
    logLevel: oneOf(get, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    allowSignup: bool(get, 'ALLOW_SIGNUP', true),
    mailFrom: get('MAIL_FROM') ?? `Mailstack <no-reply@${hostname}>`,
    loginMaxFailures: int(get, 'LOGIN_MAX_FAILURES', 5, 1, 1000, 'a whole number'),
    loginLockoutMs: duration(get, 'LOGIN_LOCKOUT', '15m'),
    loginIpMaxFailures: int(get, 'LOGIN_IP_MAX_FAILURES', 30, 1, 100000, 'a whole number'),
    workerConcurrency: int(get, 'WORKER_CONCURRENCY', 4, 0, 256, 'a whole number (0 runs no jobs)'),
    workerPollMs: duration(get, 'WORKER_POLL', '500ms'),
    jobLeaseMs: duration(get, 'JOB_LEASE', '60s'),
    shutdownTimeoutMs: duration(get, 'SHUTDOWN_TIMEOUT', '30s'),
    sessionTtlMs: duration(get, 'SESSION_TTL', '30d'),
    webhookAllowPrivate: bool(get, 'WEBHOOK_ALLOW_PRIVATE', dev),
    webhookRetryDelaysMs: durationList(get, 'WEBHOOK_RETRY_DELAYS', '5s,5m,30m,2h,5h,10h,14h'),
    maxMessageBytes: int(get, 'MAX_MESSAGE_BYTES', 50 * 1024 * 1024, 1024, 1024 ** 3, 'a size in bytes'),
    maxRecipients: int(get, 'MAX_RECIPIENTS', 50, 1, 10000, 'a whole number'),
    retentionDays: int(get, 'RETENTION_DAYS', 90, 1, 36500, 'a number of days'),
    apiRateLimit: rateLimit(get, 'API_RATE_LIMIT', dev ? '0' : '10/1s'),
    mxPort: port(get, 'MX_PORT', 25),
    // About 5 days in all (RFC 5321 §4.5.4.1: give up after 4-5 days).
    retryDelaysMs: durationList(get, 'RETRY_DELAYS', '1m,5m,15m,30m,1h,2h,4h,8h,12h,24h,24h,24h'),
    mxConcurrency: int(get, 'MX_CONCURRENCY', 5, 1, 100, 'a whole number'),
    broadcastRate: int(get, 'BROADCAST_RATE', 50, 0, 1_000_000, 'messages per second (0: no limit)'),
    importMaxBytes: int(get, 'IMPORT_MAX_BYTES', 200 * 1024 * 1024, 1024, 1024 ** 4, 'a size in bytes'),
    mailboxQuotaBytes: int(get, 'MAILBOX_QUOTA_BYTES', 10 * 1024 ** 3, 1024, 1024 ** 5, 'a size in bytes'),
    trashDays: int(get, 'TRASH_DAYS', 30, 1, 36500, 'a number of days'),
    dmarcReject: bool(get, 'DMARC_REJECT', true),
    mxMaxConnectionsPerIp: int(get, 'MX_MAX_CONNECTIONS_PER_IP', 20, 1, 10000, 'a whole number'),
    mtaStsOutbound: bool(get, 'MTA_STS_OUTBOUND', true),
    mtaStsCaFile: get('MTA_STS_CA_FILE') || null,
    mtaStsHttpsPort: int(get, 'MTA_STS_HTTPS_PORT', 443, 1, 65535, 'a port number'),
    mtaStsMode: oneOf(get, 'MTA_STS_MODE', 'testing', ['testing', 'enforce', 'none'] as const),
    mxMaxHeaderBytes: int(get, 'MX_MAX_HEADER_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024, 'a size in bytes'),
    allowPlaintextAuth: bool(get, 'ALLOW_PLAINTEXT_AUTH', false),
    auditRetentionDays: int(get, 'AUDIT_RETENTION_DAYS', 365, 0, 36500, 'a number of days'),
    requestLogDays: int(get, 'REQUEST_LOG_DAYS', 90, 0, 36500, 'a number of days'),
    closedAccountDays: int(get, 'CLOSED_ACCOUNT_DAYS', 7, 0, 36500, 'a number of days'),
    closedAccountRecordDays: int(get, 'CLOSED_ACCOUNT_RECORD_DAYS', 90, 0, 36500, 'a number of days'),
    exportDays: int(get, 'EXPORT_DAYS', 7, 0, 36500, 'a number of days'),
    suspendedInbound: oneOf(get, 'SUSPENDED_INBOUND', 'refuse', ['refuse', 'hold'] as const),
    backupKeep: backupKeep(get('BACKUP_KEEP') ?? '7'),
    backupScheduleMs: backupSchedule(get('BACKUP_SCHEDULE')),
    backupDir: path.resolve(cwd, get('BACKUP_DIR') ?? path.join(dataDir, 'backups')),
    spam: parseSpamSettings(get, (m) => new SettingsError(m)),
    abuse: parseAbuseSettings(get, (m) => new SettingsError(m)),
  };
}

function withConfigFile(env: Source, cwd: string): Source {
  const file = env[PREFIX + 'CONFIG'];
  if (!file) return env;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path.resolve(cwd, file), 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new SettingsError(`${PREFIX}CONFIG must name a readable JSON file of settings (${file}: ${why})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SettingsError(`${PREFIX}CONFIG must name a JSON file holding one object of settings (${file})`);
  }
  const fromFile: Source = {};
  for (const [key, value] of Object.entries(parsed)) {
    const name = key.startsWith(PREFIX) ? key : PREFIX + key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    if (value !== null && typeof value === 'object') {
      throw new SettingsError(`${name} in ${file} must be a string, number or boolean`);
    }
    fromFile[name] = value === null ? undefined : String(value);
  }
  return { ...fromFile, ...stripUndefined(env) };
}

function stripUndefined(env: Source): Source {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

type Getter = (name: string) => string | undefined;

function port(get: Getter, name: string, fallback: number): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw new SettingsError(`${PREFIX}${name} must be a port number from 0 to 65535 (0 disables it), got ${shown(raw)}`);
  }
  return Number(raw);
}

function int(get: Getter, name: string, fallback: number, min: number, max: number, what: string): number {
  const raw = get(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new SettingsError(`${PREFIX}${name} must be ${what} from ${min} to ${max}, got ${shown(raw)}`);
  }
  return Number(raw);
}

function bool(get: Getter, name: string, fallback: boolean): boolean {
  const raw = get(name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new SettingsError(`${PREFIX}${name} must be true or false, got ${shown(raw)}`);
}

function duration(get: Getter, name: string, fallback: string): number {
  const raw = get(name) ?? fallback;
  const ms = parseDuration(raw);
  if (ms === null) {
    throw new SettingsError(`${PREFIX}${name} must be a duration such as 500ms, 30s, 15m, 2h or 7d, got ${shown(raw)}`);
  }
  return ms;
}

function durationList(get: Getter, name: string, fallback: string): number[] {
  const raw = get(name) ?? fallback;
  const items = raw.split(',').map((d) => parseDuration(d));
  if (items.length === 0 || items.length > 50 || items.some((ms) => ms === null)) {
    throw new SettingsError(`${PREFIX}${name} must be a comma-separated list of durations such as 5s,5m,30m,2h, got ${shown(raw)}`);
  }
  return items as number[];
}

/** `N` (requests per second), `N/duration` (e.g. 600/1m), or 0 for no limit. */
function rateLimit(get: Getter, name: string, fallback: string): { limit: number; windowMs: number } | null {
  const raw = get(name) ?? fallback;
  const m = /^(\d{1,9})(?:\/(.+))?$/.exec(raw.trim());
  const windowMs = m?.[2] === undefined ? 1000 : parseDuration(m[2]);
  if (!m || windowMs === null || windowMs < 1) {
    throw new SettingsError(`${PREFIX}${name} must be requests per second (e.g. 10), requests per window (e.g. 600/1m) or 0 for no limit, got ${shown(raw)}`);
  }
  return Number(m[1]) === 0 ? null : { limit: Number(m[1]), windowMs };
}

/** A count of backups (`7`) or an age in days (`30d`). */
function backupKeep(raw: string): { count: number } | { days: number } {
  const m = /^(\d{1,5})(d?)$/.exec(raw.trim());
  if (!m || Number(m[1]) < 1) {
    throw new SettingsError(`${PREFIX}BACKUP_KEEP must be a number of backups (e.g. 7) or of days (e.g. 30d), at least 1, got ${shown(raw)}`);
  }
  return m[2] ? { days: Number(m[1]) } : { count: Number(m[1]) };
}

/** Unset, empty or `off`: no scheduled backups; else an interval of at least a minute (e.g. 24h). */
function backupSchedule(raw: string | undefined): number | null {
  if (raw === undefined || raw.toLowerCase() === 'off') return null;
  const ms = parseDuration(raw);
  if (ms === null || ms < 60_000) throw new SettingsError(`${PREFIX}BACKUP_SCHEDULE must be an interval of at least 1m such as 6h or 24h, or off, got ${shown(raw)}`);
  return ms;
}

function oneOf<T extends string>(get: Getter, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = get(name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new SettingsError(`${PREFIX}${name} must be one of ${allowed.join(', ')}, got ${shown(raw)}`);
  }
  return raw as T;
}

function parseStore(url: string): 'sqlite' | 'postgres' {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new SettingsError(`${PREFIX}DATABASE_URL must be a valid postgres:// URL or sqlite:PATH, got ${shown(redact(url))}`);
    }
    return 'postgres';
  }
  if (/^(sqlite|file):/i.test(url) && url.replace(/^(sqlite|file):(\/\/)?/i, '').length > 0) return 'sqlite';
  throw new SettingsError(`${PREFIX}DATABASE_URL must be a postgres:// URL or sqlite:PATH, got ${shown(redact(url))}`);
}

/** Resolves a sqlite: or file: URL to a filesystem path. */
export function sqlitePath(url: string, cwd = process.cwd()): string {
  const rest = url.replace(/^(sqlite|file):(\/\/)?/i, '');
  return rest === ':memory:' ? rest : path.resolve(cwd, rest);
}

function defaultHostname(): string {
  try {
    return parseHostname(osHostname());
  } catch {
    return 'localhost';
  }
}

function parseHostname(raw: string): string {
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(raw)) {
    throw new SettingsError(`${PREFIX}HOSTNAME must be a DNS host name such as mail.example.com, got ${shown(raw)}`);
  }
  return raw.toLowerCase();
}

function parsePublicUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return u.toString().replace(/\/$/, '');
  } catch {
    throw new SettingsError(`${PREFIX}PUBLIC_URL must be an http:// or https:// URL, got ${shown(raw)}`);
  }
}

function parseDnsServers(raw: string | undefined): { host: string; port: number }[] {
  if (raw === undefined) return [];
  return raw.split(',').map((item) => {
    const s = item.trim();
    const m = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/i.exec(s) ?? /^([^:\s]+)(?::(\d{1,5}))?$/.exec(s);
    const p = m?.[2] === undefined ? 53 : Number(m[2]);
    if (!m || p < 1 || p > 65535) {
      throw new SettingsError(`${PREFIX}DNS_SERVERS must be a comma-separated list of host:port, got ${shown(raw)}`);
    }
    return { host: m[1], port: p };
  });
}

function parseSmarthost(raw: string | undefined): SmarthostSettings | null {
  if (raw === undefined) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    u = new URL('invalid:');
  }
  if ((u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || !u.hostname) {
    throw new SettingsError(`${PREFIX}SMARTHOST must be a URL like smtp://user:pass@host:587 or smtps://host:465, got ${shown(redact(raw))}`);
  }
  const secure = u.protocol === 'smtps:';
  return {
    url: redact(raw),
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    user: u.username ? decodeURIComponent(u.username) : null,
    pass: u.password ? decodeURIComponent(u.password) : null,
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function parseMetricsToken(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  // A bearer token (RFC 6750 §2.1 b64token), long enough not to be guessed.
  if (!/^[A-Za-z0-9\-._~+/]{16,512}=*$/.test(raw)) {
    throw new SettingsError(`${PREFIX}METRICS_TOKEN must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (openssl rand -hex 32)`);
  }
  return raw;
}

/** `host:port`, `[v6]:port` or `:port` (all addresses); port 1-65535. */
function parseListenAddress(raw: string | undefined, name: string): { host: string; port: number } | null {
  if (raw === undefined) return null;
  const m = /^\[([0-9a-f:.]+)\]:(\d{1,5})$/i.exec(raw.trim()) ?? /^([^:\s]*):(\d{1,5})$/.exec(raw.trim());
  const p = m ? Number(m[2]) : 0;
  if (!m || p < 1 || p > 65535) {
    throw new SettingsError(`${PREFIX}${name} must be host:port such as 127.0.0.1:9464 (or :9464 for every address), got ${shown(raw)}`);
  }
  return { host: m[1] === '' ? '0.0.0.0' : m[1], port: p };
}

function parseMasterKey(raw: string | undefined, name: string): Buffer | null {
  if (raw === undefined) return null;
  if (/^[0-9a-f]{64}$/i.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(raw)) return Buffer.from(raw, 'base64');
  throw new SettingsError(`${PREFIX}${name} must be 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)`);
}
