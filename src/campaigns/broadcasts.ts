// Broadcasts (Resend's broadcasts.*): one message per contact of a segment, optionally only to a
// topic's subscribers, personalised, sent at a safe rate.
//
// Implementation notes:
// - Fan-out is a chain of jobs, one batch each: a batch walks the segment's contacts in id order
//   after the broadcast's `cursor`, decides each (skip: unsubscribed, suppressed, topic opt-out;
//   otherwise compose, DKIM-sign and store its message), then commits in ONE transaction the
//   emails (acceptMessage's recordMessage), the `broadcast_recipients` rows and the new cursor.
//   A crash loses at most an uncommitted batch, which the next job redoes; the unique
//   (broadcast_id, email) row means a contact is never sent one broadcast twice.
// - Rate: a batch holds at most MAILSTACK_BROADCAST_RATE contacts, and the messages it sends are
//   taken from the workspace's send-rate bucket (send-rate.ts), which automations share: the
//   workspace gets at most that many per second whoever sends. A batch granted fewer tokens than
//   it has messages sends only that many contacts and leaves the rest to the next batch. Only
//   one broadcast per workspace fans out at a time (the oldest). 0 means no limit (batches of
//   500, back to back). Delivery itself goes through the MTA's queue and its per-destination
//   connection limit (MAILSTACK_MX_CONCURRENCY).
// - Abuse controls (src/abuse/sending.ts): each batch first asks `sendingAllowed`; while the
//   workspace is paused the broadcast stays `sending` and its next batch is tried PAUSED_RETRY_MS
//   later, so a pause stops it mid-way and a resume lets it finish. A quota refusal from the
//   accept gate likewise leaves the batch for later instead of failing the job.
// - Contacts that subscribed through a double opt-in form and have not confirmed
//   (contact_confirmations) are skipped with `pending_confirmation`.
// - Tracking (tracking.ts) is added only when the sending domain turned it on; each message's
//   broadcast_recipients id is chosen before composing, so its tracked links can name it.
// - Checks are made when each batch runs, not when the broadcast was created: an unsubscribe or
//   suppression that lands while a broadcast is going out is honoured for every message not yet
//   handed to the MTA. `cancel` stops the fan-out at the next batch.
// - Every message carries `List-Unsubscribe` (the one-click HTTPS URL and a mailto:) and
//   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 §3.1), both under the DKIM
//   signature (mailauth signs List-* fields by default).
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { BroadcastsTable, ContactPropertiesTable, ContactsTable } from '../db/schema.ts';
import { domainForSending, type SendingDomain } from '../domains/domains.ts';
import type { Worker } from '../jobs/worker.ts';
import { type AcceptInput, type StoredMessage, recordMessage, storeMessage } from '../outbound/accept.ts';
import { parseMailbox } from '../outbound/addresses.ts';
import { composeMessage, scheduleTime, validateSendRequest } from '../outbound/compose.ts';
import { findSuppression } from '../outbound/suppressions.ts';
import { SendingRefused, sendingAllowed } from '../abuse/sending.ts';
import { propertyDefinitions } from './contacts.ts';
import { takeSendTokens } from './send-rate.ts';
import { type Tracking, addTracking, engagementOf, trackingOf } from './tracking.ts';
import { escapeHtml, render } from './render.ts';
import { unsubscribeMailto, unsubscribeUrl } from './unsubscribe.ts';

export const BROADCAST_JOB = 'campaigns.broadcast';
const UNLIMITED_BATCH = 500;
const COMPOSE_CONCURRENCY = 16;
/** How long a paused workspace's broadcast waits before its next batch is tried again. */
export const PAUSED_RETRY_MS = 5_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function str(v: unknown, field: string, max: number): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string') throw invalid(`The \`${field}\` field must be a string.`);
  if (v.length > max) throw invalid(`The \`${field}\` field must be at most ${max} characters.`);
  return v;
}

function replyTo(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > 50 || !list.every((a) => parseMailbox(a))) throw invalid('Invalid `reply_to` field: addresses in the `email@example.com` or `Name <email@example.com>` format.');
  return list as string[];
}

async function checkRefs(db: Db, workspaceId: string, segmentId: string | null | undefined, topicId: string | null | undefined) {
  if (segmentId && !(isUuid(segmentId) && (await db.selectFrom('segments').select('id').where('workspace_id', '=', workspaceId).where('id', '=', segmentId.toLowerCase()).executeTakeFirst()))) throw notFound('Segment');
  if (topicId && !(isUuid(topicId) && (await db.selectFrom('topics').select('id').where('workspace_id', '=', workspaceId).where('id', '=', topicId.toLowerCase()).executeTakeFirst()))) throw notFound('Topic');
}

/** The fields of a create or update body that are given, checked. */
function fieldsOf(b: any): Partial<BroadcastsTable> {
  const out: Partial<BroadcastsTable> = {};
  const name = str(b.name, 'name', 200);
  if (name) out.name = name;
  const seg = str(b.segment_id ?? b.audience_id, 'segment_id', 100);
  if (seg !== undefined) out.segment_id = seg?.toLowerCase() ?? null;
  const topic = str(b.topic_id, 'topic_id', 100);
  if (topic !== undefined) out.topic_id = topic?.toLowerCase() ?? null;
  const from = str(b.from, 'from', 998);
  if (from !== undefined) {
    if (from !== null && !parseMailbox(from)) throw new CoreError(422, 'invalid_from_address', 'Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.');
    out.from_header = from;
  }
  const subject = str(b.subject, 'subject', 2000);
  if (subject !== undefined) {
    if (subject && /[\r\n]/.test(subject)) throw invalid('The `subject` field may not contain line breaks (CR or LF).');
    out.subject = subject;
  }
  const rt = replyTo(b.reply_to);
  if (rt !== undefined) out.reply_to_json = JSON.stringify(rt);
  const preview = str(b.preview_text, 'preview_text', 1000);
  if (preview !== undefined) out.preview_text = preview;
  const html = str(b.html, 'html', 1_000_000);
  if (html !== undefined) out.html = html;
  const text = str(b.text, 'text', 1_000_000);
  if (text !== undefined) out.text = text;
  return out;
}

async function requireBroadcast(db: Db, workspaceId: string, id: string) {
  const b = isUuid(id) ? await db.selectFrom('broadcasts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst() : undefined;
  if (!b) throw notFound('Broadcast');
  return b;
}

/** Resend shows a broadcast that is going out as `queued`. */
const shownStatus = (s: BroadcastsTable['status']) => (s === 'sending' ? 'queued' : s);

function broadcastJson(b: BroadcastsTable) {
  return {
    object: 'broadcast' as const, id: b.id, name: b.name, segment_id: b.segment_id, audience_id: b.segment_id, topic_id: b.topic_id, from: b.from_header, subject: b.subject,
    reply_to: JSON.parse(b.reply_to_json) as string[], preview_text: b.preview_text, html: b.html, text: b.text, status: shownStatus(b.status),
    created_at: iso(b.created_at)!, scheduled_at: iso(b.scheduled_at), sent_at: iso(b.sent_at),
  };
}

export async function createBroadcast(core: Core, workspaceId: string, body: any) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('The request body must be a JSON object.');
  const f = fieldsOf(body);
  if (!f.segment_id) throw new CoreError(422, 'missing_required_field', 'Missing `segment_id` field.');
  if (!f.from_header) throw new CoreError(422, 'missing_required_field', 'Missing `from` field.');
  if (!f.subject) throw new CoreError(422, 'missing_required_field', 'Missing `subject` field.');
  if (!f.html && !f.text) throw new CoreError(422, 'missing_required_field', 'Missing `html` or `text` field.');
  if (body.scheduled_at !== undefined && body.scheduled_at !== null && body.send !== true) throw invalid('`scheduled_at` can only be used with `send: true`.');
  await checkRefs(core.db, workspaceId, f.segment_id, f.topic_id);
  const now = core.clock.now();
  const row: BroadcastsTable = {
    id: newId(now), workspace_id: workspaceId, name: f.name ?? 'Untitled', segment_id: f.segment_id, topic_id: f.topic_id ?? null, from_header: f.from_header, subject: f.subject,
    reply_to_json: f.reply_to_json ?? '[]', preview_text: f.preview_text ?? null, html: f.html ?? null, text: f.text ?? null, status: 'draft', scheduled_at: null, sent_at: null, cursor: null, created_at: now, updated_at: now,
  };
  await core.db.insertInto('broadcasts').values(row).execute();
  if (body.send === true) await sendBroadcast(core, workspaceId, row.id, { scheduled_at: body.scheduled_at });
  return { id: row.id };
}

export async function updateBroadcast(core: Core, workspaceId: string, id: string, body: any) {
  const b = await requireBroadcast(core.db, workspaceId, id);
  if (b.status !== 'draft') throw invalid(`Only a draft broadcast can be changed; this one is ${shownStatus(b.status)}.`);
  const f = fieldsOf(body ?? {});
  if (f.segment_id === null) throw invalid('The `segment_id` field cannot be empty.');
  await checkRefs(core.db, workspaceId, f.segment_id, f.topic_id);
  await core.db.updateTable('broadcasts').set({ ...f, updated_at: core.clock.now() }).where('id', '=', b.id).execute();
  return { id: b.id };
}

export async function getBroadcast(core: Core, workspaceId: string, id: string) {
  return broadcastJson(await requireBroadcast(core.db, workspaceId, id));
}

export async function listBroadcasts(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('broadcasts').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return {
    object: 'list' as const, has_more,
    data: rows.map((b) => ({ id: b.id, name: b.name, segment_id: b.segment_id, audience_id: b.segment_id, status: shownStatus(b.status), created_at: iso(b.created_at), scheduled_at: iso(b.scheduled_at), sent_at: iso(b.sent_at) })),
  };
}

export async function sendBroadcast(core: Core, workspaceId: string, id: string, body: any) {
  const b = await requireBroadcast(core.db, workspaceId, id);
  if (b.status !== 'draft') throw invalid(`This broadcast is already ${shownStatus(b.status)}.`);
  const from = parseMailbox(b.from_header);
  if (!from || !b.subject || !(b.html || b.text) || !b.segment_id) throw invalid('A broadcast needs `from`, `subject`, `html` or `text`, and a segment before it can be sent.');
  // The domain must be verified now (403 otherwise), as for any send.
  await domainForSending(core, workspaceId, from.domain);
  const now = core.clock.now();
  const at = body?.scheduled_at === undefined || body?.scheduled_at === null ? null : scheduleTime(body.scheduled_at, now);
  await core.store.transaction(async (tx) => {
    const r = await tx.updateTable('broadcasts').set({ status: 'queued', scheduled_at: at, updated_at: now }).where('id', '=', b.id).where('status', '=', 'draft').executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw invalid('This broadcast is already being sent.');
    await core.jobs.enqueue(BROADCAST_JOB, { broadcastId: b.id }, { runAt: at ?? now, uniqueKey: `broadcast:${b.id}:start`, maxAttempts: 50 }, tx);
  });
  return { id: b.id };
}

export async function cancelBroadcast(core: Core, workspaceId: string, id: string) {
  const b = await requireBroadcast(core.db, workspaceId, id);
  const r = await core.db.updateTable('broadcasts').set({ status: 'canceled', updated_at: core.clock.now() }).where('id', '=', b.id).where('status', 'in', ['queued', 'sending']).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw invalid(`Only a scheduled or sending broadcast can be canceled; this one is ${shownStatus(b.status)}.`);
  return { object: 'broadcast' as const, id: b.id };
}

export async function removeBroadcast(core: Core, workspaceId: string, id: string) {
  const b = await requireBroadcast(core.db, workspaceId, id);
  if (b.status === 'sending' || (b.status === 'queued' && b.scheduled_at === null)) throw invalid('A broadcast that is going out cannot be removed: cancel it first.');
  await core.db.deleteFrom('broadcasts').where('id', '=', b.id).execute();
  return { object: 'broadcast' as const, id: b.id, deleted: true };
}

export async function duplicateBroadcast(core: Core, workspaceId: string, id: string) {
  const b = await requireBroadcast(core.db, workspaceId, id);
  const now = core.clock.now();
  const copy: BroadcastsTable = { ...b, id: newId(now), name: `${b.name} (copy)`.slice(0, 200), status: 'draft', scheduled_at: null, sent_at: null, cursor: null, created_at: now, updated_at: now };
  await core.db.insertInto('broadcasts').values(copy).execute();
  return { object: 'broadcast' as const, id: copy.id };
}

const RECIPIENT_TYPES = ['sent', 'delivered', 'opened', 'clicked', 'bounced', 'complained', 'unsubscribed', 'suppressed'];

/** Per-recipient outcome; `skip_reason` says why a contact got nothing. */
export async function broadcastRecipients(core: Core, workspaceId: string, id: string, page: PageRequest & { type?: string; email?: string }) {
  const b = await requireBroadcast(core.db, workspaceId, id);
  if (page.type !== undefined && !RECIPIENT_TYPES.includes(page.type)) throw invalid(`The \`type\` filter must be one of ${RECIPIENT_TYPES.join(', ')}.`);
  let q = core.db
    .selectFrom('broadcast_recipients as br')
    .leftJoin('email_recipients as er', 'er.email_id', 'br.email_id')
    .select(['br.id as id', 'br.contact_id as contact_id', 'br.email as email', 'br.email_id as email_id', 'br.skip_reason as skip_reason', 'er.status as status'])
    .where('br.broadcast_id', '=', b.id)
    .where('br.workspace_id', '=', workspaceId);
  if (page.email) q = q.where('br.email', '=', page.email.trim().toLowerCase());
  switch (page.type) {
    case 'sent': q = q.where('br.email_id', 'is not', null); break;
    case 'delivered': case 'bounced': case 'complained': q = q.where('er.status', '=', page.type); break;
    case 'suppressed': q = q.where((eb) => eb.or([eb('br.skip_reason', '=', 'suppressed'), eb('er.status', '=', 'suppressed')])); break;
    case 'unsubscribed': q = q.where('br.skip_reason', 'in', ['unsubscribed', 'topic_opt_out']); break;
    case 'opened': case 'clicked': {
      const kind = page.type;
      q = q.where((eb) => eb.exists(eb.selectFrom('broadcast_events as be').select('be.id').whereRef('be.recipient_id', '=', 'br.id').where('be.kind', '=', kind)));
      break;
    }
  }
  const { rows, has_more } = await paginate(q, 'br.id', page);
  const seen = page.type === 'opened' || page.type === 'clicked' ? await engagementOf(core.db, b.id, rows.map((r) => r.id)) : null;
  return {
    object: 'list' as const, has_more,
    data: rows.map((r) => {
      const e = seen?.get(r.id);
      const extra = page.type === 'opened' ? { count: e?.opens ?? 0 }
        : page.type === 'clicked' ? { count: [...(e?.clicks.values() ?? [])].reduce((a, n) => a + n, 0), clicked_links: [...(e?.clicks ?? [])].map(([url, clicks]) => ({ url, clicks })) }
        : page.type === 'bounced' ? { bounce_type: 'permanent' } : {};
      return { id: r.id, contact_id: r.contact_id, email: r.email, email_id: r.email_id, status: r.skip_reason ? 'skipped' : (r.status ?? 'queued'), skip_reason: r.skip_reason, ...extra };
    }),
  };
}

// ---- fan-out ------------------------------------------------------------------------------------

function lookupFor(c: ContactsTable, defs: Map<string, ContactPropertiesTable>, unsubscribe: string) {
  const values = JSON.parse(c.properties_json) as Record<string, string | number>;
  const byUpper = new Map([...defs.keys()].map((k) => [k.toUpperCase(), k]));
  return (name: string): string | number | null | undefined => {
    const n = name.startsWith('contact.') ? name.slice(8) : name;
    switch (n.toUpperCase()) {
      case 'FIRST_NAME': return c.first_name;
      case 'LAST_NAME': return c.last_name;
      case 'EMAIL': return c.email;
      case 'RESEND_UNSUBSCRIBE_URL': case 'UNSUBSCRIBE_URL': return unsubscribe;
    }
    const key = defs.has(n) ? n : byUpper.get(n.toUpperCase());
    if (!key) return undefined;
    const fb = defs.get(key)!.fallback_json;
    return values[key] ?? (fb === null ? undefined : JSON.parse(fb));
  };
}

/** Why this contact gets nothing, or null. */
async function skipReason(db: Db, b: BroadcastsTable, c: ContactsTable, topicDefault: string | null): Promise<string | null> {
  if (c.unsubscribed) return 'unsubscribed';
  if (await db.selectFrom('contact_confirmations').select('contact_id').where('contact_id', '=', c.id).executeTakeFirst()) return 'pending_confirmation';
  if (b.topic_id) {
    const t = await db.selectFrom('contact_topics').select('subscription').where('contact_id', '=', c.id).where('topic_id', '=', b.topic_id).executeTakeFirst();
    if ((t?.subscription ?? topicDefault) !== 'opt_in') return 'topic_opt_out';
  }
  if (await findSuppression(db, b.workspace_id, c.email)) return 'suppressed';
  return null;
}

async function composeFor(core: Core, b: BroadcastsTable, c: ContactsTable, defs: Map<string, ContactPropertiesTable>, domain: SendingDomain, recipientId: string, tracking: Tracking): Promise<AcceptInput> {
  const url = unsubscribeUrl(core, b.workspace_id, c.id);
  const lookup = lookupFor(c, defs, url);
  let html = b.html === null ? null : render(b.html, lookup, 'html').out;
  if (html !== null && (tracking.open || tracking.click)) html = addTracking(core, html, recipientId, tracking);
  if (html !== null && b.preview_text) html = `<div style="display:none;max-height:0;overflow:hidden">${escapeHtml(b.preview_text)}</div>${html}`;
  const text = b.text === null ? null : render(b.text, lookup, 'text').out;
  // A value with a line break would be refused by the send path; in a subject it is only a space.
  const subject = render(b.subject ?? '', lookup, 'text').out.replace(/[\r\n]+/g, ' ');
  const req = validateSendRequest(
    {
      from: b.from_header, to: c.email, subject, html, text, reply_to: JSON.parse(b.reply_to_json),
      // RFC 2369 §3.2: the HTTPS URL first (the one-click one, RFC 8058), then the mailto.
      headers: { 'List-Unsubscribe': `<${url}>, <mailto:${await unsubscribeMailto(core, b.workspace_id, c.id, domain.returnPathHost)}?subject=unsubscribe>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    },
    { now: core.clock.now() },
  );
  const input = await composeMessage(core, req, domain, [], { workspaceId: b.workspace_id, apiKeyId: null, source: 'broadcast' });
  return { ...input, broadcastId: b.id };
}

/** One batch of a broadcast's fan-out; schedules the next. */
export async function runBroadcastBatch(core: Core, broadcastId: string): Promise<void> {
  const started = core.clock.now();
  const b = await core.db.selectFrom('broadcasts').selectAll().where('id', '=', broadcastId).executeTakeFirst();
  if (!b || (b.status !== 'queued' && b.status !== 'sending')) return;
  const enqueueNext = (runAt: number) => core.jobs.enqueue(BROADCAST_JOB, { broadcastId }, { runAt, uniqueKey: `broadcast:${broadcastId}:${b.cursor ?? 'start'}:${started}`, maxAttempts: 50 });
  // One broadcast per workspace fans out at a time, so the workspace's rate holds.
  const earlier = await core.db.selectFrom('broadcasts').select('id').where('workspace_id', '=', b.workspace_id).where('status', '=', 'sending').where('id', '<', b.id).executeTakeFirst();
  if (earlier) return void (await enqueueNext(started + 1000));
  if (b.status === 'queued') await core.db.updateTable('broadcasts').set({ status: 'sending', updated_at: started }).where('id', '=', b.id).where('status', '=', 'queued').execute();
  // A paused workspace sends nothing more until it is resumed; the broadcast waits where it is.
  if (!(await sendingAllowed(core, b.workspace_id)).allowed) return void (await enqueueNext(started + PAUSED_RETRY_MS));

  const rate = core.settings.broadcastRate;
  const size = rate > 0 ? rate : UNLIMITED_BATCH;
  let q = core.db
    .selectFrom('contacts')
    .innerJoin('contact_segments', 'contact_segments.contact_id', 'contacts.id')
    .selectAll('contacts')
    .where('contact_segments.segment_id', '=', b.segment_id ?? '')
    .where('contacts.workspace_id', '=', b.workspace_id);
  if (b.cursor) q = q.where('contacts.id', '>', b.cursor);
  let contacts = await q.orderBy('contacts.id', 'asc').limit(size).execute();
  const exhausted = contacts.length < size;

  const defs = await propertyDefinitions(core.db, b.workspace_id);
  const topic = b.topic_id ? await core.db.selectFrom('topics').select('default_subscription').where('id', '=', b.topic_id).executeTakeFirst() : undefined;
  if (b.topic_id && !topic) {
    // The topic was removed meanwhile: nobody can be its subscriber.
    await core.db.updateTable('broadcasts').set({ status: 'canceled', updated_at: started }).where('id', '=', b.id).execute();
    return;
  }
  let planned: { c: ContactsTable; rid: string; skip: string | null; input?: AcceptInput; stored?: StoredMessage }[] = [];
  for (const c of contacts) planned.push({ c, rid: newId(started), skip: await skipReason(core.db, b, c, topic?.default_subscription ?? null) });
  // The workspace's shared bucket decides how many of these go now; the rest wait for the next batch.
  const sendable = planned.filter((p) => !p.skip).length;
  const tokens = await takeSendTokens(core, b.workspace_id, sendable);
  let partial = false;
  if (tokens.granted < sendable) {
    partial = true;
    let left = tokens.granted;
    const cut = planned.findIndex((p) => !p.skip && left-- === 0);
    planned = planned.slice(0, cut);
    contacts = contacts.slice(0, cut);
    if (!planned.length) return void (await enqueueNext(core.clock.now() + Math.max(tokens.waitMs, 50)));
  }
  let domain: SendingDomain | null = null;
  let tracking: Tracking = { open: false, click: false };
  if (planned.some((p) => !p.skip)) {
    domain = await domainForSending(core, b.workspace_id, parseMailbox(b.from_header)!.domain);
    tracking = await trackingOf(core.db, domain.id);
  }
  // Composing, signing and fsyncing are independent per message: several at once.
  let next = 0;
  await Promise.all(
    Array.from({ length: COMPOSE_CONCURRENCY }, async () => {
      while (next < planned.length) {
        const p = planned[next++];
        if (p.skip) continue;
        p.input = await composeFor(core, b, p.c, defs, domain!, p.rid, tracking);
        p.stored = await storeMessage(core, p.input);
      }
    }),
  );

  let done: boolean;
  try {
    done = await core.store.transaction(async (tx) => {
      // Canceled while this batch was being prepared: hand nothing more to the MTA.
      const now = await tx.selectFrom('broadcasts').select(['status', 'cursor']).where('id', '=', b.id).executeTakeFirst();
      if (!now || now.status !== 'sending' || now.cursor !== b.cursor) return true;
      const at = core.clock.now();
      for (const p of planned) {
        const exists = await tx.selectFrom('broadcast_recipients').select('id').where('broadcast_id', '=', b.id).where('email', '=', p.c.email).executeTakeFirst();
        if (exists) continue;
        const emailId = p.input ? await recordMessage(core, tx, p.input, p.stored!) : null;
        await tx.insertInto('broadcast_recipients').values({ id: p.rid, workspace_id: b.workspace_id, broadcast_id: b.id, contact_id: p.c.id, email: p.c.email, email_id: emailId, skip_reason: p.skip, created_at: at }).execute();
      }
      const last = contacts.at(-1)?.id ?? b.cursor;
      const finished = exhausted && !partial;
      await tx.updateTable('broadcasts').set({ cursor: last, updated_at: at, ...(finished ? { status: 'sent', sent_at: at } : {}) }).where('id', '=', b.id).execute();
      return finished;
    });
  } catch (err) {
    // Paused (or out of quota) between the check above and the commit: nothing of this batch was
    // recorded; try it again later rather than spending the job's attempts.
    if (err instanceof SendingRefused) return void (await enqueueNext(core.clock.now() + (err.status === 429 ? (err.retryAfterSeconds ?? 60) * 1000 : PAUSED_RETRY_MS)));
    throw err;
  }
  if (!done) {
    b.cursor = contacts.at(-1)?.id ?? b.cursor;
    // The bucket refills at the rate: the next batch a second on (or as soon as tokens are back).
    // Without a rate the next batch is due at once, dated at the broadcast's creation: the queue
    // runs jobs by run_at, so it goes ahead of the deliveries this batch just queued instead of
    // waiting behind them (the fan-out would otherwise crawl at the speed of delivery).
    await enqueueNext(rate > 0 ? core.clock.now() + (partial ? Math.max(tokens.waitMs, 50) : 1000) : Math.min(b.created_at, core.clock.now()));
  }
}

export function registerBroadcastJobs(core: Core, worker: Worker): void {
  worker.handle(BROADCAST_JOB, async ({ broadcastId }: { broadcastId: string }) => runBroadcastBatch(core, broadcastId));
}
