// Durability of the MTA: `mailstack start` (a real child process) is killed with SIGKILL while
// messages are on their way to a slow MX; after a restart on the same data every queued message is
// delivered. Duplicates are allowed only for the messages that were in flight at the kill.
import type { ChildProcess } from 'node:child_process';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setup } from '../../cli/setup.ts';
import { loadSettings } from '../../config/settings.ts';
import type { Core } from '../../core/core.ts';
import type { SendingDomain } from '../../domains/domains.ts';
import { type TestDns, startTestDns } from '../../domains/test-dns.ts';
import { openCore } from '../../platform.ts';
import { spawnCli } from '../../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../../testkit/store.ts';
import { type TestMx, freePort, send, startMx, until, verifiedDomain } from './testkit.ts';

const SLOW = 120_000;
const COUNT = 30;
const CONCURRENCY = 4;

let db: TestDatabase;
let dns: TestDns;
let mx: TestMx;
let core: Core;
let env: Record<string, string>;
let workspaceId: string;
let domain: SendingDomain;
const children: { child: ChildProcess; exited: Promise<unknown> }[] = [];

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

async function startNode() {
  const httpPort = await freePort();
  const child = spawnCli(['start'], { ...env, MAILSTACK_HTTP_PORT: String(httpPort) });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  children.push({ child, exited });
  await until('mailstack start to answer /healthz', async () => {
    if (child.exitCode !== null) throw new Error(`mailstack start exited with ${child.exitCode}:\n${out}`);
    return healthy(`http://127.0.0.1:${httpPort}`);
  }, 90_000);
  return { child, exited };
}

beforeAll(async () => {
  db = await createTestDatabase();
  dns = await startTestDns();
  const port = await freePort();
  mx = await startMx('127.0.0.9', port, { dataDelayMs: 150 });
  dns.mx('slow.example.net', 'mx.slow.example.net', 10);
  dns.a('mx.slow.example.net', '127.0.0.9');
  env = {
    MAILSTACK_DATA_DIR: db.dataDir,
    MAILSTACK_DATABASE_URL: db.url,
    MAILSTACK_HOSTNAME: 'mailstack.test',
    MAILSTACK_LISTEN_ADDRESS: '127.0.0.1',
    MAILSTACK_DNS_SERVERS: dns.address,
    MAILSTACK_MX_PORT: String(port),
    MAILSTACK_RETRY_DELAYS: '200ms,200ms,200ms,200ms,200ms',
    MAILSTACK_WORKER_CONCURRENCY: String(CONCURRENCY),
    MAILSTACK_WORKER_POLL: '100ms',
    // A short lease, so the jobs the killed node held are picked up soon after the restart.
    MAILSTACK_JOB_LEASE: '2s',
    MAILSTACK_LOG_LEVEL: 'warn',
    // Only the worker matters here: no mail doors.
    MAILSTACK_SMTP_PORT: '0',
    MAILSTACK_SUBMISSION_PORT: '0',
    MAILSTACK_SUBMISSIONS_PORT: '0',
    MAILSTACK_IMAP_PORT: '0',
    MAILSTACK_IMAPS_PORT: '0',
    MAILSTACK_POP3_PORT: '0',
    MAILSTACK_POP3S_PORT: '0',
  };
  // The test's own handle on the same database and data folder, as a CLI command would open it.
  core = await openCore(loadSettings(env), pino({ level: 'silent' }));
  workspaceId = (await setup(core, { email: 'owner@example.com', workspace: 'Acme' })).workspaceId;
  domain = await verifiedDomain(core, dns, workspaceId, 'durable.example.com');
}, SLOW);

afterAll(async () => {
  for (const c of children) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  }
  await core?.store.close();
  await mx?.close();
  await dns?.close();
  await db?.drop();
}, SLOW);

const delivered = async () =>
  Number((await core.db.selectFrom('email_recipients').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'delivered').executeTakeFirstOrThrow()).n);

describe('kill -9 of mailstack start with mail in flight', () => {
  it('loses nothing: after a restart every queued message is delivered', async () => {
    const subjects: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      subjects.push(`durable ${i}`);
      await send(core, workspaceId, domain, [`user${i}@slow.example.net`], `durable ${i}`);
    }
    const first = await startNode();
    // Mid-flight: some deliveries are recorded, others are on the wire, most are still queued.
    await until('the first recorded deliveries', async () => (await delivered()) >= 3, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredAtKill = await delivered();
    expect(deliveredAtKill).toBeLessThan(COUNT);

    await startNode();
    await until('every recipient delivered', async () => (await delivered()) === COUNT, 90_000);

    // Every message reached the MX at least once …
    const received = mx.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())![1].trim());
    for (const s of subjects) expect(received).toContain(s);
    // … and only those in flight at the kill can have arrived twice.
    const duplicates = received.length - new Set(received).size;
    expect(duplicates).toBeLessThanOrEqual(CONCURRENCY);
    const statuses = await core.db.selectFrom('email_recipients').select('status').execute();
    expect(statuses.every((s) => s.status === 'delivered')).toBe(true);
  }, SLOW);
});
