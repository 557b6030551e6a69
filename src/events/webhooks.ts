// Events and webhooks: event records, webhook endpoints, and the deliveries the SDK's
// `webhooks.events.*` methods show. Delivery itself (the HTTP POST, retries, auto-disable) is in
// delivery.ts; the SSRF guard in address.ts; signatures in signature.ts.
//
// Implementation notes:
// - `emitEvent` is the one way an event enters the system. It writes the event record and one
//   delivery row plus one delivery job per enabled, subscribed endpoint in ONE transaction (the
//   caller's, when it passes `tx`): a state change and its event commit together or not at all,
//   and a committed event is never left without its deliveries (nothing acknowledged is lost).
// - The event's payload text `{ type, created_at, data }` is stored once and sent byte for byte to
//   every endpoint and on every retry and replay: the signature covers exactly those bytes.
// - The Standard Webhooks `webhook-id` of a message is the event id. The spec asks that the id stay
//   the same when a message is re-sent (retry or replay) so receivers can de-duplicate; the same id
//   is what the SDK calls `eventId` in `webhooks.events.get/replay/attempts.list`.
// - Each HTTP attempt is its own job, carrying (series, attempt). A job whose numbers no longer
//   match the delivery row (a replay started a new series, a concurrent run recorded it, the
//   endpoint was removed) does nothing, so every job is safe to run twice (the queue is
//   at-least-once) and a replay never races an old retry.
// - Every query is scoped to the caller's workspace; an id from another workspace is `not_found`.
// - Signing secrets are sealed by the vault (context `webhook:<id>`, in SEALED_COLUMNS) and only
//   shown to callers who may manage webhooks.
// - Endpoint URLs are checked when set (create/update: http/https only, no credentials, the host
//   resolving only to public addresses unless MAILSTACK_WEBHOOK_ALLOW_PRIVATE) and again at every
//   delivery, which connects to the address it checked (DNS rebinding cannot switch it).
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, invalid, notFound, systemActor } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { WebhookDeliveriesTable, WebhooksTable } from '../db/schema.ts';
import { TargetRefused, resolveTarget } from './address.ts';
import { newSigningSecret } from './signature.ts';

/** Resend's event names (resend@6.38.0 `WebhookEvent`): what an endpoint may subscribe to. */
export const EVENT_TYPES = [
  'email.sent',
  'email.scheduled',
  'email.delivered',
  'email.delivery_delayed',
  'email.complained',
  'email.bounced',
  'email.opened',
  'email.clicked',
  'email.received',
  'email.failed',
  'email.suppressed',
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'contact.topics.updated',
  'domain.created',
  'domain.updated',
  'domain.deleted',
  'suppression.added',
  'suppression.removed',
  'topic.created',
  'topic.updated',
  'topic.deleted',
  'inbox.created',
  'inbox.updated',
  'inbox.deleted',
  'inbox.thread.created',
  'inbox.thread.folder.updated',
  'inbox.thread.assigned',
  'inbox.thread.unassigned',
  'inbox.thread.labels.updated',
  'inbox.email.received',
  'inbox.email.sent',
  'inbox.draft.created',
  'inbox.draft.updated',
  'inbox.draft.sent',
  'inbox.draft.deleted',
  // Abuse controls (src/abuse/): a workspace's sending paused by its bounce or complaint rate, and resumed.
  'workspace.sending_paused',
  'workspace.sending_resumed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(s: unknown): s is EventType {
  return typeof s === 'string' && (EVENT_TYPES as readonly string[]).includes(s);
}

export const WEBHOOK_DELIVERY_JOB = 'webhook.deliver';

/** What a delivery job carries; see the notes above on (series, attempt). */
export interface DeliveryJob {
  webhookId: string;
  eventId: string;
  series: number;
  /** 1-based number of this attempt within the series. */
  attempt: number;
}

/** How many times the queue may re-run one attempt's job if its worker dies mid-attempt. */
const JOB_MAX_RUNS = 5;

export function enqueueDelivery(core: Core, job: DeliveryJob, runAt: number, db: Db): Promise<string> {
  return core.jobs.enqueue(WEBHOOK_DELIVERY_JOB, job, { runAt, maxAttempts: JOB_MAX_RUNS }, db);
}

const MAX_ENDPOINT_LENGTH = 2048;

/** Checks an endpoint URL as a caller gave it; returns it normalised. Throws 422. */
export async function checkEndpoint(core: Core, raw: unknown): Promise<string> {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalid('The `endpoint` field must be a URL.');
  if (raw.length > MAX_ENDPOINT_LENGTH) throw invalid(`The \`endpoint\` field must be at most ${MAX_ENDPOINT_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw invalid('The `endpoint` field must be a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('The `endpoint` URL must use http or https.');
  if (url.username || url.password) throw invalid('The `endpoint` URL must not contain a user name or password.');
  if (!url.hostname) throw invalid('The `endpoint` URL must name a host.');
  try {
    await resolveTarget(url.hostname, core.settings.webhookAllowPrivate, core.settings.dnsServers);
  } catch (err) {
    if (err instanceof TargetRefused) throw invalid(err.message);
    throw err;
  }
  url.hash = '';
  return url.toString();
}

function checkEvents(raw: unknown): EventType[] {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid('The `events` field must be a non-empty array of event types.');
  if (raw.length > EVENT_TYPES.length * 2) throw invalid('The `events` field has too many entries.');
  for (const e of raw) {
    if (!isEventType(e)) {
      const shown = typeof e === 'string' ? JSON.stringify(e.length > 60 ? e.slice(0, 60) + '…' : e) : typeof e;
      throw invalid(`Unknown event type ${shown}. Known types: ${EVENT_TYPES.join(', ')}.`);
    }
  }
  return [...new Set(raw as EventType[])];
}

async function findWebhook(db: Db, workspaceId: string, id: string): Promise<WebhooksTable> {
  const row = await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Webhook');
  return row;
}

const iso = (ms: number) => new Date(ms).toISOString();

function view(row: WebhooksTable) {
  return {
    object: 'webhook' as const,
    id: row.id,
    created_at: iso(row.created_at),
    status: row.status,
    endpoint: row.endpoint,
    events: JSON.parse(row.events) as EventType[],
  };
}

export async function createWebhook(
  core: Core,
  actor: Actor,
  workspaceId: string,
  input: { endpoint?: unknown; events?: unknown },
): Promise<{ object: 'webhook'; id: string; signing_secret: string }> {
  const events = checkEvents(input.events);
  const endpoint = await checkEndpoint(core, input.endpoint);
  const now = core.clock.now();
  const id = newId(now);
  const secret = newSigningSecret();
  await core.store.transaction(async (tx) => {
    await tx
      .insertInto('webhooks')
      .values({
        id,
        workspace_id: workspaceId,
        endpoint,
        events: JSON.stringify(events),
        status: 'enabled',
        secret_enc: core.vault.encrypt(secret, `webhook:${id}`),
        failing_since: null,
        disabled_reason: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await audit(core, actor, { workspaceId, action: 'webhook.created', targetType: 'webhook', targetId: id, data: { endpoint, events } }, tx);
  });
  return { object: 'webhook', id, signing_secret: secret };
}

/** One webhook; the signing secret only when `withSecret` (callers who may manage webhooks). */
export async function getWebhook(core: Core, workspaceId: string, id: string, withSecret: boolean) {
  const row = await findWebhook(core.db, workspaceId, id);
  const out: ReturnType<typeof view> & { signing_secret?: string } = view(row);
  if (withSecret) out.signing_secret = core.vault.decrypt(row.secret_enc, `webhook:${row.id}`);
  return out;
}

export async function listWebhooks(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('webhooks').selectAll().where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return {
    object: 'list' as const,
    has_more,
    data: rows.map((r) => {
      const { object: _object, ...rest } = view(r);
      return rest;
    }),
  };
}

export async function updateWebhook(
  core: Core,
  actor: Actor,
  workspaceId: string,
  id: string,
  input: { endpoint?: unknown; events?: unknown; status?: unknown },
): Promise<{ object: 'webhook'; id: string }> {
  await findWebhook(core.db, workspaceId, id);
  const events = input.events === undefined ? undefined : checkEvents(input.events);
  const endpoint = input.endpoint === undefined ? undefined : await checkEndpoint(core, input.endpoint);
  if (input.status !== undefined && input.status !== 'enabled' && input.status !== 'disabled') {
    throw invalid('The `status` field must be enabled or disabled.');
  }
  const status = input.status as 'enabled' | 'disabled' | undefined;
  await core.store.transaction(async (tx) => {
    const before = await findWebhook(tx, workspaceId, id);
    const now = core.clock.now();
    await tx
      .updateTable('webhooks')
      .set({
        endpoint,
        events: events && JSON.stringify(events),
        status,
        // Enabling starts the health record afresh; disabling by hand records why.
        failing_since: status === 'enabled' ? null : undefined,
        disabled_reason: status === 'enabled' ? null : status === 'disabled' ? 'disabled by a user' : undefined,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .execute();
    const changes: Record<string, unknown> = {};
    if (endpoint !== undefined && endpoint !== before.endpoint) changes.endpoint = { from: before.endpoint, to: endpoint };
    if (events !== undefined) changes.events = { from: JSON.parse(before.events), to: events };
    if (status !== undefined && status !== before.status) changes.status = { from: before.status, to: status };
    await audit(core, actor, { workspaceId, action: 'webhook.updated', targetType: 'webhook', targetId: id, data: changes }, tx);
  });
  return { object: 'webhook', id };
}

export async function removeWebhook(core: Core, actor: Actor, workspaceId: string, id: string) {
  await core.store.transaction(async (tx) => {
    const row = await findWebhook(tx, workspaceId, id);
    // Deliveries and attempts go with it (ON DELETE CASCADE); their pending jobs find nothing and end.
    await tx.deleteFrom('webhooks').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'webhook.removed', targetType: 'webhook', targetId: id, data: { endpoint: row.endpoint } }, tx);
  });
  return { object: 'webhook' as const, id, deleted: true };
}

/** A new secret takes effect at once: messages sent from now on are signed with it only. */
export async function rotateSigningSecret(core: Core, actor: Actor, workspaceId: string, id: string) {
  const secret = newSigningSecret();
  await core.store.transaction(async (tx) => {
    await findWebhook(tx, workspaceId, id);
    await tx
      .updateTable('webhooks')
      .set({ secret_enc: core.vault.encrypt(secret, `webhook:${id}`), updated_at: core.clock.now() })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .execute();
    await audit(core, actor, { workspaceId, action: 'webhook.secret_rotated', targetType: 'webhook', targetId: id }, tx);
  });
  return { object: 'webhook' as const, id, signing_secret: secret };
}

/**
 * Records an event and queues its delivery to every enabled endpoint of the workspace subscribed
 * to `type`, in one transaction (the caller's `tx` when given, so the event commits with the state
 * change it reports). `data` must be JSON-serialisable. Returns the event id.
 */
export async function emitEvent(core: Core, workspaceId: string, type: EventType, data: Record<string, unknown>, tx?: Db): Promise<string> {
  if (!isEventType(type)) throw invalid(`Unknown event type ${JSON.stringify(type)}.`);
  const run = async (db: Db) => {
    const now = core.clock.now();
    const id = newId(now);
    const payload = JSON.stringify({ type, created_at: iso(now), data });
    await db.insertInto('event_records').values({ id, workspace_id: workspaceId, type, payload, created_at: now }).execute();
    const endpoints = await db
      .selectFrom('webhooks')
      .select(['id', 'events'])
      .where('workspace_id', '=', workspaceId)
      .where('status', '=', 'enabled')
      .execute();
    for (const w of endpoints) {
      if (!(JSON.parse(w.events) as string[]).includes(type)) continue;
      await db
        .insertInto('webhook_deliveries')
        .values({
          webhook_id: w.id,
          event_id: id,
          workspace_id: workspaceId,
          status: 'pending',
          series: 1,
          attempts: 0,
          next_attempt_at: now,
          last_attempt_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await enqueueDelivery(core, { webhookId: w.id, eventId: id, series: 1, attempt: 1 }, now, db);
    }
    return id;
  };
  return tx ? run(tx) : core.store.transaction(run);
}

/**
 * emitEvent for many events of one workspace in the caller's transaction, with one look-up of the
 * endpoints and multi-row inserts (a contact import emits one per row). Same records, same
 * deliveries as calling emitEvent for each.
 */
export async function emitEvents(core: Core, workspaceId: string, events: { type: EventType; data: Record<string, unknown> }[], tx: Db): Promise<void> {
  if (!events.length) return;
  for (const e of events) if (!isEventType(e.type)) throw invalid(`Unknown event type ${JSON.stringify(e.type)}.`);
  const now = core.clock.now();
  const rows = events.map((e) => ({ id: newId(now), workspace_id: workspaceId, type: e.type, payload: JSON.stringify({ type: e.type, created_at: iso(now), data: e.data }), created_at: now }));
  for (let i = 0; i < rows.length; i += 500) await tx.insertInto('event_records').values(rows.slice(i, i + 500)).execute();
  const endpoints = await tx.selectFrom('webhooks').select(['id', 'events']).where('workspace_id', '=', workspaceId).where('status', '=', 'enabled').execute();
  for (const w of endpoints) {
    const wanted = new Set(JSON.parse(w.events) as string[]);
    for (const r of rows) {
      if (!wanted.has(r.type)) continue;
      await tx
        .insertInto('webhook_deliveries')
        .values({ webhook_id: w.id, event_id: r.id, workspace_id: workspaceId, status: 'pending', series: 1, attempts: 0, next_attempt_at: now, last_attempt_at: null, created_at: now, updated_at: now })
        .execute();
      await enqueueDelivery(core, { webhookId: w.id, eventId: r.id, series: 1, attempt: 1 }, now, tx);
    }
  }
}

async function findDelivery(db: Db, workspaceId: string, webhookId: string, eventId: string): Promise<WebhookDeliveriesTable> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .where('event_id', '=', eventId)
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (!row) throw notFound('Webhook event');
  return row;
}

/** The events sent (or being sent) to one endpoint, newest first. */
export async function listWebhookEvents(core: Core, workspaceId: string, webhookId: string, page: PageRequest) {
  await findWebhook(core.db, workspaceId, webhookId);
  const q = core.db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('event_records as e', 'e.id', 'd.event_id')
    .select(['d.event_id as id', 'e.type', 'e.created_at', 'd.status'])
    .where('d.webhook_id', '=', webhookId)
    .where('d.workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'd.event_id', page);
  return {
    object: 'list' as const,
    has_more,
    data: rows.map((r) => ({ id: r.id, type: r.type as EventType, created_at: iso(r.created_at), status: r.status })),
  };
}

export async function getWebhookEvent(core: Core, workspaceId: string, webhookId: string, eventId: string) {
  await findWebhook(core.db, workspaceId, webhookId);
  const d = await findDelivery(core.db, workspaceId, webhookId, eventId);
  const e = await core.db.selectFrom('event_records').selectAll().where('id', '=', eventId).executeTakeFirstOrThrow();
  return {
    object: 'webhook_event' as const,
    id: e.id,
    type: e.type as EventType,
    created_at: iso(e.created_at),
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.next_attempt_at === null ? null : iso(d.next_attempt_at),
    payload: JSON.parse(e.payload),
  };
}

/** Sends an event to the endpoint again, as a new series of attempts with the full retry schedule. */
export async function replayWebhookEvent(core: Core, actor: Actor, workspaceId: string, webhookId: string, eventId: string) {
  await core.store.transaction(async (tx) => {
    const w = await findWebhook(tx, workspaceId, webhookId);
    const d = await findDelivery(tx, workspaceId, webhookId, eventId);
    if (w.status !== 'enabled') throw new CoreError(422, 'validation_error', 'This webhook is disabled: enable it before replaying events.');
    const now = core.clock.now();
    const series = d.series + 1;
    await tx
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', series, attempts: 0, next_attempt_at: now, updated_at: now })
      .where('webhook_id', '=', webhookId)
      .where('event_id', '=', eventId)
      .execute();
    await enqueueDelivery(core, { webhookId, eventId, series, attempt: 1 }, now, tx);
    await audit(core, actor, { workspaceId, action: 'webhook.event_replayed', targetType: 'webhook', targetId: webhookId, data: { event_id: eventId } }, tx);
  });
  return { object: 'webhook_event' as const, id: eventId };
}

/** Every HTTP attempt made for one event to one endpoint, newest first. */
export async function listAttempts(core: Core, workspaceId: string, webhookId: string, eventId: string, page: PageRequest) {
  await findWebhook(core.db, workspaceId, webhookId);
  await findDelivery(core.db, workspaceId, webhookId, eventId);
  const q = core.db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .where('event_id', '=', eventId)
    .where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return {
    object: 'list' as const,
    has_more,
    data: rows.map((r) => ({
      id: r.id,
      // 0 when no HTTP answer came; `error` says why.
      http_status_code: r.http_status_code ?? 0,
      response: r.response ?? '',
      error: r.error,
      duration_ms: r.duration_ms,
      sent_at: iso(r.sent_at),
    })),
  };
}

/** Disables an endpoint that keeps failing (see delivery.ts) and gives up its pending deliveries. */
export async function autoDisable(core: Core, db: Db, webhook: WebhooksTable, reason: string): Promise<void> {
  const now = core.clock.now();
  const r = await db
    .updateTable('webhooks')
    .set({ status: 'disabled', disabled_reason: reason, updated_at: now })
    .where('id', '=', webhook.id)
    .where('status', '=', 'enabled')
    .executeTakeFirst();
  // Two failing deliveries may both get here: only the one that flipped the status records it.
  if (Number(r.numUpdatedRows) === 0) return;
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', next_attempt_at: null, updated_at: now })
    .where('webhook_id', '=', webhook.id)
    .where('status', 'in', ['pending', 'attempting'])
    .execute();
  await audit(
    core,
    systemActor,
    { workspaceId: webhook.workspace_id, action: 'webhook.disabled', targetType: 'webhook', targetId: webhook.id, data: { endpoint: webhook.endpoint, reason } },
    db,
  );
}
