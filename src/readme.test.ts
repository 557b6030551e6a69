// The README's "Send your first email in two minutes" runs exactly as written: `mailstack dev` on a
// fresh data folder, the `first-email.mjs` block saved in the checkout and run with the key the
// node printed, and what it prints is what the README says it prints. Run twice: a second run (the
// domain already there) works too.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './testkit/remote-mx.ts';
import { ROOT, freePort, spawnCli } from './testkit/server.ts';
import { type TestDatabase, createTestDatabase } from './testkit/store.ts';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const section = README.slice(README.indexOf('## Send your first email in two minutes'));
const script = /```js\n(\/\/ first-email\.mjs[\s\S]*?)```/.exec(section)?.[1];
const run = /```sh\n(MAILSTACK_API_KEY=ms_… node first-email\.mjs)\n((?:# .*\n)+)```/.exec(section);

let db: TestDatabase;
let dir: string;
let node: ReturnType<typeof spawnCli>;
let url: string;
let apiKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  node = spawnCli(['dev'], { MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_HTTP_PORT: String(port), MAILSTACK_LOG_FORMAT: 'json', MAILSTACK_WORKER_POLL: '50ms' });
  let out = '';
  node.stdout!.on('data', (d) => (out += d));
  node.stderr!.on('data', (d) => (out += d));
  const ready = await until(
    'mailstack dev to print its workspace',
    () => {
      if (node.exitCode !== null) throw new Error(`mailstack dev exited:\n${out}`);
      return out.split('\n').map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((l) => l?.msg === 'development workspace ready');
    },
    90_000,
  );
  apiKey = ready.apiKey;
  // Saved in the checkout folder, as the README says (that is where `resend` resolves from).
  dir = path.join(ROOT, '.tmp', `readme-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'first-email.mjs'), script!);
}, 120_000);

afterAll(async () => {
  if (node && node.exitCode === null) {
    const exited = new Promise((resolve) => node.once('exit', resolve));
    node.kill('SIGINT');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  await db?.drop();
});

function runScript(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['first-email.mjs'], { cwd: dir, env: { PATH: process.env.PATH ?? '', MAILSTACK_API_KEY: apiKey, MAILSTACK_URL: url }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('README: send your first email in two minutes', () => {
  it('has the walkthrough: the commands and the script', () => {
    expect(section).toContain('npm install && npx mailstack dev    # Ctrl-C stops it');
    expect(script).toBeDefined();
    expect(run).not.toBeNull();
  });

  it('runs as written against a development node on a fresh data folder, and prints what the README says', async () => {
    const expected = run![2].trim().split('\n').map((l) => l.replace(/^# /, ''));
    const first = await runScript();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual(expected);
    // Again, with the domain already there.
    const second = await runScript();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim().split('\n')).toEqual(expected);
  });
});
