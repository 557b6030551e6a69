// Starts a real Mailstack node for a test: its own database (SQLite or PostgreSQL, see store.ts),
// its own data folder, HTTP on an ephemeral loopback port. Talk to it over real sockets.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Resend } from 'resend';
import { loadSettings } from '../config/settings.ts';
import type { Clock } from '../core/clock.ts';
import { setup } from '../cli/setup.ts';
import { type Platform, startPlatform } from '../platform.ts';
import { type TestDatabase, createTestDatabase } from './store.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'bin/mailstack.js');

export interface TestServer {
  platform: Platform;
  db: TestDatabase;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** The environment this node was started with, for CLI commands against the same data. */
  env: Record<string, string>;
  /** Creates a user and workspace through the CLI code path; returns its JSON. */
  setup(email: string, workspace: string, password?: string): Promise<{ workspaceId: string; userId: string; apiKey: string }>;
  /** A Resend SDK client pointed at this node. */
  resend(apiKey: string): Resend;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Extra MAILSTACK_* settings. */
  env?: Record<string, string>;
  clock?: Clock;
  /** Reuse a database (e.g. to restart a node on the same data). */
  db?: TestDatabase;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const env: Record<string, string> = {
    MAILSTACK_DATA_DIR: db.dataDir,
    MAILSTACK_DATABASE_URL: db.url,
    MAILSTACK_HOSTNAME: 'mailstack.test',
    MAILSTACK_LISTEN_ADDRESS: '127.0.0.1',
    MAILSTACK_HTTP_PORT: '0',
    MAILSTACK_LOG_LEVEL: process.env.MAILSTACK_TEST_LOG_LEVEL ?? 'silent',
    MAILSTACK_WORKER_POLL: '50ms',
    // Tests fire requests faster than the default 10/s; rate-limit tests set their own low limit.
    MAILSTACK_API_RATE_LIMIT: '100000/1s',
    // The submission doors stay shut unless a test opens them (several nodes run at once).
    MAILSTACK_SUBMISSION_PORT: '0',
    MAILSTACK_SUBMISSIONS_PORT: '0',
    // So does the MX (its default, 25, is where tests run remote MX hosts); MX tests pick a port.
    MAILSTACK_SMTP_PORT: '0',
    // POP3 likewise (110/995 by default); POP3 tests pick ports.
    MAILSTACK_POP3_PORT: '0',
    MAILSTACK_POP3S_PORT: '0',
    // IMAP likewise (143/993 by default); IMAP tests pick ports.
    MAILSTACK_IMAP_PORT: '0',
    MAILSTACK_IMAPS_PORT: '0',
    ...opts.env,
  };
  const settings = loadSettings(env);
  const platform = await startPlatform(settings, {
    clock: opts.clock,
    httpPortOverride: 0,
    log: pino({ level: env.MAILSTACK_LOG_LEVEL }),
  });
  const url = `http://127.0.0.1:${platform.httpPort}`;
  // The port is known only now: links the node mails point at it unless the test chose a URL.
  if (!opts.env?.MAILSTACK_PUBLIC_URL) {
    env.MAILSTACK_PUBLIC_URL = url;
    platform.core.settings.publicUrl = url;
  }
  let stopped = false;
  return {
    platform,
    db,
    url,
    env,
    setup: (email, workspace, password) => setup(platform.core, { email, workspace, password }),
    resend: (apiKey) => new Resend(apiKey, { baseUrl: `${url}/v1` }),
    async stop() {
      if (stopped) return;
      stopped = true;
      await platform.stop();
      if (!opts.db) await db.drop();
    },
  };
}

/** Runs the mailstack CLI synchronously with the given settings. */
export function runCli(args: string[], env: Record<string, string>, input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the mailstack CLI without blocking this process (a node of this test may be serving it). */
export function runCliAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the mailstack CLI as a child process (for `start`), returning the process. */
export function spawnCli(args: string[], env: Record<string, string>) {
  return spawn(process.execPath, [CLI, ...args], {
    // The submission doors' default ports (587, 465) and the MX's (25) would collide between nodes run at once.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', MAILSTACK_SUBMISSION_PORT: '0', MAILSTACK_SUBMISSIONS_PORT: '0', MAILSTACK_SMTP_PORT: '0', MAILSTACK_POP3_PORT: '0', MAILSTACK_POP3S_PORT: '0', MAILSTACK_IMAP_PORT: '0', MAILSTACK_IMAPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** fetch with a JSON body and the bearer key; returns status, headers and parsed body. */
export async function api(url: string, method: string, pathname: string, opts: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url + pathname, { method, headers, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for doors a test starts by number). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
