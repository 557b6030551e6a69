// Two worker processes (real OS processes, src/testkit/job-worker-process.ts) claim from one
// database: every job runs once overall, and when one process is killed with SIGKILL mid-job, its
// lease runs out (1 s) and the other process runs the job again.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.ts';
import { type Store, openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { JobQueue } from './queue.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'src/testkit/job-worker-process.ts');

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}

let tdb: TestDatabase;
let store: Store;
let queue: JobQueue;
const procs: Proc[] = [];

async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startProcess(name: string): Promise<Proc> {
  const out = path.join(tdb.dataDir, `${name}.out`);
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, JOB_DATABASE_URL: tdb.url, JOB_OUT: out, JOB_LEASE_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc = { name, child, out, exited };
  procs.push(proc);
  await until(() => stdout.includes('ready') || child.exitCode !== null, 20_000, `${name} to start`);
  if (!stdout.includes('ready')) throw new Error(`${name} failed to start: ${stderr}`);
  return proc;
}

/** The lines a process wrote, as [word, jobId, attempt]. */
function lines(p: Proc): Array<[string, string, number]> {
  if (!existsSync(p.out)) return [];
  return readFileSync(p.out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [word, id, attempt] = l.split(' ');
      return [word, id, Number(attempt)];
    });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  store = openStore(tdb.url);
  await migrateToLatest(store.db);
  queue = new JobQueue(store, systemClock);
  await Promise.all([startProcess('p1'), startProcess('p2')]);
});

afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5_000);
      await p.exited;
      clearTimeout(timer);
    }
  }
  await store?.close();
  await tdb?.drop();
});

describe('jobs across OS processes', () => {
  it('two processes share 200 jobs and each job runs exactly once overall', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add(await queue.enqueue('record', { i }));

    const doneCount = async () =>
      (await store.db.selectFrom('jobs').select('id').where('kind', '=', 'record').where('status', '=', 'done').execute()).length;
    await until(async () => (await doneCount()) === 200, 20_000, 'all record jobs done');

    const ran = procs.flatMap((p) => lines(p).filter(([w]) => w === 'ran').map(([, id]) => id));
    expect(ran).toHaveLength(200);
    expect(new Set(ran)).toEqual(ids);
    // Both processes took part: the jobs were really shared between them.
    for (const p of procs) expect(lines(p).some(([w]) => w === 'ran')).toBe(true);
  });

  it('a job whose process is killed with SIGKILL runs again elsewhere once its lease expires', async () => {
    const id = await queue.enqueue('sleepy', {});
    let victim: Proc | undefined;
    await until(() => (victim = procs.find((p) => lines(p).some(([w, j]) => w === 'start' && j === id))) !== undefined, 10_000, 'sleepy job to start');
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    expect(await queue.get(id)).toMatchObject({ status: 'running', attempts: 1 });

    await until(async () => (await queue.get(id))!.status === 'done', 15_000, 'sleepy job done after the kill');
    const survivor = procs.find((p) => p !== victim)!;
    expect(lines(survivor)).toContainEqual(['ran', id, 2]);
    expect(lines(victim!).filter(([, j]) => j === id)).toEqual([['start', id, 1]]);
    expect(await queue.get(id)).toMatchObject({ status: 'done', attempts: 2, lease_owner: null });
  });
});
