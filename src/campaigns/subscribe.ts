// Public subscribe forms and double opt-in (POST /subscribe/:form_id; /v1/subscribe-forms).
//
// Implementation notes:
// - A form belongs to one workspace and names what a subscriber joins: a segment, a topic (opted
//   in), or both. A website posts `email` (and optionally `first_name`, `last_name`) to it; no
//   sign-in. The HTTP door rate-limits posts per client address.
// - With double opt-in (the default) nothing the subscriber asked for is applied until the link in
//   the confirmation mail is followed: a new address becomes a contact held by a
//   `contact_confirmations` row, which every broadcast skips (`pending_confirmation`); an existing
//   contact is not held (its earlier consent stands) and gets the segment, topic and, if it had
//   unsubscribed, its subscription back only on confirmation.
// - Without double opt-in the form applies at once, but never undoes an unsubscribe: only a
//   confirmed address can take back its own opt-out.
// - The answer to a post is the same whether the address was known, new or pending, so the form
//   says nothing about who is on the list.
// - The confirmation link carries a token sealed by the vault (context `subscribe-confirm`) around
//   the contact, the form and the time of the request; it is valid for CONFIRM_TTL_MS and only for
//   the latest request. Following it (GET) shows a page with one button; the POST confirms, so a
//   mail scanner that fetches links does not confirm for the reader.
// - The confirmation mail goes through the accept path (quotas, pause, suppressions, DKIM) from
//   the form's `from`, whose domain must be verified in the workspace.
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { SubscribeFormsTable } from '../db/schema.ts';
import { domainForSending } from '../domains/domains.ts';
import { emitEvent } from '../events/webhooks.ts';
import { acceptMessage } from '../outbound/accept.ts';
import { parseMailbox } from '../outbound/addresses.ts';
import { composeMessage, validateSendRequest } from '../outbound/compose.ts';
import { addToSegment, normaliseContactEmail, setTopic } from './contacts.ts';
import { escapeHtml } from './render.ts';

const CONTEXT = 'subscribe-confirm';
export const CONFIRM_TTL_MS = 7 * 86_400_000;
const MAX_NAME = 256;
const hex = (uuid: string) => uuid.replace(/-/g, '');
const uuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
const iso = (ms: number) => new Date(ms).toISOString();

function formJson(f: SubscribeFormsTable, core: Core) {
  return {
    object: 'subscribe_form' as const, id: f.id, name: f.name, segment_id: f.segment_id, topic_id: f.topic_id, from: f.from_header,
    double_opt_in: f.double_opt_in === 1, redirect_url: f.redirect_url, url: `${core.settings.publicUrl}/subscribe/${f.id}`, created_at: iso(f.created_at),
  };
}

async function requireForm(core: Core, workspaceId: string, id: string) {
  const f = isUuid(id) ? await core.db.selectFrom('subscribe_forms').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).executeTakeFirst() : undefined;
  if (!f) throw notFound('Subscribe form');
  return f;
}

export async function createForm(core: Core, workspaceId: string, body: any) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('The request body must be a JSON object.');
  const name = body.name ?? 'Subscribe';
  if (typeof name !== 'string' || !name.trim() || name.length > 200 || /[\u0000-\u001f]/.test(name)) throw invalid('The `name` field must be 1 to 200 characters.');
  const from = body.from;
  const mb = typeof from === 'string' && from.length <= 998 ? parseMailbox(from) : null;
  if (!mb) throw new CoreError(422, 'invalid_from_address', 'Invalid `from` field: the sender of the confirmation mail, `email@example.com` or `Name <email@example.com>`.');
  const seg = body.segment_id ?? null;
  const topic = body.topic_id ?? null;
  if (seg === null && topic === null) throw invalid('A form needs a `segment_id`, a `topic_id`, or both: what a subscriber joins.');
  if (seg !== null && !(typeof seg === 'string' && isUuid(seg) && (await core.db.selectFrom('segments').select('id').where('workspace_id', '=', workspaceId).where('id', '=', seg.toLowerCase()).executeTakeFirst()))) throw notFound('Segment');
  if (topic !== null && !(typeof topic === 'string' && isUuid(topic) && (await core.db.selectFrom('topics').select('id').where('workspace_id', '=', workspaceId).where('id', '=', topic.toLowerCase()).executeTakeFirst()))) throw notFound('Topic');
  // The confirmation mail must be able to go: the domain is verified now (403 otherwise).
  await domainForSending(core, workspaceId, mb.domain);
  const doi = body.double_opt_in ?? true;
  if (typeof doi !== 'boolean') throw invalid('The `double_opt_in` field must be true or false.');
  let redirect: string | null = null;
  if (body.redirect_url !== undefined && body.redirect_url !== null) {
    let u: URL | null = null;
    try { u = typeof body.redirect_url === 'string' && body.redirect_url.length <= 2000 ? new URL(body.redirect_url) : null; } catch {}
    if (!u || u.protocol !== 'https:') throw invalid('The `redirect_url` field must be an https URL.');
    redirect = u.toString();
  }
  const now = core.clock.now();
  const row: SubscribeFormsTable = { id: newId(now), workspace_id: workspaceId, name: name.trim(), segment_id: seg?.toLowerCase() ?? null, topic_id: topic?.toLowerCase() ?? null, from_header: from, double_opt_in: doi ? 1 : 0, redirect_url: redirect, created_at: now };
  await core.db.insertInto('subscribe_forms').values(row).execute();
  return formJson(row, core);
}

export async function getForm(core: Core, workspaceId: string, id: string) {
  return formJson(await requireForm(core, workspaceId, id), core);
}

export async function listForms(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('subscribe_forms').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return { object: 'list' as const, has_more, data: rows.map((f) => formJson(f, core)) };
}

export async function removeForm(core: Core, workspaceId: string, id: string) {
  const f = await requireForm(core, workspaceId, id);
  await core.db.deleteFrom('subscribe_forms').where('id', '=', f.id).execute();
  return { object: 'subscribe_form' as const, id: f.id, deleted: true };
}

/** A form by its public id (any workspace), or a 404. */
async function publicForm(core: Core, formId: string) {
  const f = isUuid(formId) ? await core.db.selectFrom('subscribe_forms').selectAll().where('id', '=', formId.toLowerCase()).executeTakeFirst() : undefined;
  if (!f) throw new CoreError(404, 'not_found', 'This subscribe form does not exist.');
  return f;
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}input{font:inherit}</style></head><body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

/** The hosted form (GET /subscribe/:form_id). */
export async function formPage(core: Core, formId: string): Promise<string> {
  const f = await publicForm(core, formId);
  return page(f.name, `<form method="post" action="/subscribe/${escapeHtml(f.id)}">
<label>Email <input type="email" name="email" required maxlength="320" autocomplete="email"></label>
<label>First name <input type="text" name="first_name" maxlength="${MAX_NAME}" autocomplete="given-name"></label>
<button type="submit">Subscribe</button></form>`);
}

function field(v: unknown, name: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(v)) throw invalid(`The \`${name}\` field must be at most ${MAX_NAME} characters without control characters.`);
  return v.trim() || null;
}

export interface SubscribeOutcome {
  /** What the subscriber is told; the same for every address. */
  message: string;
  redirect: string | null;
}

/** A post to a form. Applies at once or sends the confirmation mail (double opt-in). */
export async function subscribe(core: Core, formId: string, body: Record<string, unknown>): Promise<SubscribeOutcome> {
  const f = await publicForm(core, formId);
  const email = normaliseContactEmail(body.email);
  if (!email) throw invalid('Please give a valid email address in the `email` field.');
  const firstName = field(body.first_name, 'first_name');
  const lastName = field(body.last_name, 'last_name');
  const doi = f.double_opt_in === 1;
  const now = core.clock.now();
  const confirmFor = await core.store.transaction(async (tx) => {
    let c = await tx.selectFrom('contacts').selectAll().where('workspace_id', '=', f.workspace_id).where('email', '=', email).executeTakeFirst();
    if (!c) {
      c = { id: newId(now), workspace_id: f.workspace_id, email, first_name: firstName, last_name: lastName, unsubscribed: 0, properties_json: '{}', created_at: now, updated_at: now };
      await tx.insertInto('contacts').values(c).execute();
      if (doi) await tx.insertInto('contact_confirmations').values({ contact_id: c.id, workspace_id: f.workspace_id, form_id: f.id, requested_at: now }).execute();
      await emitEvent(core, f.workspace_id, 'contact.created', contactEvent(c), tx);
      if (!doi) await join(tx, f, c.id, now);
      return doi ? c.id : null;
    }
    if (doi) {
      // Only the latest request's link confirms; an existing contact is not held meanwhile.
      const pending = await tx.selectFrom('contact_confirmations').select('contact_id').where('contact_id', '=', c.id).executeTakeFirst();
      if (pending) await tx.updateTable('contact_confirmations').set({ form_id: f.id, requested_at: now }).where('contact_id', '=', c.id).execute();
      return c.id;
    }
    await join(tx, f, c.id, now);
    return null;
  });
  if (confirmFor) await sendConfirmation(core, f, confirmFor, email, now);
  return { message: doi ? 'Almost done: check your inbox and follow the link to confirm.' : 'You are subscribed.', redirect: f.redirect_url };
}

function contactEvent(c: { id: string; email: string; first_name: string | null; last_name: string | null; unsubscribed: number; created_at: number; updated_at: number }) {
  return { id: c.id, email: c.email, first_name: c.first_name, last_name: c.last_name, unsubscribed: c.unsubscribed === 1, created_at: iso(c.created_at), updated_at: iso(c.updated_at) };
}

async function join(tx: Parameters<typeof addToSegment>[0], f: SubscribeFormsTable, contactId: string, now: number) {
  if (f.segment_id) await addToSegment(tx, f.workspace_id, contactId, f.segment_id, now);
  if (f.topic_id) await setTopic(tx, f.workspace_id, contactId, f.topic_id, 'opt_in', now);
}

export function confirmToken(core: Core, contactId: string, formId: string, requestedAt: number): string {
  return core.vault.encrypt(`${hex(contactId)}${hex(formId)}${requestedAt.toString(36)}`, CONTEXT);
}

async function sendConfirmation(core: Core, f: SubscribeFormsTable, contactId: string, email: string, requestedAt: number) {
  const link = `${core.settings.publicUrl}/subscribe/confirm/${confirmToken(core, contactId, f.id, requestedAt)}`;
  const domain = await domainForSending(core, f.workspace_id, parseMailbox(f.from_header)!.domain);
  const req = validateSendRequest(
    {
      from: f.from_header, to: email, subject: `Please confirm your subscription: ${f.name}`.slice(0, 200),
      text: `Someone, probably you, asked to subscribe ${email} to "${f.name}".\n\nTo confirm, open this link:\n${link}\n\nIf it was not you, ignore this message: nothing will be sent to you.\n`,
      html: `<p>Someone, probably you, asked to subscribe <b>${escapeHtml(email)}</b> to “${escapeHtml(f.name)}”.</p><p><a href="${escapeHtml(link)}">Confirm my subscription</a></p><p>If it was not you, ignore this message: nothing will be sent to you.</p>`,
    },
    { now: core.clock.now() },
  );
  await acceptMessage(core, await composeMessage(core, req, domain, [], { workspaceId: f.workspace_id, apiKeyId: null, source: 'subscribe' }));
}

function openConfirm(core: Core, token: string): { contactId: string; formId: string; requestedAt: number } {
  try {
    const m = /^([0-9a-f]{32})([0-9a-f]{32})([0-9a-z]{1,12})$/.exec(core.vault.decrypt(token, CONTEXT));
    if (m) return { contactId: uuid(m[1]), formId: uuid(m[2]), requestedAt: parseInt(m[3], 36) };
  } catch {}
  throw new CoreError(404, 'not_found', 'This confirmation link is not valid.');
}

/** GET of the link: a page with one button (a fetched link confirms nothing). */
export async function confirmPage(core: Core, token: string): Promise<string> {
  const t = openConfirm(core, token);
  const f = await publicForm(core, t.formId);
  if (core.clock.now() - t.requestedAt > CONFIRM_TTL_MS) return page('Link expired', '<p>This confirmation link has expired. Subscribe again to get a new one.</p>');
  return page(f.name, `<form method="post" action="/subscribe/confirm/${escapeHtml(token)}"><button type="submit">Confirm my subscription</button></form>`);
}

/** POST of the link: applies the subscription. Idempotent for the latest link. */
export async function confirmSubscription(core: Core, token: string): Promise<SubscribeOutcome> {
  const t = openConfirm(core, token);
  const f = await publicForm(core, t.formId);
  const now = core.clock.now();
  if (now - t.requestedAt > CONFIRM_TTL_MS) throw new CoreError(410, 'validation_error', 'This confirmation link has expired. Subscribe again to get a new one.');
  await core.store.transaction(async (tx) => {
    const c = await tx.selectFrom('contacts').selectAll().where('workspace_id', '=', f.workspace_id).where('id', '=', t.contactId).executeTakeFirst();
    if (!c) throw new CoreError(404, 'not_found', 'This confirmation link is not valid.');
    const pending = await tx.selectFrom('contact_confirmations').selectAll().where('contact_id', '=', c.id).executeTakeFirst();
    // A newer request was made for this contact: only its link confirms.
    if (pending && pending.requested_at !== t.requestedAt) throw new CoreError(404, 'not_found', 'This confirmation link has been replaced by a newer one.');
    await tx.deleteFrom('contact_confirmations').where('contact_id', '=', c.id).execute();
    await join(tx, f, c.id, now);
    if (c.unsubscribed || pending) {
      await tx.updateTable('contacts').set({ unsubscribed: 0, updated_at: now }).where('id', '=', c.id).execute();
      await emitEvent(core, f.workspace_id, 'contact.updated', contactEvent({ ...c, unsubscribed: 0, updated_at: now }), tx);
    }
  });
  return { message: 'Thank you: your subscription is confirmed.', redirect: f.redirect_url };
}

/** For automations and anything else that sends to contacts: held until double opt-in confirmation. */
export async function awaitingConfirmation(db: Core['db'], contactId: string): Promise<boolean> {
  return !!(await db.selectFrom('contact_confirmations').select('contact_id').where('contact_id', '=', contactId).executeTakeFirst());
}
