// Settings: every bad value stops `mailstack start` with one line naming the variable and a
// non-zero exit (never a stack trace), and loadSettings reads defaults, the config file and the
// environment in the documented order.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../testkit/server.ts';
import { createTestDatabase } from '../testkit/store.ts';
import { SettingsError, loadSettings } from './settings.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mailstack-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const missingConfig = path.join(dir, 'does-not-exist.json');
const brokenConfig = path.join(dir, 'broken.json');
// The newline right after the bad token matters: V8 quotes the text around a JSON syntax error
// in its message, and a raw newline there would make the error two lines.
writeFileSync(brokenConfig, '{\n  "httpPort": 8080,\n  oops\n}\n');
const arrayConfig = path.join(dir, 'array.json');
writeFileSync(arrayConfig, '[1, 2]');

/** A start that would otherwise succeed: every door off, data in a temporary folder. */
const baseEnv = {
  MAILSTACK_DATA_DIR: path.join(dir, 'data'),
  MAILSTACK_HOSTNAME: 'mailstack.test',
  MAILSTACK_HTTP_PORT: '0',
  MAILSTACK_LOG_LEVEL: 'silent',
};

const badValues: { variable: string; env: Record<string, string> }[] = [
  { variable: 'MAILSTACK_HTTP_PORT', env: { MAILSTACK_HTTP_PORT: 'abc' } },
  { variable: 'MAILSTACK_HTTP_PORT', env: { MAILSTACK_HTTP_PORT: '70000' } },
  { variable: 'MAILSTACK_HTTP_PORT', env: { MAILSTACK_HTTP_PORT: '-1' } },
  { variable: 'MAILSTACK_DATABASE_URL', env: { MAILSTACK_DATABASE_URL: 'mysql://x' } },
  { variable: 'MAILSTACK_HOSTNAME', env: { MAILSTACK_HOSTNAME: 'bad host!' } },
  { variable: 'MAILSTACK_SMARTHOST', env: { MAILSTACK_SMARTHOST: 'http://x' } },
  { variable: 'MAILSTACK_DNS_SERVERS', env: { MAILSTACK_DNS_SERVERS: 'a:b:c' } },
  { variable: 'MAILSTACK_MASTER_KEY', env: { MAILSTACK_MASTER_KEY: 'short' } },
  { variable: 'MAILSTACK_LOG_LEVEL', env: { MAILSTACK_LOG_LEVEL: 'loud' } },
  { variable: 'MAILSTACK_LOGIN_LOCKOUT', env: { MAILSTACK_LOGIN_LOCKOUT: 'soon' } },
  { variable: 'MAILSTACK_TRUST_PROXY', env: { MAILSTACK_TRUST_PROXY: 'maybe' } },
  { variable: 'MAILSTACK_TLS_CERT', env: { MAILSTACK_TLS_CERT: path.join(dir, 'cert.pem') } },
  { variable: 'MAILSTACK_CONFIG', env: { MAILSTACK_CONFIG: missingConfig } },
  { variable: 'MAILSTACK_CONFIG', env: { MAILSTACK_CONFIG: brokenConfig } },
  // A value holding a newline must still give one line.
  { variable: 'MAILSTACK_HTTP_PORT', env: { MAILSTACK_HTTP_PORT: '80\n81' } },
];

describe('mailstack start with a bad setting', () => {
  for (const { variable, env } of badValues) {
    it(`stops with one line naming ${variable} for ${JSON.stringify(Object.values(env)[0])}`, () => {
      const r = runCli(['start'], { ...baseEnv, ...env });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.endsWith('\n')).toBe(true);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^mailstack: invalid setting: /);
      expect(lines[0]).toContain(variable);
      expect(r.stderr).not.toContain('    at ');
    });
  }

  it('does not echo a password from a bad MAILSTACK_DATABASE_URL', () => {
    const r = runCli(['start'], { ...baseEnv, MAILSTACK_DATABASE_URL: 'mysql://admin:hunter2@db.example.com/mail' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('MAILSTACK_DATABASE_URL');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('validates settings for other commands too (migrate)', () => {
    const r = runCli(['migrate'], { ...baseEnv, MAILSTACK_DATABASE_URL: 'mysql://x' });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^mailstack: invalid setting: MAILSTACK_DATABASE_URL /)]);
  });

  it('takes the database from a config file (camelCase keys)', async () => {
    const db = await createTestDatabase();
    try {
      const file = path.join(dir, 'good.json');
      writeFileSync(file, JSON.stringify({ databaseUrl: db.url, dataDir: db.dataDir, hostname: 'file.example.com' }));
      const r = runCli(['migrate'], { MAILSTACK_CONFIG: file, MAILSTACK_LOG_LEVEL: 'silent' });
      // stderr holds only migrate's progress, one JSON line per step.
      expect(r.stderr.trim().split('\n').every((l) => JSON.parse(l).task === 'migrate')).toBe(true);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.store).toBe(db.url.startsWith('postgres') ? 'postgres' : 'sqlite');
      expect(out.current).toEqual(expect.any(String));
    } finally {
      await db.drop();
    }
  });
});

describe('loadSettings', () => {
  it('fills in the documented defaults', () => {
    const cwd = path.join(dir, 'cwd');
    const s = loadSettings({ MAILSTACK_HOSTNAME: 'Mail.Example.COM' }, cwd);
    expect(s.dataDir).toBe(path.join(cwd, 'data'));
    expect(s.databaseUrl).toBe(`sqlite:${path.join(cwd, 'data', 'mailstack.db')}`);
    expect(s.store).toBe('sqlite');
    expect(s.hostname).toBe('mail.example.com');
    expect(s.listenAddress).toBe('0.0.0.0');
    expect(s.publicUrl).toBe('http://mail.example.com:8080');
    expect({
      http: s.httpPort,
      smtp: s.smtpPort,
      submission: s.submissionPort,
      submissions: s.submissionsPort,
      imap: s.imapPort,
      imaps: s.imapsPort,
      pop3: s.pop3Port,
      pop3s: s.pop3sPort,
    }).toEqual({ http: 8080, smtp: 25, submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995 });
    expect(s.dnsServers).toEqual([]);
    expect(s.smarthost).toBeNull();
    expect(s.tlsCert).toBeNull();
    expect(s.tlsKey).toBeNull();
    expect(s.masterKey).toBeNull();
    expect(s.masterKeysPrevious).toEqual([]);
    expect(s.logLevel).toBe('info');
    expect(s.trustProxy).toBe(false);
    expect(s.allowSignup).toBe(true);
    expect(s.loginLockoutMs).toBe(15 * 60_000);
    expect(s.shutdownTimeoutMs).toBe(30_000);
    expect(s.jobLeaseMs).toBe(60_000);
  });

  it('never repeats a master key or a password in its message', () => {
    expect(() => loadSettings({ MAILSTACK_HOSTNAME: 'a.test', MAILSTACK_MASTER_KEY: 'my-secret-but-too-short' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('my-secret') }),
    );
    expect(() => loadSettings({ MAILSTACK_HOSTNAME: 'a.test', MAILSTACK_SMARTHOST: 'http://relay:hunter2@x' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('takes values from the config file, and the environment wins over it', () => {
    const file = path.join(dir, 'layered.json');
    writeFileSync(
      file,
      JSON.stringify({ httpPort: 9000, MAILSTACK_SMTP_PORT: 2525, hostname: 'file.example.com', logLevel: 'debug', allowSignup: false, imapPort: null }),
    );
    const s = loadSettings({ MAILSTACK_CONFIG: file, MAILSTACK_HTTP_PORT: '9100', MAILSTACK_LOG_LEVEL: '' }, dir);
    expect(s.httpPort).toBe(9100); // env over file
    expect(s.smtpPort).toBe(2525); // file, full variable name as key
    expect(s.hostname).toBe('file.example.com'); // file, camelCase key
    expect(s.logLevel).toBe('debug'); // an empty env value does not hide the file's
    expect(s.allowSignup).toBe(false); // JSON boolean
    expect(s.imapPort).toBe(143); // null means unset
  });

  it('names a bad value from the config file by its variable', () => {
    const file = path.join(dir, 'bad-value.json');
    writeFileSync(file, JSON.stringify({ httpPort: 'eighty' }));
    expect(() => loadSettings({ MAILSTACK_CONFIG: file }, dir)).toThrow(/^MAILSTACK_HTTP_PORT must be a port number/);
    writeFileSync(file, JSON.stringify({ smtpPort: { nested: 1 } }));
    expect(() => loadSettings({ MAILSTACK_CONFIG: file }, dir)).toThrow(SettingsError);
  });

  it('allows port 0 (the door is off) and 65535', () => {
    const s = loadSettings({
      MAILSTACK_HOSTNAME: 'mailstack.test',
      MAILSTACK_HTTP_PORT: '0',
      MAILSTACK_SMTP_PORT: '0',
      MAILSTACK_SUBMISSION_PORT: '0',
      MAILSTACK_SUBMISSIONS_PORT: '0',
      MAILSTACK_IMAP_PORT: '0',
      MAILSTACK_IMAPS_PORT: '0',
      MAILSTACK_POP3_PORT: '65535',
    });
    expect([s.httpPort, s.smtpPort, s.submissionPort, s.submissionsPort, s.imapPort, s.imapsPort, s.pop3Port]).toEqual([0, 0, 0, 0, 0, 0, 65535]);
  });

  it('parses store, resolvers, relay and master keys', () => {
    const hex = 'ab'.repeat(32);
    const b64 = Buffer.alloc(32, 7).toString('base64');
    const s = loadSettings({
      MAILSTACK_HOSTNAME: 'mailstack.test',
      MAILSTACK_DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/mail',
      MAILSTACK_DNS_SERVERS: '127.0.0.1:5353, [::1]:53,9.9.9.9',
      MAILSTACK_SMARTHOST: 'smtp://relay%40user:p%40ss@relay.example.com:2525',
      MAILSTACK_MASTER_KEY: hex,
      MAILSTACK_MASTER_KEY_PREVIOUS: `${b64}, ${'cd'.repeat(32)}`,
      MAILSTACK_TLS_CERT: '/etc/cert.pem',
      MAILSTACK_TLS_KEY: '/etc/key.pem',
      MAILSTACK_TRUST_PROXY: 'yes',
    });
    expect(s.store).toBe('postgres');
    expect(s.dnsServers).toEqual([
      { host: '127.0.0.1', port: 5353 },
      { host: '::1', port: 53 },
      { host: '9.9.9.9', port: 53 },
    ]);
    expect(s.smarthost).toEqual({ url: 'smtp://relay%40user:***@relay.example.com:2525', host: 'relay.example.com', port: 2525, secure: false, user: 'relay@user', pass: 'p@ss' });
    expect(s.masterKey).toEqual(Buffer.from(hex, 'hex'));
    expect(s.masterKeysPrevious).toEqual([Buffer.alloc(32, 7), Buffer.from('cd'.repeat(32), 'hex')]);
    expect([s.tlsCert, s.tlsKey]).toEqual(['/etc/cert.pem', '/etc/key.pem']);
    expect(s.trustProxy).toBe(true);
    expect(loadSettings({ MAILSTACK_HOSTNAME: 'a.test', MAILSTACK_SMARTHOST: 'smtps://relay.example.com' }).smarthost).toMatchObject({ port: 465, secure: true, user: null });
  });

  // The same checks as the `mailstack start` cases above, for every other variable, in-process.
  it('rejects a bad value of every variable with one line naming it', () => {
    const cases: Record<string, string>[] = [
      { MAILSTACK_SMTP_PORT: 'abc' },
      { MAILSTACK_SUBMISSION_PORT: '70000' },
      { MAILSTACK_SUBMISSIONS_PORT: '-1' },
      { MAILSTACK_IMAP_PORT: '1.5' },
      { MAILSTACK_IMAPS_PORT: '99999' },
      { MAILSTACK_POP3_PORT: ' 110x' },
      { MAILSTACK_POP3S_PORT: '' + 1e6 },
      { MAILSTACK_DATABASE_URL: 'postgres://x:y@[bad' },
      { MAILSTACK_DATABASE_URL: 'sqlite:' },
      { MAILSTACK_PUBLIC_URL: 'ftp://x' },
      { MAILSTACK_SMARTHOST: 'smtp://' },
      { MAILSTACK_DNS_SERVERS: '1.1.1.1:0' },
      { MAILSTACK_MASTER_KEY_PREVIOUS: 'short' },
      { MAILSTACK_HTTP_BODY_LIMIT: '10' },
      { MAILSTACK_ALLOW_SIGNUP: 'maybe' },
      { MAILSTACK_LOGIN_MAX_FAILURES: '0' },
      { MAILSTACK_WORKER_CONCURRENCY: 'many' },
      { MAILSTACK_SHUTDOWN_TIMEOUT: '5 minutes' },
      { MAILSTACK_TLS_KEY: '/etc/key.pem' },
      { MAILSTACK_CONFIG: arrayConfig },
      { MAILSTACK_HTTP_PORT: '1\n2' },
      { MAILSTACK_HOSTNAME: 'a\nb' },
      { MAILSTACK_LOG_LEVEL: 'x\r\ny' },
      { MAILSTACK_CONFIG: brokenConfig },
    ];
    for (const env of cases) {
      let err: unknown;
      try {
        loadSettings({ MAILSTACK_HOSTNAME: 'mailstack.test', ...env }, dir);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(env)).toBeInstanceOf(SettingsError);
      expect((err as Error).message).not.toMatch(/[\r\n]/);
      expect((err as Error).message).toContain(Object.keys(env)[0]);
    }
  });
});
