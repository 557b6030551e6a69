// A job worker in its own OS process, for tests that need real separate processes on one database
// (src/jobs/multiprocess.test.ts). Run: node --import tsx src/testkit/job-worker-process.ts
// Environment: JOB_DATABASE_URL (the store), JOB_OUT (a file this process appends to), JOB_LEASE_MS.
// Handlers:
//   record  appends "ran <id> <attempt>" once its work is done.
//   sleepy  appends "start <id> <attempt>"; on the first attempt it then hangs (the test kills the
//           process with SIGKILL mid-job); on a later attempt it appends "ran <id> <attempt>".
// It prints "ready" on stdout once it polls, and on SIGTERM stops its worker and exits 0.
import { appendFileSync } from 'node:fs';
import pino from 'pino';
import { systemClock } from '../core/clock.ts';
import { openStore } from '../db/database.ts';
import { JobQueue } from '../jobs/queue.ts';
import { Worker } from '../jobs/worker.ts';

const url = process.env.JOB_DATABASE_URL;
const out = process.env.JOB_OUT;
if (!url || !out) {
  process.stderr.write('job-worker-process: JOB_DATABASE_URL and JOB_OUT are required\n');
  process.exit(2);
}
const leaseMs = Number(process.env.JOB_LEASE_MS ?? 1_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const store = openStore(url);
const worker = new Worker(new JobQueue(store, systemClock), {
  concurrency: 4,
  pollMs: 20,
  leaseMs,
  log: pino({ level: process.env.MAILSTACK_TEST_LOG_LEVEL ?? 'silent' }),
});
worker
  .handle('record', async (_payload, { job }) => {
    await sleep(2);
    appendFileSync(out, `ran ${job.id} ${job.attempts}\n`);
  })
  .handle('sleepy', async (_payload, { job }) => {
    appendFileSync(out, `start ${job.id} ${job.attempts}\n`);
    if (job.attempts === 1) await new Promise(() => {}); // hangs until the process is killed
    appendFileSync(out, `ran ${job.id} ${job.attempts}\n`);
  });
worker.start();
// The worker's poll timer is unref'd (a server keeps the process alive); here nothing else would.
const keepAlive = setInterval(() => {}, 60_000);
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  worker
    .stop(2_000)
    .then(() => {
      clearInterval(keepAlive);
      return store.close();
    })
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
