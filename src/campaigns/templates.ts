// Templates with versions (Resend's templates.*) and their use by emails.send({ template }).
//
// Implementation notes:
// - A template has a current version (what `get` shows and `update` edits) and, once published, a
//   published version (what sends use). Editing a template whose current version is published
//   makes a new, unpublished version; publishing makes the current version the published one.
//   `has_unpublished_versions` is current ≠ published.
// - A template is addressed by id or by alias, in the caller's workspace only.
// - Sending with a template renders the PUBLISHED version: values escaped in HTML (render.ts); a
//   placeholder with no value, no declared fallback and no inline fallback is a 422 naming it.
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { TemplatesTable, TemplateVersionsTable } from '../db/schema.ts';
import { parseMailbox } from '../outbound/addresses.ts';
import { MAX_TEMPLATE_CHARS, render } from './render.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const ALIAS = /^[A-Za-z0-9_-]{1,100}$/;
const VAR_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,49}$/;
const MAX_VARIABLES = 50;

interface Variable {
  key: string;
  type: 'string' | 'number';
  fallback_value: string | number | null;
  created_at: string;
  updated_at: string;
}

function str(v: unknown, field: string, max: number): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string') throw invalid(`The \`${field}\` field must be a string.`);
  if (v.length > max) throw invalid(`The \`${field}\` field must be at most ${max} characters.`);
  return v;
}

function checkVariables(raw: unknown, now: number): Variable[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.length > MAX_VARIABLES) throw invalid(`The \`variables\` field must be an array of at most ${MAX_VARIABLES} { key, type, fallback_value } objects.`);
  const seen = new Set<string>();
  return raw.map((v: any) => {
    if (!v || typeof v !== 'object' || typeof v.key !== 'string' || !VAR_KEY.test(v.key)) throw invalid('Each variable needs a `key` of letters, digits and underscores (1 to 50, not starting with a digit).');
    if (seen.has(v.key)) throw invalid(`The variable \`${v.key}\` is declared twice.`);
    seen.add(v.key);
    if (v.type !== 'string' && v.type !== 'number') throw invalid(`The variable \`${v.key}\` must have type \`string\` or \`number\`.`);
    const fb = v.fallback_value ?? null;
    if (fb !== null && (v.type === 'number' ? typeof fb !== 'number' || !Number.isFinite(fb) : typeof fb !== 'string' || fb.length > 2000)) {
      throw invalid(`The fallback of variable \`${v.key}\` must be a ${v.type}.`);
    }
    return { key: v.key, type: v.type, fallback_value: fb, created_at: new Date(now).toISOString(), updated_at: new Date(now).toISOString() };
  });
}

function checkFrom(v: unknown): string | null | undefined {
  const s = str(v, 'from', 998);
  if (s && !parseMailbox(s)) throw invalid('Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.');
  return s;
}

function checkReplyTo(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > 50 || !list.every((a) => parseMailbox(a))) throw invalid('Invalid `reply_to` field: addresses in the `email@example.com` or `Name <email@example.com>` format.');
  return list as string[];
}

function checkSubject(v: unknown): string | null | undefined {
  const s = str(v, 'subject', 2000);
  if (s && /[\r\n]/.test(s)) throw invalid('The `subject` field may not contain line breaks (CR or LF).');
  return s;
}

export async function findTemplate(db: Db, workspaceId: string, idOrAlias: string): Promise<TemplatesTable | undefined> {
  const q = db.selectFrom('templates').selectAll().where('workspace_id', '=', workspaceId);
  if (isUuid(idOrAlias)) return q.where('id', '=', idOrAlias.toLowerCase()).executeTakeFirst();
  if (!ALIAS.test(idOrAlias)) return undefined;
  return q.where('alias', '=', idOrAlias).executeTakeFirst();
}

async function requireTemplate(db: Db, workspaceId: string, idOrAlias: string) {
  const t = await findTemplate(db, workspaceId, idOrAlias);
  if (!t) throw notFound('Template');
  return t;
}

const version = (db: Db, id: string) => db.selectFrom('template_versions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

async function aliasFree(db: Db, workspaceId: string, alias: string | null | undefined, except?: string) {
  if (!alias) return;
  if (!ALIAS.test(alias)) throw invalid('The `alias` field must be 1 to 100 letters, digits, dashes or underscores.');
  const t = await db.selectFrom('templates').select('id').where('workspace_id', '=', workspaceId).where('alias', '=', alias).executeTakeFirst();
  if (t && t.id !== except) throw new CoreError(409, 'validation_error', `A template with alias \`${alias}\` already exists.`);
}

export async function createTemplate(core: Core, workspaceId: string, body: any) {
  if (!body || typeof body !== 'object') throw invalid('The request body must be a JSON object.');
  const name = str(body.name, 'name', 200);
  if (!name) throw new CoreError(422, 'missing_required_field', 'Missing `name` field.');
  const html = str(body.html, 'html', MAX_TEMPLATE_CHARS);
  if (!html) throw new CoreError(422, 'missing_required_field', 'Missing `html` field.');
  const now = core.clock.now();
  const v: TemplateVersionsTable = {
    id: newId(now), template_id: '', workspace_id: workspaceId, subject: checkSubject(body.subject) ?? null, html, text: str(body.text, 'text', MAX_TEMPLATE_CHARS) ?? null,
    from_header: checkFrom(body.from) ?? null, reply_to_json: JSON.stringify(checkReplyTo(body.reply_to) ?? []), variables_json: JSON.stringify(checkVariables(body.variables, now) ?? []), created_at: now, updated_at: now,
  };
  const alias = str(body.alias, 'alias', 100) ?? null;
  return core.store.transaction(async (tx) => {
    await aliasFree(tx, workspaceId, alias);
    const id = newId(now);
    await tx.insertInto('templates').values({ id, workspace_id: workspaceId, name, alias, current_version_id: v.id, published_version_id: null, published_at: null, created_at: now, updated_at: now }).execute();
    await tx.insertInto('template_versions').values({ ...v, template_id: id }).execute();
    return { object: 'template' as const, id };
  });
}

function templateJson(t: TemplatesTable, v: TemplateVersionsTable) {
  return {
    object: 'template' as const, id: t.id, name: t.name, alias: t.alias, subject: v.subject, html: v.html, text: v.text, from: v.from_header,
    reply_to: JSON.parse(v.reply_to_json) as string[], variables: JSON.parse(v.variables_json) as Variable[],
    status: t.published_version_id ? ('published' as const) : ('draft' as const), published_at: iso(t.published_at), created_at: iso(t.created_at)!, updated_at: iso(t.updated_at)!,
    has_unpublished_versions: t.current_version_id !== t.published_version_id, current_version_id: t.current_version_id,
  };
}

export async function getTemplate(core: Core, workspaceId: string, idOrAlias: string) {
  const t = await requireTemplate(core.db, workspaceId, idOrAlias);
  return templateJson(t, await version(core.db, t.current_version_id));
}

export async function listTemplates(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('templates').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return {
    object: 'list' as const, has_more,
    data: rows.map((t) => ({ id: t.id, name: t.name, alias: t.alias, status: t.published_version_id ? 'published' : 'draft', published_at: iso(t.published_at), created_at: iso(t.created_at), updated_at: iso(t.updated_at) })),
  };
}

export async function updateTemplate(core: Core, workspaceId: string, idOrAlias: string, body: any) {
  const b = body ?? {};
  const now = core.clock.now();
  const changes: Partial<TemplateVersionsTable> = {};
  const subject = checkSubject(b.subject);
  if (subject !== undefined) changes.subject = subject;
  const html = str(b.html, 'html', MAX_TEMPLATE_CHARS);
  if (html === null || html === '') throw invalid('The `html` field cannot be empty.');
  if (html !== undefined) changes.html = html;
  const text = str(b.text, 'text', MAX_TEMPLATE_CHARS);
  if (text !== undefined) changes.text = text;
  const from = checkFrom(b.from);
  if (from !== undefined) changes.from_header = from;
  const replyTo = checkReplyTo(b.reply_to);
  if (replyTo !== undefined) changes.reply_to_json = JSON.stringify(replyTo);
  const variables = checkVariables(b.variables, now);
  if (variables !== undefined) changes.variables_json = JSON.stringify(variables);
  const name = str(b.name, 'name', 200);
  if (name === null || name === '') throw invalid('The `name` field cannot be empty.');
  const alias = str(b.alias, 'alias', 100);
  return core.store.transaction(async (tx) => {
    const t = await requireTemplate(tx, workspaceId, idOrAlias);
    if (alias !== undefined) await aliasFree(tx, workspaceId, alias, t.id);
    let currentId = t.current_version_id;
    if (Object.keys(changes).length) {
      const cur = await version(tx, currentId);
      if (currentId === t.published_version_id) {
        // The published version is never edited: the change becomes a new, unpublished version.
        currentId = newId(now);
        await tx.insertInto('template_versions').values({ ...cur, ...changes, id: currentId, created_at: now, updated_at: now }).execute();
      } else {
        await tx.updateTable('template_versions').set({ ...changes, updated_at: now }).where('id', '=', currentId).execute();
      }
    }
    await tx.updateTable('templates').set({ name: name ?? t.name, alias: alias === undefined ? t.alias : alias, current_version_id: currentId, updated_at: now }).where('id', '=', t.id).execute();
    return { object: 'template' as const, id: t.id };
  });
}

export async function publishTemplate(core: Core, workspaceId: string, idOrAlias: string) {
  return core.store.transaction(async (tx) => {
    const t = await requireTemplate(tx, workspaceId, idOrAlias);
    const now = core.clock.now();
    await tx.updateTable('templates').set({ published_version_id: t.current_version_id, published_at: now, updated_at: now }).where('id', '=', t.id).execute();
    return { object: 'template' as const, id: t.id };
  });
}

export async function duplicateTemplate(core: Core, workspaceId: string, idOrAlias: string) {
  return core.store.transaction(async (tx) => {
    const t = await requireTemplate(tx, workspaceId, idOrAlias);
    const cur = await version(tx, t.current_version_id);
    const now = core.clock.now();
    const id = newId(now);
    const vid = newId(now);
    await tx.insertInto('templates').values({ id, workspace_id: workspaceId, name: `${t.name} (copy)`.slice(0, 200), alias: null, current_version_id: vid, published_version_id: null, published_at: null, created_at: now, updated_at: now }).execute();
    await tx.insertInto('template_versions').values({ ...cur, id: vid, template_id: id, created_at: now, updated_at: now }).execute();
    return { object: 'template' as const, id };
  });
}

export async function removeTemplate(core: Core, workspaceId: string, idOrAlias: string) {
  return core.store.transaction(async (tx) => {
    const t = await requireTemplate(tx, workspaceId, idOrAlias);
    await tx.deleteFrom('template_versions').where('template_id', '=', t.id).execute();
    await tx.deleteFrom('templates').where('id', '=', t.id).execute();
    return { object: 'template' as const, id: t.id, deleted: true };
  });
}

/**
 * emails.send({ template: { id, variables } }): the body with the published version rendered into
 * `html`/`text` and its `subject`, `from` and `reply_to` used where the body gives none.
 */
export async function applyTemplate(core: Core, workspaceId: string, body: any): Promise<unknown> {
  if (!body || typeof body !== 'object' || body.template === undefined || body.template === null) return body;
  const spec = body.template;
  if (typeof spec !== 'object' || typeof spec.id !== 'string') throw invalid('The `template` field must be an object with an `id` (or alias) and optional `variables`.');
  if (body.html !== undefined || body.text !== undefined || body.react !== undefined) throw invalid('Send either a `template` or `html`/`text`, not both.');
  const given = spec.variables ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) throw invalid('The `template.variables` field must be an object of names to strings or numbers.');
  for (const [k, v] of Object.entries(given)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`The template variable \`${k.slice(0, 60)}\` must be a string or a number.`);
  }
  const t = await findTemplate(core.db, workspaceId, spec.id);
  if (!t) throw notFound('Template');
  if (!t.published_version_id) throw invalid(`The template ${t.id} is not published: publish it before sending with it.`);
  const v = await version(core.db, t.published_version_id);
  const declared = new Map((JSON.parse(v.variables_json) as Variable[]).map((x) => [x.key, x]));
  for (const [k, val] of Object.entries(given as Record<string, unknown>)) {
    const d = declared.get(k);
    if (d && d.type === 'number' && typeof val !== 'number') throw invalid(`The template variable \`${k}\` is a number.`);
  }
  const lookup = (name: string) => (given as Record<string, string | number>)[name] ?? declared.get(name)?.fallback_value ?? undefined;
  const html = render(v.html, lookup, 'html');
  const text = v.text === null ? null : render(v.text, lookup, 'text');
  const subjectSrc = body.subject ?? v.subject;
  const subject = typeof subjectSrc === 'string' ? render(subjectSrc, lookup, 'text') : null;
  const missing = [...new Set([...html.missing, ...(text?.missing ?? []), ...(subject?.missing ?? [])])];
  if (missing.length) throw invalid(`Missing template variable${missing.length > 1 ? 's' : ''} ${missing.map((m) => `\`${m}\``).join(', ')}: give a value in \`template.variables\` or a fallback.`);
  const { template: _t, ...rest } = body;
  return { ...rest, from: body.from ?? v.from_header ?? undefined, reply_to: body.reply_to ?? (JSON.parse(v.reply_to_json).length ? JSON.parse(v.reply_to_json) : undefined), subject: subject?.out ?? subjectSrc, html: html.out, ...(text ? { text: text.out } : {}) };
}
