// Progress of long CLI work: a bar with counts and ETA on a pseudo-terminal (`script`), one JSON
// line per step off a terminal, and Ctrl-C stopping at the next step and saying what was done.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../testkit/remote-mx.ts';
import { CLI, ROOT } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';

const TASK = path.join(ROOT, 'src/testkit/progress-task.ts');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** Runs a command on a pseudo-terminal; what is written to `.stdin` is typed into it. */
function onTerminal(command: string, env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // 'close', not 'exit': when the process has exited, the last bytes on its pipes may still be unread.
  return { child, output: () => stripAnsi(out), exited: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
}

describe('progress', () => {
  it('`mailstack migrate` on a terminal shows a bar with counts and an ETA, then what it did', async () => {
    const run = onTerminal(`exec ${process.execPath} ${CLI} migrate`, { MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_LOG_LEVEL: 'silent' });
    expect(await run.exited).toBe(0);
    const out = run.output();
    expect(out).toMatch(/migrate \[[█░]+\] \d+\/\d+ migrations \d+% \| ETA/);
    expect(out).toMatch(/migrate: \d+ applied, now at \d{4}_\w+ in \d+\.\d s/);
    // The command's own result is still its JSON line.
    expect(out).toMatch(/\{"store":"(sqlite|postgres)","applied":\[/);
  }, 120_000);

  it('Ctrl-C on a terminal stops at the next step and says what was done', async () => {
    const run = onTerminal(`exec ${TSX} ${TASK}`, { STEPS: '400', STEP_MS: '150' });
    try {
      await until('a few steps', () => /\b([3-9]|\d\d)\/400 messages/.test(run.output()), 60_000);
      run.child.stdin!.write('\x03');
      expect(await run.exited).toBe(130);
      const out = run.output();
      const m = /demo import: stopped by Ctrl-C after (\d+) of 400 messages; run it again to import the rest/.exec(out);
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(3);
      expect(Number(m![1])).toBeLessThan(400);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  }, 120_000);

  it('off a terminal: one JSON line per step, and SIGINT ends with an `interrupted` line', async () => {
    const child = spawn(TSX, [TASK], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', STEPS: '40', STEP_MS: '100' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await until('three steps', () => err.split('\n').filter(Boolean).length >= 3, 60_000);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      const lines = err.trim().split('\n').map((l) => JSON.parse(l));
      const steps = lines.filter((l) => l.step);
      expect(steps[0]).toMatchObject({ task: 'demo import', step: 'message 1', done: 1, total: 40 });
      expect(typeof steps[1].eta_ms).toBe('number');
      expect(lines.at(-1)).toMatchObject({ task: 'demo import', interrupted: true, done: steps.length, total: 40 });
      expect(lines.at(-1).message).toContain('run it again');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
