// Starting and stopping one node: open the store, migrate, load the vault, start the job worker
// and scheduler, open the doors. Stopping is the reverse, and graceful: doors stop accepting,
// in-flight requests and jobs finish (up to MAILSTACK_SHUTDOWN_TIMEOUT), leases are released.
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Settings } from './config/settings.ts';
import { type Clock, systemClock } from './core/clock.ts';
import type { Core } from './core/core.ts';
import { openStore } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { buildHttpServer } from './http/server.ts';
import { JobQueue } from './jobs/queue.ts';
import { Scheduler } from './jobs/scheduler.ts';
import { Worker } from './jobs/worker.ts';
import { SYSTEM_MAIL_JOB, systemMailHandler } from './outbound/system-mail.ts';
import { loadVault } from './secrets/vault.ts';
import { registerHousekeeping } from './jobs/housekeeping.ts';
import { webhookDeliveryHandler } from './events/delivery.ts';
import { WEBHOOK_DELIVERY_JOB } from './events/webhooks.ts';
import { registerDomainJobs } from './domains/verify.ts';
import { RELEASE_JOB, releaseHandler } from './outbound/accept.ts';
import { registerRetention } from './outbound/retention.ts';
import { registerMailPurge } from './mailstore/purge.ts';
import { registerSpam } from './spam/learn.ts';
import { registerPrivacyRetention } from './privacy/retention.ts';
import { type SubmissionDoors, startSubmission } from './smtp/submission.ts';
import { type MxDoor, startMx } from './smtp/mx.ts';
import { type ImapDoor, startImap } from './imap/server.ts';
import { type Pop3Door, startPop3 } from './pop3/server.ts';
import { loadTlsMaterial } from './tls/certificate.ts';
import { checkMode } from './devmode/mode.ts';
import { metricsOf } from './metrics/metrics.ts';
import { type MetricsListener, startMetricsListener } from './metrics/listener.ts';
import { registerEmailJobs } from './outbound/emails.ts';
import { registerExports } from './privacy/export.ts';
import { registerScheduledBackups } from './backup/backup.ts';
import { registerBroadcastJobs } from './campaigns/broadcasts.ts';
import { registerImportJobs } from './campaigns/imports.ts';
import { DELIVER_JOB, closeDelivery, deliverHandler } from './outbound/delivery/deliver.ts';

export interface Platform {
  core: Core;
  worker: Worker;
  scheduler: Scheduler;
  http: FastifyInstance | null;
  /** The port the HTTP door listens on (useful when configured as an ephemeral port in tests). */
  httpPort: number | null;
  /** The port of /metrics' own listener (MAILSTACK_METRICS_ADDRESS), or null. */
  metricsPort: number | null;
  stop(): Promise<void>;
}

/** JSON lines by default; `pretty` gives readable lines for a person at a terminal. */
export function createLogger(settings: Settings, format: 'json' | 'pretty' = 'json'): Logger {
  const opts = { level: settings.logLevel, base: { service: 'mailstack' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'json') return pino(opts);
  return pino(opts, pretty({ sync: true, colorize: !!process.stdout.isTTY, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss', singleLine: true }));
}

/** Opens the store and vault and migrates: what both the server and CLI commands need. */
export async function openCore(settings: Settings, log: Logger, clock: Clock = systemClock): Promise<Core> {
  let core: Core | undefined;
  const store = openStore(settings.databaseUrl, { onQuery: (seconds, ok) => core && metricsOf(core).query(settings.store, seconds, ok) });
  try {
    await migrateToLatest(store.db);
  } catch (err) {
    await store.close();
    throw err;
  }
  const vault = loadVault(settings.dataDir, settings.masterKey, settings.masterKeysPrevious);
  core = { settings, store, db: store.db, vault, jobs: new JobQueue(store, clock), clock, log };
  return core;
}

export interface StartOptions {
  clock?: Clock;
  log?: Logger;
  /** Listen on an ephemeral HTTP port instead of settings.httpPort (tests). */
  httpPortOverride?: number;
}

export async function startPlatform(settings: Settings, opts: StartOptions = {}): Promise<Platform> {
  const log = opts.log ?? createLogger(settings);
  const core = await openCore(settings, log, opts.clock);
  try {
    await checkMode(core);
  } catch (err) {
    await core.store.close();
    throw err;
  }
  let ready = false;

  const worker = new Worker(core.jobs, {
    concurrency: settings.workerConcurrency,
    pollMs: settings.workerPollMs,
    leaseMs: settings.jobLeaseMs,
    log: log.child({ part: 'worker' }),
    onJobDone: (job, outcome, seconds) => metricsOf(core).jobDone(job.kind, outcome, seconds),
  });
  worker.handle(SYSTEM_MAIL_JOB, systemMailHandler(core));
  worker.handle(WEBHOOK_DELIVERY_JOB, webhookDeliveryHandler(core));
  worker.handle(RELEASE_JOB, releaseHandler(core));
  worker.handle(DELIVER_JOB, deliverHandler(core));
  const scheduler = new Scheduler(core.store, core.jobs, core.clock, log.child({ part: 'scheduler' }));
  registerHousekeeping(core, worker, scheduler);
  registerDomainJobs(core, worker, scheduler);
  registerRetention(core, worker, scheduler);
  registerMailPurge(core, worker, scheduler);
  registerPrivacyRetention(core, worker, scheduler);
  registerEmailJobs(core, worker, scheduler);
  registerExports(core, worker, scheduler);
  registerScheduledBackups(core, worker, scheduler);
  registerBroadcastJobs(core, worker);
  registerImportJobs(core, worker);
  registerSpam(core, worker);

  let http: FastifyInstance | null = null;
  let httpPort: number | null = null;
  const port = opts.httpPortOverride ?? settings.httpPort;
  if (port !== 0 || opts.httpPortOverride === 0) {
    http = await buildHttpServer(core, { isReady: () => ready });
    await http.listen({ port, host: settings.listenAddress });
    const addr = http.server.address();
    httpPort = typeof addr === 'object' && addr ? addr.port : port;
  }

  // The SMTP relay (submission on 587 with STARTTLS, 465 with implicit TLS; 0 disables each).
  let submission: SubmissionDoors | null = null;
  try {
    submission = await startSubmission(core);
  } catch (err) {
    await http?.close();
    await core.store.close();
    throw err;
  }

  // The inbound MX on MAILSTACK_SMTP_PORT (bounces and complaints now, hosted mail later; 0 disables).
  let mx: MxDoor | null = null;
  if (settings.smtpPort !== 0) {
    try {
      mx = await startMx(core, { port: settings.smtpPort, host: settings.listenAddress, tls: loadTlsMaterial(settings), closeTimeoutMs: settings.shutdownTimeoutMs, maxMessageBytes: settings.maxMessageBytes, maxHeaderBytes: settings.mxMaxHeaderBytes });
    } catch (err) {
      await submission?.stop();
      await http?.close();
      await core.store.close();
      throw err;
    }
  }

  // POP3 on MAILSTACK_POP3_PORT (STLS) and MAILSTACK_POP3S_PORT (implicit TLS); 0 disables each.
  let pop3: Pop3Door | null = null;
  if (settings.pop3Port !== 0 || settings.pop3sPort !== 0) {
    try {
      pop3 = await startPop3(core, { port: settings.pop3Port, securePort: settings.pop3sPort, host: settings.listenAddress, tls: loadTlsMaterial(settings), closeTimeoutMs: settings.shutdownTimeoutMs });
    } catch (err) {
      await mx?.close();
      await submission?.stop();
      await http?.close();
      await core.store.close();
      throw err;
    }
  }

  // IMAP on MAILSTACK_IMAP_PORT (STARTTLS) and MAILSTACK_IMAPS_PORT (implicit TLS); 0 disables each.
  const imap: ImapDoor[] = [];
  try {
    for (const [port, implicitTls] of [[settings.imapPort, false], [settings.imapsPort, true]] as const) {
      if (port !== 0) imap.push(await startImap(core, { port, host: settings.listenAddress, tls: loadTlsMaterial(settings), implicitTls, maxMessageBytes: settings.maxMessageBytes }));
    }
  } catch (err) {
    await Promise.all(imap.map((d) => d.close()));
    await pop3?.close();
    await mx?.close();
    await submission?.stop();
    await http?.close();
    await core.store.close();
    throw err;
  }

  // /metrics on its own listener (MAILSTACK_METRICS_ADDRESS), when asked for.
  let metricsListener: MetricsListener | null = null;
  if (settings.metricsAddress) {
    try {
      metricsListener = await startMetricsListener(core, settings.metricsAddress);
    } catch (err) {
      await Promise.all(imap.map((d) => d.close()));
      await pop3?.close();
      await mx?.close();
      await submission?.stop();
      await http?.close();
      await core.store.close();
      throw err;
    }
  }

  await scheduler.start();
  worker.start();
  ready = true;
  log.info({ httpPort, store: settings.store, dataDir: settings.dataDir }, 'mailstack started');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      ready = false;
      scheduler.stop();
      // Fastify's close stops accepting at once and waits for in-flight requests.
      const closing = http?.close();
      const closingSubmission = submission?.stop();
      const closingMx = mx?.close();
      const closingPop3 = pop3?.close();
      const closingImap = Promise.all(imap.map((d) => d.close()));
      const closingMetrics = metricsListener?.close();
      await worker.stop(settings.shutdownTimeoutMs);
      closeDelivery(core);
      await closing;
      await closingSubmission;
      await closingMx;
      await closingPop3;
      await closingImap;
      await closingMetrics;
      await core.store.close();
      log.info('mailstack stopped');
    })());

  return { core, worker, scheduler, http, httpPort, metricsPort: metricsListener?.port ?? null, stop };
}
