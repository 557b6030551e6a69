// `mailstack start` greets a person on a terminal with a short banner (a real pseudo-terminal from
// `script`, stopped with Ctrl-C typed into it), and writes JSON lines when stdout is not a terminal.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../testkit/remote-mx.ts';
import { CLI, ROOT, freePort, spawnCli } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

async function env(extra: Record<string, string> = {}) {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    MAILSTACK_DATA_DIR: db.dataDir,
    MAILSTACK_DATABASE_URL: db.url,
    MAILSTACK_LISTEN_ADDRESS: '127.0.0.1',
    MAILSTACK_HTTP_PORT: String(await freePort()),
    MAILSTACK_SMTP_PORT: String(await freePort()),
    MAILSTACK_SUBMISSION_PORT: '0',
    MAILSTACK_SUBMISSIONS_PORT: '0',
    MAILSTACK_IMAP_PORT: '0',
    MAILSTACK_IMAPS_PORT: '0',
    MAILSTACK_POP3_PORT: '0',
    MAILSTACK_POP3S_PORT: '0',
    ...extra,
  };
}

describe('start-up output', () => {
  it('prints a banner on a terminal: version, data folder, store, doors with TLS, URLs, the next command and the hostname warning; Ctrl-C stops it', async () => {
    const e = await env({ MAILSTACK_HOSTNAME: 'mailhost' });
    // `script` gives the node a real pseudo-terminal; what is typed on our side reaches it as keys.
    const child = spawn('script', ['-qfec', `exec ${process.execPath} ${CLI} start`, '/dev/null'], { cwd: ROOT, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until('the banner', () => stripAnsi(out).includes('Stop with Ctrl-C.'), 90_000);
      const text = stripAnsi(out);
      const version = JSON.parse((await import('node:fs')).readFileSync(`${ROOT}/package.json`, 'utf8')).version;
      expect(text).toContain(`Mailstack ${version} on mailhost`);
      expect(text).toMatch(new RegExp(`data folder +${db.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      expect(text).toMatch(db.url.startsWith('postgres') ? /store +PostgreSQL postgres:\/\// : /store +SQLite /);
      expect(text).toContain(`API docs     http://127.0.0.1:${e.MAILSTACK_HTTP_PORT}/docs`);
      expect(text).toMatch(new RegExp(`MX \\(SMTP\\) +${e.MAILSTACK_SMTP_PORT} +STARTTLS, self-signed certificate`));
      expect(text).toMatch(/IMAP +off/);
      expect(text).toMatch(/web app +/);
      expect(text).toContain('next: npx mailstack setup --email');
      expect(text).toContain('warning: MAILSTACK_HOSTNAME is "mailhost", not a fully qualified domain name');
      expect(text).toContain('v=spf1 a:mailhost ~all');
      // No JSON log line on a terminal.
      expect(text.split('\n').some((l) => l.trim().startsWith('{"level"'))).toBe(false);
      child.stdin.write('\x03');
      expect(await exited).toBe(0);
      expect(stripAnsi(out)).toMatch(/shutting down.*SIGINT/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('writes one JSON object a line when stdout is not a terminal, the hostname warning among them', async () => {
    const e = await env({ MAILSTACK_HOSTNAME: 'mailhost' });
    const child = spawnCli(['start'], e);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await until('mailstack started', () => out.includes('mailstack started'), 90_000);
      child.kill('SIGTERM');
      await exited;
      const lines = out.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.find((l) => l.msg === 'mailstack started')).toMatchObject({ level: 30, service: 'mailstack' });
      const warning = lines.find((l) => l.level === 40 && l.setting === 'MAILSTACK_HOSTNAME');
      expect(warning.msg).toContain('send.<domain> MX mailhost');
      expect(out).not.toContain('Stop with Ctrl-C');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('MAILSTACK_LOG_FORMAT=pretty prints the banner off a terminal too, and a fully qualified host name gives no warning', async () => {
    const e = await env({ MAILSTACK_HOSTNAME: 'mail.example.com', MAILSTACK_LOG_FORMAT: 'pretty' });
    const child = spawnCli(['start'], e);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await until('the banner', () => out.includes('Stop with Ctrl-C.'), 90_000);
      child.kill('SIGTERM');
      await exited;
      expect(out).toContain('Mailstack ');
      expect(out).not.toContain('warning:');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
