// Prometheus metrics of one node: what operators watch. One registry per Core (several nodes run
// in one test process), reached with `metricsOf(core)`. Doors and core services call the small
// named hooks below (one line at the place the thing happens); `/metrics` (src/http/metrics.ts,
// or its own listener, src/metrics/listener.ts) renders the registry.
//
// Implementation notes:
// - Labels stay low-cardinality: a workspace id (bounded by the workspaces of the node), a door,
//   a job kind, a reason from a closed set. Never an address, a message id or a URL.
// - Counters count what this process did since it started (Prometheus' `rate()` and `increase()`
//   are made for that, and sum across nodes). A status counted inside a transaction that then
//   rolls back is still counted: rare (the transaction retries), and a counter must never block.
// - Gauges of shared state (queue depth, oldest queued message, blob bytes) are read from the
//   store at scrape time; the blob folder is walked at most once a minute.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Core } from '../core/core.ts';

export type Door = 'smtp-mx' | 'submission' | 'imap' | 'pop3' | 'http';

const BLOB_SCAN_EVERY_MS = 60_000;

function create(core: Core) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mailstack_' });
  const r = [registry];

  const accepted = new Counter({ name: 'mailstack_messages_accepted_total', help: 'Outbound messages accepted for delivery (one per recipient), by workspace and source', labelNames: ['workspace', 'source'] as const, registers: r });
  const delivered = new Counter({ name: 'mailstack_messages_delivered_total', help: 'Recipients delivered (the remote MX answered 250), by workspace', labelNames: ['workspace'] as const, registers: r });
  const deferred = new Counter({ name: 'mailstack_messages_deferred_total', help: 'Delivery attempts deferred (a 4xx or no MX reachable), by workspace', labelNames: ['workspace'] as const, registers: r });
  const bounced = new Counter({ name: 'mailstack_messages_bounced_total', help: 'Recipients bounced, by workspace and bounce type (Permanent, Transient, Undetermined)', labelNames: ['workspace', 'type'] as const, registers: r });
  const complained = new Counter({ name: 'mailstack_messages_complained_total', help: 'Recipients who reported a message as spam, by workspace', labelNames: ['workspace'] as const, registers: r });
  const suppressed = new Counter({ name: 'mailstack_messages_suppressed_total', help: 'Recipients not contacted because the address is suppressed, by workspace and reason', labelNames: ['workspace', 'reason'] as const, registers: r });
  const failed = new Counter({ name: 'mailstack_messages_failed_total', help: 'Recipients that failed for good (an internal reason, not the remote side), by workspace', labelNames: ['workspace'] as const, registers: r });
  const received = new Counter({ name: 'mailstack_messages_received_total', help: 'Inbound messages stored in hosted mailboxes, by workspace', labelNames: ['workspace'] as const, registers: r });

  const sessionsOpen = new Gauge({ name: 'mailstack_sessions_open', help: 'Client sessions open now, by door', labelNames: ['door'] as const, registers: r });
  const sessions = new Counter({ name: 'mailstack_sessions_total', help: 'Client sessions opened, by door', labelNames: ['door'] as const, registers: r });
  const authFailures = new Counter({ name: 'mailstack_auth_failures_total', help: 'Failed logins, by door', labelNames: ['door'] as const, registers: r });

  const webhookDeliveries = new Counter({ name: 'mailstack_webhook_deliveries_total', help: 'Webhook delivery attempts, by result (success, failure)', labelNames: ['result'] as const, registers: r });
  const jobDuration = new Histogram({
    name: 'mailstack_job_duration_seconds',
    help: 'Time a job ran, by kind and outcome (done, retry, dead)',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 120],
    registers: r,
  });
  const deadJobs = new Counter({ name: 'mailstack_jobs_dead_total', help: 'Jobs that failed for good (dead letters), by kind', labelNames: ['kind'] as const, registers: r });
  const queryDuration = new Histogram({
    name: 'mailstack_store_query_duration_seconds',
    help: 'Database query latency, by store and result',
    labelNames: ['store', 'result'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
    registers: r,
  });
  const blobWritten = new Counter({ name: 'mailstack_blob_written_bytes_total', help: 'Bytes of new message and attachment files written to the blob store', registers: r });

  new Gauge({
    name: 'mailstack_jobs',
    help: 'Jobs in the durable queue by status (queued, running, dead)',
    labelNames: ['status'] as const,
    registers: r,
    async collect() {
      for (const [status, n] of Object.entries(await core.jobs.depth())) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'mailstack_queue_depth',
    help: 'Outbound recipients waiting for delivery (sent to the MTA or deferred), all workspaces',
    registers: r,
    async collect() {
      const row = await core.db.selectFrom('email_recipients').select((eb) => eb.fn.countAll<number>().as('n')).where('status', 'in', ['sent', 'delivery_delayed']).executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'mailstack_queue_oldest_seconds',
    help: 'Age of the oldest outbound recipient still waiting for delivery (0 when none)',
    registers: r,
    async collect() {
      const row = await core.db.selectFrom('email_recipients').select((eb) => eb.fn.min('created_at').as('t')).where('status', 'in', ['sent', 'delivery_delayed']).executeTakeFirst();
      const t = row?.t === null || row?.t === undefined ? null : Number(row.t);
      this.set(t === null ? 0 : Math.max(0, (core.clock.now() - t) / 1000));
    },
  });
  let blobScan: { at: number; bytes: number } | null = null;
  new Gauge({
    name: 'mailstack_blob_bytes',
    help: 'Bytes held in the blob store folder (rescanned at most once a minute)',
    registers: r,
    async collect() {
      if (!blobScan || Date.now() - blobScan.at > BLOB_SCAN_EVERY_MS) blobScan = { at: Date.now(), bytes: await folderBytes(path.join(core.settings.dataDir, 'blobs')) };
      this.set(blobScan.bytes);
    },
  });

  return {
    registry,
    accepted: (workspace: string, source: string) => accepted.inc({ workspace, source }),
    /** A recipient's status changed (src/outbound/recipients.ts); `detail` for bounce type and reason. */
    status(workspace: string, status: string, detail: { bounceType?: string; suppressedReason?: string } = {}) {
      switch (status) {
        case 'delivered': return delivered.inc({ workspace });
        case 'delivery_delayed': return deferred.inc({ workspace });
        case 'bounced': return bounced.inc({ workspace, type: detail.bounceType ?? 'Undetermined' });
        case 'complained': return complained.inc({ workspace });
        case 'suppressed': return suppressed.inc({ workspace, reason: detail.suppressedReason ?? 'unknown' });
        case 'failed': return failed.inc({ workspace });
      }
    },
    received: (workspace: string) => received.inc({ workspace }),
    sessionOpened(door: Door) {
      sessions.inc({ door });
      sessionsOpen.inc({ door });
    },
    sessionClosed: (door: Door) => sessionsOpen.dec({ door }),
    authFailed: (door: Door) => authFailures.inc({ door }),
    webhookAttempt: (ok: boolean) => webhookDeliveries.inc({ result: ok ? 'success' : 'failure' }),
    jobDone(kind: string, outcome: 'done' | 'retry' | 'dead', seconds: number) {
      jobDuration.observe({ kind, outcome }, seconds);
      if (outcome === 'dead') deadJobs.inc({ kind });
    },
    query: (store: string, seconds: number, ok: boolean) => queryDuration.observe({ store, result: ok ? 'ok' : 'error' }, seconds),
    blobWritten: (bytes: number) => blobWritten.inc(bytes),
  };
}

export type Metrics = ReturnType<typeof create>;

const byCore = new WeakMap<Core, Metrics>();

/** This node's metrics (made on first use). */
export function metricsOf(core: Core): Metrics {
  let m = byCore.get(core);
  if (!m) byCore.set(core, (m = create(core)));
  return m;
}

/** Sum of file sizes under a folder (0 when it does not exist). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += await stat(p).then((s) => s.size, () => 0);
  }
  return total;
}

/** True when an Authorization header carries MAILSTACK_METRICS_TOKEN (always, when none is set). */
export function metricsAuthorized(core: Core, authorization: string | undefined): boolean {
  const token = core.settings.metricsToken;
  if (token === null) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return false;
  // Compared as digests so neither the length nor the content leaks through timing.
  return timingSafeEqual(createHash('sha256').update(m[1]).digest(), createHash('sha256').update(token).digest());
}
