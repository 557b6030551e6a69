// Contacts and their typed properties (Resend's contacts.* and contactProperties.*).
//
// Implementation notes:
// - An address is one contact per workspace: normaliseContactEmail() lower-cases it and writes an
//   IDN domain as A-labels, as the MTA does before delivery; `user+tag@` stays its own address, as
//   the MTA delivers it. The unique (workspace_id, email) constraint is the race guard.
// - A contact is found by id (a UUID) or by address (anything with an @), always inside the
//   caller's workspace: another workspace's id or address is simply not found.
// - Property values are checked against the workspace's definitions: an unknown key or a value of
//   the wrong type is a 422 naming the property; nothing nested is ever stored.
// - contact.created / contact.updated / contact.deleted are emitted in the transaction of the change.
import { domainToASCII } from 'node:url';
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { ContactPropertiesTable, ContactsTable } from '../db/schema.ts';
import { emitEvent, emitEvents } from '../events/webhooks.ts';

export type Contact = ContactsTable;
export type PropertyValue = string | number;

const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PROPERTY_KEY = /^[A-Za-z0-9_]{1,50}$/;
export const MAX_NAME = 256;
export const MAX_PROPERTY_STRING = 2000;
export const MAX_PROPERTIES = 100;

const iso = (ms: number) => new Date(ms).toISOString();

/** The contact key of an address, or null when it is not one. */
export function normaliseContactEmail(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 320 || /[\s<>\u0000-\u001f\u007f]/.test(raw.trim())) return null;
  const s = raw.trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  if (local.length > 64 || !LOCAL.test(local)) return null;
  const domain = domainToASCII(s.slice(at + 1).toLowerCase());
  if (!domain || domain.length > 253) return null;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return null;
  const email = `${local.toLowerCase()}@${domain}`;
  return email.length > 254 ? null : email;
}

export function checkContactEmail(raw: unknown): string {
  const e = normaliseContactEmail(raw);
  if (!e) throw invalid(`Invalid \`email\` field: ${typeof raw === 'string' ? JSON.stringify(raw.slice(0, 100)) : 'it must be a string'} is not an email address.`);
  return e;
}

// ---- properties ---------------------------------------------------------------------------------

export function propertyJson(p: ContactPropertiesTable) {
  return { object: 'contact_property' as const, id: p.id, key: p.key, type: p.type, fallback_value: p.fallback_json === null ? null : JSON.parse(p.fallback_json), created_at: iso(p.created_at) };
}

function checkFallback(type: 'string' | 'number', v: unknown, key: string): string | null {
  if (v === undefined || v === null) return null;
  if (type === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) throw invalid(`The fallback value of property \`${key}\` must be a number.`);
  if (type === 'string' && typeof v !== 'string') throw invalid(`The fallback value of property \`${key}\` must be a string.`);
  if (typeof v === 'string' && v.length > MAX_PROPERTY_STRING) throw invalid(`The fallback value of property \`${key}\` is longer than ${MAX_PROPERTY_STRING} characters.`);
  return JSON.stringify(v);
}

export async function createProperty(core: Core, workspaceId: string, body: any) {
  const key = body?.key;
  if (typeof key !== 'string' || !PROPERTY_KEY.test(key)) throw invalid('The `key` field must be 1 to 50 letters, digits or underscores.');
  const type = body?.type;
  if (type !== 'string' && type !== 'number') throw invalid('The `type` field must be `string` or `number`.');
  const row: ContactPropertiesTable = { id: newId(core.clock.now()), workspace_id: workspaceId, key, type, fallback_json: checkFallback(type, body.fallback_value, key), created_at: core.clock.now() };
  const inserted = await core.db.insertInto('contact_properties').values(row).onConflict((oc) => oc.columns(['workspace_id', 'key']).doNothing()).returning('id').executeTakeFirst();
  if (!inserted) throw new CoreError(409, 'validation_error', `A contact property with key \`${key}\` already exists.`);
  return { object: 'contact_property' as const, id: row.id };
}

async function findProperty(db: Db, workspaceId: string, id: string) {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('contact_properties').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst();
}

export async function getProperty(core: Core, workspaceId: string, id: string) {
  const p = await findProperty(core.db, workspaceId, id);
  if (!p) throw notFound('Contact property');
  return propertyJson(p);
}

export async function listProperties(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('contact_properties').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(propertyJson) };
}

export async function updateProperty(core: Core, workspaceId: string, id: string, body: any) {
  const p = await findProperty(core.db, workspaceId, id);
  if (!p) throw notFound('Contact property');
  if (body?.key !== undefined && body.key !== p.key) throw invalid('The `key` of a contact property cannot be changed.');
  if (body?.type !== undefined && body.type !== p.type) throw invalid('The `type` of a contact property cannot be changed.');
  if (body && 'fallback_value' in body) {
    await core.db.updateTable('contact_properties').set({ fallback_json: checkFallback(p.type, body.fallback_value, p.key) }).where('id', '=', p.id).execute();
  }
  return { object: 'contact_property' as const, id: p.id };
}

export async function removeProperty(core: Core, workspaceId: string, id: string) {
  const p = await findProperty(core.db, workspaceId, id);
  if (!p) throw notFound('Contact property');
  await core.db.deleteFrom('contact_properties').where('id', '=', p.id).execute();
  return { object: 'contact_property' as const, id: p.id, deleted: true };
}

export async function propertyDefinitions(db: Db, workspaceId: string): Promise<Map<string, ContactPropertiesTable>> {
  const rows = await db.selectFrom('contact_properties').selectAll().where('workspace_id', '=', workspaceId).execute();
  return new Map(rows.map((r) => [r.key, r]));
}

/** Checks one value for a property; returns it, null (to clear) or throws a 422 naming the key. */
export function checkPropertyValue(defs: Map<string, ContactPropertiesTable>, key: string, v: unknown): PropertyValue | null {
  const def = defs.get(key);
  if (!def) throw invalid(`Unknown contact property \`${key.slice(0, 60)}\`: create it with contactProperties.create first.`);
  if (v === null) return null;
  if (def.type === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`The contact property \`${key}\` is a number; ${JSON.stringify(v)?.slice(0, 60) ?? typeof v} is not.`);
    return v;
  }
  if (typeof v !== 'string') throw invalid(`The contact property \`${key}\` is a string; ${JSON.stringify(v)?.slice(0, 60) ?? typeof v} is not.`);
  if (v.length > MAX_PROPERTY_STRING) throw invalid(`The contact property \`${key}\` is longer than ${MAX_PROPERTY_STRING} characters.`);
  return v;
}

/** Merges a properties object into `current`, every key and value checked. */
export function mergeProperties(defs: Map<string, ContactPropertiesTable>, current: Record<string, PropertyValue>, raw: unknown): Record<string, PropertyValue> {
  if (raw === undefined || raw === null) return current;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('The `properties` field must be an object of property keys to values.');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_PROPERTIES) throw invalid(`The \`properties\` field may hold at most ${MAX_PROPERTIES} properties.`);
  const out = { ...current };
  for (const [k, v] of entries) {
    const value = checkPropertyValue(defs, k, v);
    if (value === null) delete out[k];
    else out[k] = value;
  }
  return out;
}

// ---- contacts -----------------------------------------------------------------------------------

function checkName(v: unknown, field: string): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string') throw invalid(`The \`${field}\` field must be a string.`);
  if (v.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(v)) throw invalid(`The \`${field}\` field must be at most ${MAX_NAME} characters without control characters.`);
  return v;
}

function checkBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`The \`${field}\` field must be true or false.`);
  return v;
}

export function contactJson(c: Contact, defs?: Map<string, ContactPropertiesTable>) {
  const base = { object: 'contact' as const, id: c.id, email: c.email, first_name: c.first_name, last_name: c.last_name, unsubscribed: c.unsubscribed === 1, created_at: iso(c.created_at) };
  if (!defs) return base;
  const values = JSON.parse(c.properties_json) as Record<string, PropertyValue>;
  const properties: Record<string, { type: string; value: PropertyValue | null }> = {};
  for (const [k, d] of defs) {
    const v = values[k] ?? (d.fallback_json === null ? null : JSON.parse(d.fallback_json));
    if (v !== null && v !== undefined) properties[k] = { type: d.type, value: v };
  }
  return { ...base, properties };
}

function eventData(c: Contact) {
  return { id: c.id, email: c.email, first_name: c.first_name, last_name: c.last_name, unsubscribed: c.unsubscribed === 1, created_at: iso(c.created_at), updated_at: iso(c.updated_at) };
}

/** By id (a UUID) or by address; in this workspace only. */
export async function findContact(db: Db, workspaceId: string, idOrEmail: string): Promise<Contact | undefined> {
  const key = idOrEmail.trim();
  if (key.includes('@')) {
    const email = normaliseContactEmail(key);
    if (!email) return undefined;
    return db.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId).where('email', '=', email).executeTakeFirst();
  }
  if (!isUuid(key)) return undefined;
  return db.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', key.toLowerCase()).executeTakeFirst();
}

export async function requireContact(db: Db, workspaceId: string, idOrEmail: string): Promise<Contact> {
  const c = await findContact(db, workspaceId, idOrEmail);
  if (!c) throw notFound('Contact');
  return c;
}

export interface ContactInput {
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  unsubscribed?: boolean;
  properties?: unknown;
  segments?: { id: string }[];
  topics?: { id: string; subscription: 'opt_in' | 'opt_out' }[];
}

export function checkSegmentsField(raw: unknown): { id: string }[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 100) throw invalid('The `segments` field must be an array of at most 100 { id } objects.');
  return raw.map((s) => {
    if (!s || typeof s !== 'object' || typeof (s as any).id !== 'string') throw invalid('Each entry of `segments` must be an object with an `id`.');
    return { id: (s as any).id };
  });
}

export function checkTopicsField(raw: unknown): { id: string; subscription: 'opt_in' | 'opt_out' }[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 100) throw invalid('The `topics` field must be an array of at most 100 { id, subscription } objects.');
  return raw.map((t) => {
    const o = t as any;
    if (!o || typeof o !== 'object' || typeof o.id !== 'string') throw invalid('Each entry of `topics` must be an object with an `id`.');
    if (o.subscription !== 'opt_in' && o.subscription !== 'opt_out') throw invalid('The `subscription` of a topic must be `opt_in` or `opt_out`.');
    return { id: o.id, subscription: o.subscription };
  });
}

export function contactInputOf(body: any): ContactInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('The request body must be a JSON object.');
  if (body.email === undefined || body.email === null) throw new CoreError(422, 'missing_required_field', 'Missing `email` field.');
  return {
    email: checkContactEmail(body.email),
    firstName: checkName(body.first_name, 'first_name'),
    lastName: checkName(body.last_name, 'last_name'),
    unsubscribed: checkBool(body.unsubscribed, 'unsubscribed'),
    properties: body.properties,
    segments: checkSegmentsField(body.segments),
    topics: checkTopicsField(body.topics),
  };
}

/** Ids of segments that exist in this workspace, or a 404 naming the first that does not. */
export async function requireSegments(db: Db, workspaceId: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const ok = isUuid(id) && (await db.selectFrom('segments').select('id').where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst());
    if (!ok) throw notFound(`Segment ${id.slice(0, 60)}`);
  }
}

export async function requireTopics(db: Db, workspaceId: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const ok = isUuid(id) && (await db.selectFrom('topics').select('id').where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst());
    if (!ok) throw notFound(`Topic ${id.slice(0, 60)}`);
  }
}

export async function addToSegment(db: Db, workspaceId: string, contactId: string, segmentId: string, now: number) {
  await db.insertInto('contact_segments').values({ workspace_id: workspaceId, contact_id: contactId, segment_id: segmentId.toLowerCase(), created_at: now }).onConflict((oc) => oc.columns(['segment_id', 'contact_id']).doNothing()).execute();
}

export async function setTopic(db: Db, workspaceId: string, contactId: string, topicId: string, subscription: 'opt_in' | 'opt_out', now: number) {
  await db
    .insertInto('contact_topics')
    .values({ workspace_id: workspaceId, contact_id: contactId, topic_id: topicId.toLowerCase(), subscription, updated_at: now })
    .onConflict((oc) => oc.columns(['contact_id', 'topic_id']).doUpdateSet({ subscription, updated_at: now }))
    .execute();
}

/**
 * Creates a contact, or (with `upsert`) updates the one with that address. Inside `tx`; the
 * caller has checked segments and topics exist. Returns the row and what happened.
 */
export async function writeContact(core: Core, tx: Db, workspaceId: string, input: ContactInput, defs: Map<string, ContactPropertiesTable>, mode: 'create' | 'upsert' | 'skip'): Promise<{ contact: Contact; outcome: 'created' | 'updated' | 'skipped' }> {
  const now = core.clock.now();
  const existing = await tx.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId).where('email', '=', input.email).executeTakeFirst();
  let contact: Contact;
  let outcome: 'created' | 'updated' | 'skipped';
  if (existing) {
    if (mode === 'create') throw new CoreError(409, 'validation_error', `A contact with the address ${input.email} already exists.`);
    if (mode === 'skip') return { contact: existing, outcome: 'skipped' };
    const properties = mergeProperties(defs, JSON.parse(existing.properties_json), input.properties);
    contact = {
      ...existing,
      first_name: input.firstName === undefined ? existing.first_name : input.firstName,
      last_name: input.lastName === undefined ? existing.last_name : input.lastName,
      unsubscribed: input.unsubscribed === undefined ? existing.unsubscribed : input.unsubscribed ? 1 : 0,
      properties_json: JSON.stringify(properties),
      updated_at: now,
    };
    await tx.updateTable('contacts').set({ first_name: contact.first_name, last_name: contact.last_name, unsubscribed: contact.unsubscribed, properties_json: contact.properties_json, updated_at: now }).where('id', '=', existing.id).execute();
    outcome = 'updated';
  } else {
    const properties = mergeProperties(defs, {}, input.properties);
    contact = { id: newId(now), workspace_id: workspaceId, email: input.email, first_name: input.firstName ?? null, last_name: input.lastName ?? null, unsubscribed: input.unsubscribed ? 1 : 0, properties_json: JSON.stringify(properties), created_at: now, updated_at: now };
    await tx.insertInto('contacts').values(contact).execute();
    outcome = 'created';
  }
  for (const s of input.segments ?? []) await addToSegment(tx, workspaceId, contact.id, s.id, now);
  for (const t of input.topics ?? []) await setTopic(tx, workspaceId, contact.id, t.id, t.subscription, now);
  await emitEvent(core, workspaceId, outcome === 'created' ? 'contact.created' : 'contact.updated', eventData(contact), tx);
  return { contact, outcome };
}

export async function createContact(core: Core, workspaceId: string, body: unknown) {
  const input = contactInputOf(body);
  return core.store.transaction(async (tx) => {
    await requireSegments(tx, workspaceId, input.segments!.map((s) => s.id));
    await requireTopics(tx, workspaceId, input.topics!.map((t) => t.id));
    const defs = await propertyDefinitions(tx, workspaceId);
    const { contact } = await writeContact(core, tx, workspaceId, input, defs, 'create');
    return { object: 'contact' as const, id: contact.id };
  });
}

export async function getContact(core: Core, workspaceId: string, idOrEmail: string) {
  const c = await requireContact(core.db, workspaceId, idOrEmail);
  return contactJson(c, await propertyDefinitions(core.db, workspaceId));
}

export async function listContacts(core: Core, workspaceId: string, page: PageRequest, segmentId?: string) {
  let q = core.db.selectFrom('contacts').selectAll('contacts').where('contacts.workspace_id', '=', workspaceId);
  if (segmentId !== undefined) {
    if (!isUuid(segmentId) || !(await core.db.selectFrom('segments').select('id').where('workspace_id', '=', workspaceId).where('id', '=', segmentId.toLowerCase()).executeTakeFirst())) throw notFound('Segment');
    q = q.innerJoin('contact_segments', 'contact_segments.contact_id', 'contacts.id').where('contact_segments.segment_id', '=', segmentId.toLowerCase());
  }
  const { rows, has_more } = await paginate(q, 'contacts.id', page);
  return { object: 'list' as const, has_more, data: rows.map((r) => { const { object: _o, ...rest } = contactJson(r); return rest; }) };
}

export async function updateContact(core: Core, workspaceId: string, idOrEmail: string, body: any) {
  if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) throw invalid('The request body must be a JSON object.');
  const b = body ?? {};
  const firstName = checkName(b.first_name, 'first_name');
  const lastName = checkName(b.last_name, 'last_name');
  const unsubscribed = checkBool(b.unsubscribed, 'unsubscribed');
  return core.store.transaction(async (tx) => {
    const c = await requireContact(tx, workspaceId, idOrEmail);
    const defs = await propertyDefinitions(tx, workspaceId);
    await writeContact(core, tx, workspaceId, { email: c.email, firstName, lastName, unsubscribed, properties: b.properties }, defs, 'upsert');
    return { object: 'contact' as const, id: c.id };
  });
}

/** Sets the global opt-out (one-click, preference page, mailto, API); idempotent. */
export async function unsubscribeContact(core: Core, tx: Db, workspaceId: string, contactId: string): Promise<boolean> {
  const now = core.clock.now();
  const r = await tx.updateTable('contacts').set({ unsubscribed: 1, updated_at: now }).where('workspace_id', '=', workspaceId).where('id', '=', contactId).where('unsubscribed', '=', 0).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  const c = await tx.selectFrom('contacts').selectAll().where('id', '=', contactId).executeTakeFirstOrThrow();
  await emitEvent(core, workspaceId, 'contact.updated', eventData(c), tx);
  return true;
}

export async function removeContact(core: Core, workspaceId: string, idOrEmail: string) {
  return core.store.transaction(async (tx) => {
    const c = await requireContact(tx, workspaceId, idOrEmail);
    await tx.deleteFrom('contact_segments').where('contact_id', '=', c.id).execute();
    await tx.deleteFrom('contact_topics').where('contact_id', '=', c.id).execute();
    await tx.deleteFrom('contacts').where('id', '=', c.id).execute();
    await emitEvent(core, workspaceId, 'contact.deleted', eventData(c), tx);
    return { object: 'contact' as const, contact: c.id, deleted: true };
  });
}

/**
 * writeContact for many inputs at once (imports): new addresses are inserted with multi-row
 * inserts and their events emitted together; an address that exists, or repeats within
 * `inputs`, goes through writeContact in order. Outcomes are in the order of `inputs`.
 */
export async function writeContacts(core: Core, tx: Db, workspaceId: string, inputs: ContactInput[], defs: Map<string, ContactPropertiesTable>, mode: 'upsert' | 'skip'): Promise<('created' | 'updated' | 'skipped')[]> {
  const emails = [...new Set(inputs.map((i) => i.email))];
  const existing = new Set<string>();
  for (let i = 0; i < emails.length; i += 500) {
    for (const r of await tx.selectFrom('contacts').select('email').where('workspace_id', '=', workspaceId).where('email', 'in', emails.slice(i, i + 500)).execute()) existing.add(r.email);
  }
  const now = core.clock.now();
  const outcomes: ('created' | 'updated' | 'skipped')[] = new Array(inputs.length);
  const fresh: Contact[] = [];
  const later: number[] = [];
  const taken = new Set<string>();
  inputs.forEach((input, i) => {
    if (existing.has(input.email) || taken.has(input.email)) return void later.push(i);
    taken.add(input.email);
    fresh.push({ id: newId(now), workspace_id: workspaceId, email: input.email, first_name: input.firstName ?? null, last_name: input.lastName ?? null, unsubscribed: input.unsubscribed ? 1 : 0, properties_json: JSON.stringify(mergeProperties(defs, {}, input.properties)), created_at: now, updated_at: now });
    outcomes[i] = 'created';
  });
  const byEmail = new Map(inputs.map((inp) => [inp.email, inp]));
  for (let i = 0; i < fresh.length; i += 200) {
    const part = fresh.slice(i, i + 200);
    await tx.insertInto('contacts').values(part).execute();
    const segs = part.flatMap((c) => (byEmail.get(c.email)!.segments ?? []).map((s) => ({ workspace_id: workspaceId, contact_id: c.id, segment_id: s.id.toLowerCase(), created_at: now })));
    if (segs.length) await tx.insertInto('contact_segments').values(segs).execute();
    const tops = part.flatMap((c) => (byEmail.get(c.email)!.topics ?? []).map((t) => ({ workspace_id: workspaceId, contact_id: c.id, topic_id: t.id.toLowerCase(), subscription: t.subscription, updated_at: now })));
    if (tops.length) await tx.insertInto('contact_topics').values(tops).execute();
  }
  await emitEvents(core, workspaceId, fresh.map((c) => ({ type: 'contact.created' as const, data: eventData(c) })), tx);
  for (const i of later) outcomes[i] = (await writeContact(core, tx, workspaceId, inputs[i], defs, mode)).outcome;
  return outcomes;
}
