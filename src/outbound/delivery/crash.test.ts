// Durability of the MTA: `mailstack start` (a real child process) is killed with SIGKILL while
// messages are on their way to a slow MX; after a restart on the same data every queued message is
// delivered. Duplicates are allowed only for the messages that were in flight at the kill.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setup } from '../../cli/setup.ts';
import type { Core } from '../../core/core.ts';
import type { SendingDomain } from '../../domains/domains.ts';
import { type TestDns, startTestDns } from '../../testkit/dns-server.ts';
import { NodeProcesses, nodeEnv, openCoreOf } from '../../testkit/node-process.ts';
import { type TestDatabase, createTestDatabase } from '../../testkit/store.ts';
import { type TestMx, freePort, send, startMx, until, verifiedDomain } from '../../testkit/remote-mx.ts';

const SLOW = 120_000;
const COUNT = 30;
const CONCURRENCY = 4;

let db: TestDatabase;
let dns: TestDns;
let mx: TestMx;
let core: Core;
let nodes: NodeProcesses;
let workspaceId: string;
let domain: SendingDomain;

beforeAll(async () => {
  db = await createTestDatabase();
  dns = await startTestDns();
  const port = await freePort();
  mx = await startMx('127.0.0.9', port, { dataDelayMs: 150 });
  dns.mx('slow.example.net', 'mx.slow.example.net', 10);
  dns.a('mx.slow.example.net', '127.0.0.9');
  // Only the worker matters here: no mail doors (the node process opens none unless told).
  const env = nodeEnv(db, {
    MAILSTACK_DNS_SERVERS: dns.address,
    MAILSTACK_MX_PORT: String(port),
    MAILSTACK_RETRY_DELAYS: '200ms,200ms,200ms,200ms,200ms',
    MAILSTACK_WORKER_CONCURRENCY: String(CONCURRENCY),
    MAILSTACK_WORKER_POLL: '100ms',
    // A short lease, so the jobs the killed node held are picked up soon after the restart.
    MAILSTACK_JOB_LEASE: '2s',
    MAILSTACK_LOG_LEVEL: 'warn',
  });
  nodes = new NodeProcesses(env);
  core = await openCoreOf(env);
  workspaceId = (await setup(core, { email: 'owner@example.com', workspace: 'Acme' })).workspaceId;
  domain = await verifiedDomain(core, dns, workspaceId, 'durable.example.com');
}, SLOW);

afterAll(async () => {
  await nodes?.stopAll();
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
    const first = await nodes.start();
    // Mid-flight: some deliveries are recorded, others are on the wire, most are still queued.
    await until('the first recorded deliveries', async () => (await delivered()) >= 3, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredAtKill = await delivered();
    expect(deliveredAtKill).toBeLessThan(COUNT);

    await nodes.start();
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
