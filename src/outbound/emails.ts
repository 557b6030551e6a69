// The send API's core service: Resend's emails.send/create, batch.send, emails.get/list/update/
// cancel and emails.attachments.get/list. The HTTP door (http/routes/emails.ts) only parses and
// forwards; everything a caller can observe is decided here.
//
// Implementation notes:
// - Nothing is acknowledged before it is durable: a send answers only after acceptMessage()
//   committed the email, its recipients and their jobs (and the signed message and attachment
//   blobs were fsynced before that). A batch commits all its emails in ONE transaction, so a
//   strict batch is all-or-nothing and a retried batch never half-sends.
// - Idempotency (idempotency.ts): the key is claimed before any work, and the response is
//   recorded in the same transaction as the emails, so "same key, same body" can never produce
//   two emails, on either store, even across a crash.
// - Checks run cheapest first and before anything is stored: body validation (compose.ts), the
//   key's domain restriction, the domain's verification (domains.ts domainForSending → 403),
//   then attachments are fetched (SSRF-guarded) and stored, then the message is composed.
// - A sending_access key held to one domain may send only from that domain: anything else is
//   403 restricted_api_key. It may update/cancel only emails of its domain.
// - Every read and write is scoped to the caller's workspace: another workspace's email id is
//   simply not found (404), never "forbidden", so ids leak nothing.
// - Rescheduling and cancelling act on the release job (unique key `release:<email id>`) only
//   while it is still `queued`: a conditional UPDATE/DELETE on that row is the race guard against
//   a worker that is claiming it right now. If the worker won, the email is already going: 422.
// - Attachment downloads are served by a signed, expiring URL (the token is sealed by the vault's
//   AES-256-GCM key, bound to workspace, email and attachment), like Resend's signed URLs.
import { sql } from 'kysely';
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import { audit } from '../audit/audit-log.ts';
import { type LinkFetcher, linkActor, openSignedLink, signedLink } from '../core/signed-links.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, pageOfList, paginate } from '../db/paginate.ts';
import type { EmailsTable } from '../db/schema.ts';
import { type SendingDomain, domainForSending } from '../domains/domains.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { Worker } from '../jobs/worker.ts';
import { type AcceptInput, type AttachmentMeta, RELEASE_JOB, acceptMessage, blobStore, recordMessage, type StoredMessage, storeMessage } from './accept.ts';
import { parseMailbox } from './addresses.ts';
import { type SendRequest, composeMessage, resolveAttachments, scheduleTime, validateSendRequest } from './compose.ts';
import * as idem from './idempotency.ts';
import { applyTemplate } from '../campaigns/templates.ts';
import { setRecipientStatus } from './recipients.ts';

export const MAX_BATCH = 100;
const TEMPLATE_ERROR = Symbol('template error');
export const IDEMPOTENCY_PURGE_JOB = 'outbound.idempotency_purge';
const STATUSES = ['bounced', 'canceled', 'clicked', 'complained', 'delivered', 'delivery_delayed', 'failed', 'opened', 'queued', 'scheduled', 'sent', 'suppressed'];

/** Who is sending: from the HTTP principal. */
export interface SendContext {
  workspaceId: string;
  apiKeyId: string | null;
  /** A sending_access key held to one domain. */
  domainId: string | null;
}

export interface ApiResult {
  status: number;
  body: unknown;
}

// ---- Sending ---------------------------------------------------------------------------------

/** The verified domain `req` may send from, or a 403. */
async function sendingDomain(core: Core, ctx: SendContext, req: SendRequest, cache: Map<string, SendingDomain>): Promise<SendingDomain> {
  const name = req.from.domain;
  if (ctx.domainId) {
    const allowed = await core.db.selectFrom('domains').select('name').where('id', '=', ctx.domainId).where('workspace_id', '=', ctx.workspaceId).executeTakeFirst();
    if (!allowed || allowed.name !== name) {
      throw new CoreError(403, 'restricted_api_key', `This API key is restricted to sending from ${allowed?.name ?? 'one domain'}; it cannot send from ${name}.`);
    }
  }
  let d = cache.get(name);
  if (!d) {
    d = await domainForSending(core, ctx.workspaceId, name);
    cache.set(name, d);
  }
  return d;
}

async function prepare(core: Core, ctx: SendContext, req: SendRequest, source: string, cache: Map<string, SendingDomain>, key: string | null): Promise<AcceptInput> {
  const domain = await sendingDomain(core, ctx, req, cache);
  const attachments = await resolveAttachments(core, req.attachments);
  return composeMessage(core, req, domain, attachments, { workspaceId: ctx.workspaceId, apiKeyId: ctx.apiKeyId, source, idempotencyKey: key });
}

/** Runs `work` under an Idempotency-Key (when given): replays, refuses, or records its result. */
async function idempotent(core: Core, ctx: SendContext, key: string | null, hash: string, work: (commit: (tx: Db, result: ApiResult) => Promise<void>) => Promise<ApiResult>): Promise<ApiResult> {
  if (key === null) return work(async () => {});
  const c = await idem.claim(core, ctx.workspaceId, key, hash);
  if (c.kind === 'replay') return { status: c.status, body: c.body };
  try {
    return await work((tx, result) => idem.complete(tx, ctx.workspaceId, key, c.token, result.status, result.body));
  } catch (err) {
    await idem.release(core, ctx.workspaceId, key, c.token).catch(() => {});
    throw err;
  }
}

/** POST /emails. */
export async function sendEmail(core: Core, ctx: SendContext, body: unknown, idempotencyKey: string | null): Promise<ApiResult> {
  if (idempotencyKey !== null) idem.checkKey(idempotencyKey);
  const req = validateSendRequest(await applyTemplate(core, ctx.workspaceId, body), { now: core.clock.now() });
  const hash = idem.requestHash({ endpoint: 'POST /emails', body });
  return idempotent(core, ctx, idempotencyKey, hash, async (commit) => {
    const input = await prepare(core, ctx, req, 'api', new Map(), idempotencyKey);
    // With a key, the response must commit in the same transaction as the email.
    if (idempotencyKey === null) return { status: 200, body: { id: await acceptMessage(core, input) } };
    const stored = await storeMessage(core, input);
    return core.store.transaction(async (tx) => {
      const id = await recordMessage(core, tx, input, stored);
      const result = { status: 200, body: { id } };
      await commit(tx, result);
      return result;
    });
  });
}

/** POST /emails/batch, with Resend's x-batch-validation: strict (default) or permissive. */
export async function sendBatch(core: Core, ctx: SendContext, body: unknown, mode: string | undefined, idempotencyKey: string | null): Promise<ApiResult> {
  if (idempotencyKey !== null) idem.checkKey(idempotencyKey);
  const validation = mode ?? 'strict';
  if (validation !== 'strict' && validation !== 'permissive') throw invalid('The x-batch-validation header must be `strict` or `permissive`.');
  if (!Array.isArray(body)) throw invalid('The request body must be an array of emails.');
  if (body.length === 0) throw invalid('The batch must hold at least one email.');
  if (body.length > MAX_BATCH) throw invalid(`The batch may hold at most ${MAX_BATCH} emails; ${body.length} were given.`);

  const now = core.clock.now();
  const errors: { index: number; message: string }[] = [];
  const valid: { index: number; req: SendRequest }[] = [];
  const reject = (index: number, err: unknown) => {
    if (!(err instanceof CoreError) || err.status >= 500) throw err;
    if (validation === 'strict') throw new CoreError(err.status, err.code, `emails[${index}]: ${err.message}`);
    errors.push({ index, message: err.message });
  };
  // Templates are rendered first (a lookup each); a failure is that item's error like any other.
  const items: unknown[] = [];
  for (const item of body) items.push(await applyTemplate(core, ctx.workspaceId, item).catch((err: unknown) => ({ [TEMPLATE_ERROR]: err })));
  items.forEach((item, index) => {
    try {
      if (item && typeof item === 'object' && TEMPLATE_ERROR in item) throw (item as any)[TEMPLATE_ERROR];
      valid.push({ index, req: validateSendRequest(item, { now, batch: true }) });
    } catch (err) {
      reject(index, err);
    }
  });

  const hash = idem.requestHash({ endpoint: 'POST /emails/batch', validation, body });
  return idempotent(core, ctx, idempotencyKey, hash, async (commit) => {
    const cache = new Map<string, SendingDomain>();
    const inputs: AcceptInput[] = [];
    for (const { index, req } of valid) {
      try {
        inputs.push(await prepare(core, ctx, req, 'batch', cache, idempotencyKey));
      } catch (err) {
        reject(index, err);
      }
    }
    errors.sort((a, b) => a.index - b.index);
    const stored: StoredMessage[] = [];
    for (const input of inputs) stored.push(await storeMessage(core, input));
    return core.store.transaction(async (tx) => {
      const data: { id: string }[] = [];
      for (const [i, input] of inputs.entries()) data.push({ id: await recordMessage(core, tx, input, stored[i]) });
      const result = { status: 200, body: validation === 'permissive' ? { data, errors } : { data } };
      await commit(tx, result);
      return result;
    });
  });
}

// ---- Reading ---------------------------------------------------------------------------------

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const listOrNull = (json: string) => {
  const a = JSON.parse(json) as string[];
  return a.length ? a : null;
};

function listEmailJson(e: EmailsTable) {
  return {
    id: e.id,
    to: JSON.parse(e.to_json) as string[],
    from: e.from_header,
    created_at: new Date(e.created_at).toISOString(),
    subject: e.subject,
    bcc: listOrNull(e.bcc_json),
    cc: listOrNull(e.cc_json),
    reply_to: listOrNull(e.reply_to_json),
    last_event: e.last_event,
    scheduled_at: iso(e.scheduled_at),
    message_id: e.message_id,
  };
}

export function emailJson(e: EmailsTable) {
  return {
    object: 'email' as const,
    ...listEmailJson(e),
    html: e.html,
    text: e.text,
    tags: JSON.parse(e.tags_json) as { name: string; value: string }[],
  };
}

async function findEmail(db: Db, workspaceId: string, id: string): Promise<EmailsTable> {
  if (!isUuid(id)) throw notFound('Email');
  const row = await db.selectFrom('emails').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('Email');
  return row;
}

export async function getEmail(core: Core, workspaceId: string, id: string) {
  return emailJson(await findEmail(core.db, workspaceId, id));
}

export interface EmailFilters {
  /** last_event */
  status?: string;
  /** any recipient (to, cc or bcc) */
  recipient?: string;
  /** `name` or `name:value` */
  tag?: string;
  /** ISO 8601 bounds on created_at, inclusive */
  start_date?: string;
  end_date?: string;
}

function dateFilter(raw: string, field: string): number {
  const t = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(t)) throw invalid(`The \`${field}\` query parameter must be an ISO 8601 date or date-time.`);
  return t;
}

export async function listEmails(core: Core, workspaceId: string, page: PageRequest, f: EmailFilters = {}) {
  let q = core.db.selectFrom('emails').selectAll().where('workspace_id', '=', workspaceId);
  if (f.status !== undefined) {
    if (!STATUSES.includes(f.status)) throw invalid(`The \`status\` query parameter must be one of ${STATUSES.join(', ')}.`);
    q = q.where('last_event', '=', f.status);
  }
  if (f.recipient !== undefined) {
    const mb = parseMailbox(f.recipient);
    if (!mb) throw invalid('The `recipient` query parameter must be an email address.');
    const address = mb.address.toLowerCase();
    q = q.where((eb) =>
      eb.exists(eb.selectFrom('email_recipients').select('email_recipients.id').whereRef('email_recipients.email_id', '=', 'emails.id').where('email_recipients.address', '=', address)),
    );
  }
  if (f.tag !== undefined) {
    const m = /^([A-Za-z0-9_-]{1,256})(?::([A-Za-z0-9_-]{0,256}))?$/.exec(f.tag);
    if (!m) throw invalid('The `tag` query parameter must be `name` or `name:value` (ASCII letters, digits, _ and -).');
    const needle = m[2] !== undefined ? JSON.stringify({ name: m[1], value: m[2] }) : `${JSON.stringify({ name: m[1] }).slice(0, -1)},`;
    // Tags hold only [A-Za-z0-9_-]: escape LIKE's `_` (and `%`, `\`, though they cannot occur).
    const pattern = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where(sql<boolean>`tags_json like ${pattern} escape '\\'`);
  }
  if (f.start_date !== undefined) q = q.where('created_at', '>=', dateFilter(f.start_date, 'start_date'));
  if (f.end_date !== undefined) q = q.where('created_at', '<=', dateFilter(f.end_date, 'end_date'));
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(listEmailJson) };
}

// ---- Rescheduling and cancelling -------------------------------------------------------------

async function scheduledEmail(tx: Db, ctx: SendContext, id: string, verb: string): Promise<EmailsTable> {
  const e = await findEmail(tx, ctx.workspaceId, id);
  if (ctx.domainId && e.domain_id !== ctx.domainId) throw new CoreError(403, 'restricted_api_key', 'This API key is restricted to another sending domain.');
  if (e.last_event !== 'scheduled') throw invalid(`Only a scheduled email can be ${verb}; this one is ${e.last_event}.`);
  return e;
}

/** PATCH /emails/:id — moves a scheduled email's release. */
export async function updateEmail(core: Core, ctx: SendContext, id: string, body: unknown) {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw invalid('The request body must be a JSON object.');
  if (b.scheduled_at === undefined || b.scheduled_at === null) throw new CoreError(422, 'missing_required_field', 'Missing `scheduled_at` field.');
  const at = scheduleTime(b.scheduled_at, core.clock.now());
  if (at === null) throw invalid('The `scheduled_at` field must be in the future.');
  return core.store.transaction(async (tx) => {
    const e = await scheduledEmail(tx, ctx, id, 'updated');
    const moved = await tx
      .updateTable('jobs')
      .set({ run_at: at, updated_at: core.clock.now() })
      .where('kind', '=', RELEASE_JOB)
      .where('unique_key', '=', `release:${e.id}`)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) throw invalid('This email is already being sent and can no longer be rescheduled.');
    await tx.updateTable('emails').set({ scheduled_at: at, updated_at: core.clock.now() }).where('id', '=', e.id).execute();
    return { object: 'email' as const, id: e.id };
  });
}

/** POST /emails/:id/cancel — a scheduled email will never be sent. */
export async function cancelEmail(core: Core, ctx: SendContext, id: string) {
  return core.store.transaction(async (tx) => {
    const e = await scheduledEmail(tx, ctx, id, 'canceled');
    const removed = await tx.deleteFrom('jobs').where('kind', '=', RELEASE_JOB).where('unique_key', '=', `release:${e.id}`).where('status', '=', 'queued').executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) throw invalid('This email is already being sent and can no longer be canceled.');
    const waiting = await tx.selectFrom('email_recipients').select('id').where('email_id', '=', e.id).where('status', '=', 'scheduled').execute();
    for (const r of waiting) await setRecipientStatus(core, tx, r.id, 'canceled', { response: 'canceled before its scheduled time' });
    await tx.updateTable('emails').set({ last_event: 'canceled', updated_at: core.clock.now() }).where('id', '=', e.id).execute();
    return { object: 'email' as const, id: e.id };
  });
}

// ---- Attachments -----------------------------------------------------------------------------

const DOWNLOAD_CONTEXT = 'attachment-download';

function attachmentJson(core: Core, workspaceId: string, emailId: string, a: AttachmentMeta) {
  return {
    id: a.id,
    filename: a.filename ?? undefined,
    size: a.size,
    content_type: a.content_type,
    content_disposition: a.content_id ? ('inline' as const) : ('attachment' as const),
    content_id: a.content_id ?? undefined,
    ...signedLink(core, DOWNLOAD_CONTEXT, workspaceId, { e: emailId, a: a.id }, `/v1/emails/${emailId}/attachments/${a.id}/content`),
  };
}

const attachmentsOf = (e: EmailsTable) => JSON.parse(e.attachments_json) as AttachmentMeta[];

export async function listAttachments(core: Core, workspaceId: string, emailId: string, page: PageRequest) {
  const e = await findEmail(core.db, workspaceId, emailId);
  const { items, has_more } = pageOfList(attachmentsOf(e), page, 'an attachment of this email');
  return { object: 'list' as const, has_more, data: items.map((a) => attachmentJson(core, workspaceId, e.id, a)) };
}

export async function getAttachment(core: Core, workspaceId: string, emailId: string, id: string) {
  const e = await findEmail(core.db, workspaceId, emailId);
  const a = attachmentsOf(e).find((x) => x.id === id);
  if (!a) throw notFound('Attachment');
  return { object: 'attachment' as const, ...attachmentJson(core, workspaceId, e.id, a) };
}

/** The bytes behind a download_url, after checking its token. */
export async function attachmentContent(core: Core, emailId: string, id: string, token: string, fetcher?: LinkFetcher) {
  const workspaceId = openSignedLink(core, DOWNLOAD_CONTEXT, token, { e: emailId, a: id }, 'attachment');
  const e = await findEmail(core.db, workspaceId, emailId);
  const a = attachmentsOf(e).find((x) => x.id === id);
  if (!a || e.body_purged_at !== null) throw notFound('Attachment');
  // Every fetch through a signed link is audited (src/core/signed-links.ts); the file name is not
  // written, as it may name a person an erasure must later find.
  await audit(core, linkActor(fetcher), { workspaceId, action: 'email.attachment_downloaded', targetType: 'email', targetId: e.id, data: { attachment_id: a.id, size: a.size ?? null } });
  return { meta: a, content: await blobStore(core).get(a.blob_id) };
}

// ---- Periodic work ---------------------------------------------------------------------------

export function registerEmailJobs(core: Core, worker: Worker, scheduler: Scheduler): void {
  scheduler.every(IDEMPOTENCY_PURGE_JOB, 3_600_000);
  worker.handle(IDEMPOTENCY_PURGE_JOB, async () => {
    const removed = await idem.purgeExpired(core);
    if (removed) core.log.info({ removed }, 'expired idempotency keys purged');
  });
}
