// Segments (groups of contacts) and topics (subscription categories): Resend's segments.*,
// topics.*, contacts.segments.* and contacts.topics.*.
//
// Implementation notes:
// - Every lookup is by id inside the caller's workspace; another workspace's id is not found.
// - A contact's subscription to a topic is its `contact_topics` row, or the topic's
//   `default_subscription` when it has none: an opt_out topic reaches only those who opted in.
import type { Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { TopicsTable } from '../db/schema.ts';
import { addToSegment, checkTopicsField, requireContact, requireTopics, setTopic } from './contacts.ts';

const iso = (ms: number) => new Date(ms).toISOString();

function checkText(v: unknown, field: string, max: number, required: boolean): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw invalid(`Missing \`${field}\` field.`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '' || v.length > max || /[\u0000-\u001f\u007f]/.test(v)) throw invalid(`The \`${field}\` field must be 1 to ${max} characters without control characters.`);
  return v;
}

// ---- segments -----------------------------------------------------------------------------------

export async function findSegment(db: Db, workspaceId: string, id: string) {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('segments').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst();
}

async function requireSegment(db: Db, workspaceId: string, id: string) {
  const s = await findSegment(db, workspaceId, id);
  if (!s) throw notFound('Segment');
  return s;
}

export async function createSegment(core: Core, workspaceId: string, body: any) {
  const name = checkText(body?.name, 'name', 200, true)!;
  const now = core.clock.now();
  const id = newId(now);
  await core.db.insertInto('segments').values({ id, workspace_id: workspaceId, name, created_at: now }).execute();
  return { object: 'segment' as const, id, name };
}

export async function getSegment(core: Core, workspaceId: string, id: string) {
  const s = await requireSegment(core.db, workspaceId, id);
  return { object: 'segment' as const, id: s.id, name: s.name, created_at: iso(s.created_at) };
}

export async function listSegments(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('segments').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return { object: 'list' as const, has_more, data: rows.map((s) => ({ id: s.id, name: s.name, created_at: iso(s.created_at) })) };
}

export async function updateSegment(core: Core, workspaceId: string, id: string, body: any) {
  const s = await requireSegment(core.db, workspaceId, id);
  const name = checkText(body?.name, 'name', 200, true)!;
  await core.db.updateTable('segments').set({ name }).where('id', '=', s.id).execute();
  return { object: 'segment' as const, id: s.id };
}

export async function removeSegment(core: Core, workspaceId: string, id: string) {
  return core.store.transaction(async (tx) => {
    const s = await requireSegment(tx, workspaceId, id);
    await tx.deleteFrom('contact_segments').where('segment_id', '=', s.id).execute();
    await tx.deleteFrom('segments').where('id', '=', s.id).execute();
    return { object: 'segment' as const, id: s.id, deleted: true };
  });
}

export async function contactSegments(core: Core, workspaceId: string, idOrEmail: string, page: PageRequest) {
  const c = await requireContact(core.db, workspaceId, idOrEmail);
  const q = core.db
    .selectFrom('segments')
    .innerJoin('contact_segments', 'contact_segments.segment_id', 'segments.id')
    .selectAll('segments')
    .where('contact_segments.contact_id', '=', c.id)
    .where('segments.workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'segments.id', page);
  return { object: 'list' as const, has_more, data: rows.map((s) => ({ id: s.id, name: s.name, created_at: iso(s.created_at) })) };
}

export async function addContactSegment(core: Core, workspaceId: string, idOrEmail: string, segmentId: string) {
  return core.store.transaction(async (tx) => {
    const c = await requireContact(tx, workspaceId, idOrEmail);
    const s = await requireSegment(tx, workspaceId, segmentId);
    await addToSegment(tx, workspaceId, c.id, s.id, core.clock.now());
    return { id: s.id };
  });
}

export async function removeContactSegment(core: Core, workspaceId: string, idOrEmail: string, segmentId: string) {
  return core.store.transaction(async (tx) => {
    const c = await requireContact(tx, workspaceId, idOrEmail);
    const s = await requireSegment(tx, workspaceId, segmentId);
    const r = await tx.deleteFrom('contact_segments').where('contact_id', '=', c.id).where('segment_id', '=', s.id).executeTakeFirst();
    return { id: s.id, deleted: Number(r.numDeletedRows) > 0 };
  });
}

// ---- topics -------------------------------------------------------------------------------------

function topicJson(t: TopicsTable) {
  return { object: 'topic' as const, id: t.id, name: t.name, description: t.description ?? undefined, default_subscription: t.default_subscription, created_at: iso(t.created_at) };
}

export async function findTopic(db: Db, workspaceId: string, id: string) {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('topics').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst();
}

async function requireTopic(db: Db, workspaceId: string, id: string) {
  const t = await findTopic(db, workspaceId, id);
  if (!t) throw notFound('Topic');
  return t;
}

export async function createTopic(core: Core, workspaceId: string, body: any) {
  const name = checkText(body?.name, 'name', 200, true)!;
  const description = checkText(body?.description, 'description', 2000, false) ?? null;
  const def = body?.default_subscription;
  if (def !== 'opt_in' && def !== 'opt_out') throw invalid('The `default_subscription` field must be `opt_in` or `opt_out`.');
  const now = core.clock.now();
  const id = newId(now);
  await core.db.insertInto('topics').values({ id, workspace_id: workspaceId, name, description, default_subscription: def, created_at: now }).execute();
  return { object: 'topic' as const, id };
}

export async function getTopic(core: Core, workspaceId: string, id: string) {
  return topicJson(await requireTopic(core.db, workspaceId, id));
}

export async function listTopics(core: Core, workspaceId: string) {
  const rows = await core.db.selectFrom('topics').selectAll().where('workspace_id', '=', workspaceId).orderBy('id', 'desc').limit(1000).execute();
  return { object: 'list' as const, has_more: false, data: rows.map((t) => { const { object: _o, ...rest } = topicJson(t); return rest; }) };
}

export async function updateTopic(core: Core, workspaceId: string, id: string, body: any) {
  const t = await requireTopic(core.db, workspaceId, id);
  if (body?.default_subscription !== undefined && body.default_subscription !== t.default_subscription) throw invalid('The `default_subscription` of a topic cannot be changed.');
  const name = checkText(body?.name, 'name', 200, false);
  const description = checkText(body?.description, 'description', 2000, false);
  await core.db.updateTable('topics').set({ name: name ?? t.name, description: description ?? t.description }).where('id', '=', t.id).execute();
  return { object: 'topic' as const, id: t.id };
}

export async function removeTopic(core: Core, workspaceId: string, id: string) {
  return core.store.transaction(async (tx) => {
    const t = await requireTopic(tx, workspaceId, id);
    await tx.deleteFrom('contact_topics').where('topic_id', '=', t.id).execute();
    await tx.deleteFrom('topics').where('id', '=', t.id).execute();
    return { object: 'topic' as const, id: t.id, deleted: true };
  });
}

/** Every topic of the workspace with this contact's subscription to it. */
export async function subscriptionsOf(db: Db, workspaceId: string, contactId: string) {
  const topics = await db.selectFrom('topics').selectAll().where('workspace_id', '=', workspaceId).orderBy('id', 'desc').limit(1000).execute();
  const rows = await db.selectFrom('contact_topics').select(['topic_id', 'subscription']).where('contact_id', '=', contactId).execute();
  const chosen = new Map(rows.map((r) => [r.topic_id, r.subscription]));
  return topics.map((t) => ({ id: t.id, name: t.name, description: t.description, subscription: chosen.get(t.id) ?? t.default_subscription }));
}

export async function contactTopics(core: Core, workspaceId: string, idOrEmail: string) {
  const c = await requireContact(core.db, workspaceId, idOrEmail);
  return { object: 'list' as const, has_more: false, data: await subscriptionsOf(core.db, workspaceId, c.id) };
}

export async function updateContactTopics(core: Core, workspaceId: string, idOrEmail: string, body: unknown) {
  const topics = checkTopicsField(body);
  return core.store.transaction(async (tx) => {
    const c = await requireContact(tx, workspaceId, idOrEmail);
    await requireTopics(tx, workspaceId, topics.map((t) => t.id));
    const now = core.clock.now();
    for (const t of topics) await setTopic(tx, workspaceId, c.id, t.id, t.subscription, now);
    return { id: c.id };
  });
}
