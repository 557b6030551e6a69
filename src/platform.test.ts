// Operations: health, Prometheus metrics, the OpenAPI document and its reference page, and a
// graceful shutdown of `mailstack start` on SIGTERM (in-flight jobs finish; a job still running at
// MAILSTACK_SHUTDOWN_TIMEOUT is given back to the queue).
//
// The shutdown tests use a real job kind, the platform's own mail (sign-in links), sent through a
// smarthost that is an SMTP server on loopback holding its reply to DATA for as long as the test
// wants: the job is in flight exactly while the test says so.
import type { ChildProcess } from 'node:child_process';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadSettings } from './config/settings.ts';
import type { Core } from './core/core.ts';
import { SYSTEM_MAIL_JOB, queueSystemMail } from './outbound/system-mail.ts';
import { openCore } from './platform.ts';
import { type TestServer, api, freePort, spawnCli, startTestServer } from './testkit/server.ts';
import { type TestDatabase, createTestDatabase } from './testkit/store.ts';

const SLOW = 180_000;

describe('health, metrics and the API document', () => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startTestServer();
    ({ apiKey: key } = await server.setup('ops@example.com', 'Ops'));
  });
  afterAll(() => server?.stop());

  it('answers /healthz with 200 {status: ok} without a key', async () => {
    const r = await api(server.url, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
  });

  it('counts requests by route and status, with a latency histogram and queue depth', async () => {
    for (let i = 0; i < 3; i++) expect((await api(server.url, 'GET', '/v1/api-keys', { key })).status).toBe(200);
    expect((await api(server.url, 'GET', '/v1/api-keys')).status).toBe(401);
    expect((await api(server.url, 'DELETE', `/v1/api-keys/${'x'.repeat(20)}`, { key })).status).toBe(404);
    expect((await api(server.url, 'GET', '/v1/no/such/path/12345')).status).toBe(404);
    const queue = server.platform.core.jobs;
    await queue.enqueue('test.metrics.unhandled', {}, { runAt: Date.now() + 3_600_000 });
    await queue.enqueue('test.metrics.unhandled', {}, { runAt: Date.now() + 3_600_000 });

    const r = await api(server.url, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const value = (line: RegExp) => {
      const m = r.text.split('\n').find((l) => line.test(l));
      return m === undefined ? undefined : Number(m.split(' ').pop());
    };
    expect(value(/^mailstack_http_requests_total\{route="\/v1\/api-keys",method="GET",status="200"\} /)).toBe(3);
    expect(value(/^mailstack_http_requests_total\{route="\/v1\/api-keys",method="GET",status="401"\} /)).toBe(1);
    // Routes are labelled by pattern, not by path, so ids do not blow up the label space.
    expect(value(/^mailstack_http_requests_total\{route="\/v1\/api-keys\/:id",method="DELETE",status="404"\} /)).toBe(1);
    expect(r.text).not.toContain('x'.repeat(20));
    expect(r.text).not.toContain('/no/such/path');
    expect(value(/^mailstack_http_requests_total\{route="unmatched",method="GET",status="404"\} /)).toBe(1);

    expect(r.text).toContain('# TYPE mailstack_http_request_duration_seconds histogram');
    expect(value(/^mailstack_http_request_duration_seconds_count\{route="\/v1\/api-keys",method="GET"\} /)).toBe(4);
    expect(value(/^mailstack_http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/api-keys",method="GET"\} /)).toBe(4);

    expect(r.text).toContain('# TYPE mailstack_jobs gauge');
    expect(value(/^mailstack_jobs\{status="queued"\} /)).toBeGreaterThanOrEqual(2);
    expect(value(/^mailstack_jobs\{status="dead"\} /)).toBe(0);
  });

  it('serves an OpenAPI 3.1 document of the API', async () => {
    const r = await api(server.url, 'GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    expect(r.json.info.title).toEqual(expect.any(String));
    const paths = Object.keys(r.json.paths);
    for (const p of ['/v1/api-keys', '/v1/api-keys/{id}', '/v1/workspace', '/v1/members', '/v1/audit-log', '/v1/auth/login']) {
      expect(paths).toContain(p);
    }
    expect(Object.keys(r.json.paths['/v1/api-keys'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(r.json.paths['/v1/api-keys'].post.requestBody).toBeDefined();
    expect(r.json.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Operational endpoints are not part of the API.
    expect(paths).not.toContain('/healthz');
    expect(paths).not.toContain('/metrics');
  });

  it('serves a readable reference page at /docs', async () => {
    const r = await fetch(`${server.url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await r.text();
    expect(html).toMatch(/<html/i);
    expect(html.toLowerCase()).toContain('swagger');
  });
});

// ---------------------------------------------------------------------------------------------

/** An SMTP smarthost on loopback that holds each reply to DATA until the test releases it. */
async function startHoldingRelay() {
  const held: (() => void)[] = [];
  const received: string[] = [];
  let arrived: (() => void) | null = null;
  const relay = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d.toString()));
      stream.on('end', () => {
        received.push(raw);
        held.push(() => callback());
        arrived?.();
      });
    },
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const port = (relay.server.address() as { port: number }).port;
  return {
    port,
    received,
    /** Resolves once a message is being held (bounded by the caller's test timeout). */
    whenHolding: () => (held.length > 0 ? Promise.resolve() : new Promise<void>((r) => (arrived = r))),
    releaseAll: () => held.splice(0).forEach((f) => f()),
    close: () => new Promise<void>((r) => relay.close(() => r())),
  };
}


async function until(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

interface Node {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startNode(db: TestDatabase, relayPort: number, shutdownTimeout: string): Promise<Node> {
  const port = await freePort();
  const child = spawnCli(['start'], {
    MAILSTACK_DATA_DIR: db.dataDir,
    MAILSTACK_DATABASE_URL: db.url,
    MAILSTACK_HOSTNAME: 'mailstack.test',
    MAILSTACK_LISTEN_ADDRESS: '127.0.0.1',
    MAILSTACK_HTTP_PORT: String(port),
    MAILSTACK_SMARTHOST: `smtp://127.0.0.1:${relayPort}`,
    MAILSTACK_SHUTDOWN_TIMEOUT: shutdownTimeout,
    MAILSTACK_WORKER_POLL: '100ms',
    MAILSTACK_LOG_LEVEL: 'warn',
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const node = { child, url: `http://127.0.0.1:${port}`, output: () => out, exited };
  await until('mailstack start to answer /healthz', async () => {
    if (child.exitCode !== null) throw new Error(`mailstack start exited with ${child.exitCode}:\n${out}`);
    return healthy(node.url);
  }, 90_000);
  return node;
}

describe('graceful shutdown of mailstack start on SIGTERM', () => {
  let db: TestDatabase;
  let relay: Awaited<ReturnType<typeof startHoldingRelay>>;
  // The test's own handle on the node's database and vault, as a CLI command would open it.
  let core: Core;
  const nodes: Node[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    relay = await startHoldingRelay();
    core = await openCore(loadSettings({ MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_HOSTNAME: 'mailstack.test' }), pino({ level: 'silent' }));
  });
  afterAll(async () => {
    for (const n of nodes) {
      if (n.child.exitCode === null && n.child.signalCode === null) {
        n.child.kill('SIGKILL');
        await n.exited;
      }
    }
    relay?.releaseAll();
    await core?.store.close();
    await relay?.close();
    await db?.drop();
  }, SLOW);

  /** Queues a sign-in-style mail the way the platform does (text sealed in the job); returns the job. */
  async function queueMail(subject: string) {
    await queueSystemMail(core, { to: 'someone@example.com', subject, text: 'a sign-in link' });
    return core.db.selectFrom('jobs').select('id').where('kind', '=', SYSTEM_MAIL_JOB).orderBy('id', 'desc').executeTakeFirstOrThrow().then((r) => r.id);
  }
  const job = (id: string) => core.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('stops accepting, lets an in-flight job finish, then exits 0', async () => {
    const node = await startNode(db, relay.port, '60s');
    nodes.push(node);
    const id = await queueMail('in flight at shutdown');
    await relay.whenHolding();
    expect((await job(id)).status).toBe('running');

    node.child.kill('SIGTERM');
    // Doors close first: /healthz stops answering 200 …
    await until('the HTTP door to stop answering', async () => !(await healthy(node.url)));
    // … but the process waits for the job it is running.
    expect(node.child.exitCode).toBeNull();
    expect((await job(id)).status).toBe('running');

    relay.releaseAll();
    const { code } = await node.exited;
    expect(code, node.output()).toBe(0);
    const done = await job(id);
    expect(done.status).toBe('done');
    expect(done.lease_owner).toBeNull();
    expect(relay.received.some((m) => m.includes('Subject: in flight at shutdown'))).toBe(true);
  }, SLOW);

  it('gives a job still running at MAILSTACK_SHUTDOWN_TIMEOUT back to the queue and exits 0', async () => {
    const node = await startNode(db, relay.port, '300ms');
    nodes.push(node);
    const id = await queueMail('stuck at shutdown');
    await relay.whenHolding();
    const claimed = await job(id);
    expect(claimed).toMatchObject({ status: 'running', attempts: 1 });
    expect(claimed.lease_owner).toEqual(expect.any(String));

    node.child.kill('SIGTERM');
    const { code } = await node.exited;
    expect(code, node.output()).toBe(0);

    // Released untouched: queued, no lease, the attempt not counted, so any node runs it at once.
    const released = await job(id);
    expect(released).toMatchObject({ status: 'queued', attempts: 0, lease_owner: null, lease_expires_at: null, last_error: null });
    expect(released.run_at).toBeLessThanOrEqual(Date.now());
    relay.releaseAll();
  }, SLOW);
});
