// Webhook delivery: one job per HTTP attempt (see the notes in webhooks.ts).
//
// Implementation notes:
// - The request follows Standard Webhooks (https://www.standardwebhooks.com/, "Sending webhooks"):
//   POST of the stored JSON payload with `webhook-id`, `webhook-timestamp` and `webhook-signature`;
//   any 2xx is success; anything else (3xx included: redirects are never followed, so a redirect
//   cannot lead the request to another host), a network error or no answer within 15 s is a
//   failed attempt, retried after the delays in MAILSTACK_WEBHOOK_RETRY_DELAYS (default 5s, 5m,
//   30m, 2h, 5h, 10h, 14h: eight attempts over about 31½ hours) and then given up (`failed`).
// - The target host is resolved and checked (address.ts) before every attempt, and the socket is
//   opened only to those checked addresses through a pinned `lookup`, so DNS rebinding between check and
//   connect cannot send the request elsewhere. TLS still verifies the certificate against the
//   host name in the URL.
// - The HTTP request happens outside any transaction; its outcome is recorded in one transaction
//   guarded by (series, attempt), so a duplicate run records nothing twice.
// - Auto-disable: an endpoint remembers when its current run of failures began (`failing_since`,
//   cleared by any success). When an attempt fails and that run is at least 5 days old (every
//   attempt to it over 5 days has failed), the endpoint is disabled, its pending deliveries are
//   given up, and the audit log records `webhook.disabled` by the system. Re-enabling it through
//   `webhooks.update({ status: 'enabled' })` starts afresh.
// - The response is read up to a few KB only, and an excerpt of it kept with the attempt.
import type { Settings } from '../config/settings.ts';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { JobHandler } from '../jobs/worker.ts';
import { type ResolvedTarget, resolveTarget } from './address.ts';
import { signedHeaders } from './signature.ts';
import { type DeliveryJob, autoDisable, enqueueDelivery } from './webhooks.ts';
import { metricsOf } from '../metrics/metrics.ts';

export const DELIVERY_TIMEOUT_MS = 15_000;
/** An endpoint whose every attempt has failed for this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3_600_000;
const RESPONSE_READ_LIMIT = 4096;
const RESPONSE_EXCERPT = 500;

export interface AttemptResult {
  /** The HTTP status, or null when no answer came. */
  status: number | null;
  response: string;
  error: string | null;
  durationMs: number;
}

export function webhookDeliveryHandler(core: Core): JobHandler {
  return async (payload: DeliveryJob, ctx) => {
    await deliverOnce(core, payload, ctx.signal);
  };
}

async function deliverOnce(core: Core, job: DeliveryJob, signal: AbortSignal): Promise<void> {
  const d = await core.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', job.webhookId)
    .where('event_id', '=', job.eventId)
    .executeTakeFirst();
  // Gone (endpoint removed), replayed since, already recorded, or finished: nothing to do.
  if (!d || d.series !== job.series || d.attempts !== job.attempt - 1 || d.status === 'success' || d.status === 'failed') return;
  const w = await core.db.selectFrom('webhooks').selectAll().where('id', '=', job.webhookId).executeTakeFirst();
  if (!w) return;
  if (w.status !== 'enabled') {
    const now = core.clock.now();
    await core.db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', next_attempt_at: null, updated_at: now })
      .where('webhook_id', '=', d.webhook_id)
      .where('event_id', '=', d.event_id)
      .where('series', '=', job.series)
      .execute();
    return;
  }
  const event = await core.db.selectFrom('event_records').select(['id', 'payload']).where('id', '=', job.eventId).executeTakeFirstOrThrow();
  const secret = core.vault.decrypt(w.secret_enc, `webhook:${w.id}`);
  const sentAt = core.clock.now();
  const headers = signedHeaders(secret, event.id, sentAt, event.payload);
  const result = await postWebhook(w.endpoint, event.payload, headers, {
    allowPrivate: core.settings.webhookAllowPrivate,
    dnsServers: core.settings.dnsServers,
    timeoutMs: DELIVERY_TIMEOUT_MS,
    signal,
  });
  // Stopping: record nothing; the worker gives the job back and it runs again elsewhere.
  if (signal.aborted) throw new Error('delivery interrupted by shutdown');
  await recordAttempt(core, job, sentAt, result);
}

async function recordAttempt(core: Core, job: DeliveryJob, sentAt: number, result: AttemptResult): Promise<void> {
  const delays = core.settings.webhookRetryDelaysMs;
  const ok = result.status !== null && result.status >= 200 && result.status < 300;
  metricsOf(core).webhookAttempt(ok);
  const retry = !ok && job.attempt <= delays.length;
  await core.store.transaction(async (tx) => {
    const now = core.clock.now();
    const nextAt = retry ? now + delays[job.attempt - 1] : null;
    const updated = await tx
      .updateTable('webhook_deliveries')
      .set({
        status: ok ? 'success' : retry ? 'attempting' : 'failed',
        attempts: job.attempt,
        next_attempt_at: nextAt,
        last_attempt_at: sentAt,
        updated_at: now,
      })
      .where('webhook_id', '=', job.webhookId)
      .where('event_id', '=', job.eventId)
      .where('series', '=', job.series)
      .where('attempts', '=', job.attempt - 1)
      .where('status', 'in', ['pending', 'attempting'])
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return;
    const w = await tx.selectFrom('webhooks').selectAll().where('id', '=', job.webhookId).executeTakeFirst();
    if (!w) return;
    await tx
      .insertInto('webhook_attempts')
      .values({
        id: newId(now),
        webhook_id: job.webhookId,
        event_id: job.eventId,
        workspace_id: w.workspace_id,
        series: job.series,
        http_status_code: result.status,
        response: result.response,
        error: result.error,
        duration_ms: result.durationMs,
        sent_at: sentAt,
      })
      .execute();
    if (retry) await enqueueDelivery(core, { ...job, attempt: job.attempt + 1 }, nextAt!, tx);
    if (ok) {
      if (w.failing_since !== null) await tx.updateTable('webhooks').set({ failing_since: null }).where('id', '=', w.id).execute();
    } else if (w.failing_since === null) {
      await tx.updateTable('webhooks').set({ failing_since: sentAt }).where('id', '=', w.id).execute();
    } else if (w.status === 'enabled' && now - w.failing_since >= DISABLE_AFTER_MS) {
      await autoDisable(core, tx, w, `every delivery attempt failed since ${new Date(w.failing_since).toISOString()}`);
    }
  });
}

/** A `lookup` that answers with the addresses already checked, whatever DNS says now. */
function pinnedLookup(target: ResolvedTarget): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: any[]) => void) => {
    if (options?.all) callback(null, target.addresses);
    else callback(null, target.addresses[0].address, target.addresses[0].family);
  }) as LookupFunction;
}

/** POSTs one webhook message; never throws. Exported for tests. */
export async function postWebhook(
  endpoint: string,
  body: string,
  headers: Record<string, string>,
  opts: { allowPrivate: boolean; timeoutMs: number; signal?: AbortSignal; dnsServers?: Settings['dnsServers'] },
): Promise<AttemptResult> {
  const started = performance.now();
  const done = (status: number | null, response: string, error: string | null): AttemptResult => ({
    status,
    response: response.slice(0, RESPONSE_EXCERPT),
    error: error?.slice(0, 500) ?? null,
    durationMs: Math.round(performance.now() - started),
  });
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return done(null, '', 'the endpoint is not a valid URL');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let target: ResolvedTarget;
  try {
    target = await resolveTarget(host, opts.allowPrivate, opts.dnsServers);
  } catch (err) {
    return done(null, '', `refused: ${(err as Error).message}`);
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    let status: number | null = null;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(done(status, Buffer.concat(chunks).toString('utf8'), error));
    };
    const req = client.request(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: url.pathname + url.search,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'Mailstack-Webhooks/1',
        },
        agent: false,
        lookup: pinnedLookup(target),
        servername: isIP(host) ? undefined : host,
      },
      (res) => {
        status = res.statusCode ?? null;
        res.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_READ_LIMIT) chunks.push(chunk);
          size += chunk.length;
          // Enough to show; do not let a receiver stream at us.
          if (size >= RESPONSE_READ_LIMIT) {
            finish(null);
            res.destroy();
          }
        });
        res.on('end', () => finish(null));
        res.on('error', (err) => finish(status === null ? err.message : null));
        res.on('close', () => finish(null));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs / 1000}s`)), opts.timeoutMs);
    const onAbort = () => req.destroy(new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort);
    req.on('error', (err) => finish(err.message));
    req.end(body);
  });
}
