// Suppressions: the addresses a workspace will not send to. The pipeline checks every recipient
// here before anything is queued; hard bounces and complaints add to it by themselves.
import { normalizeEmail } from '../accounts/users.ts';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { SuppressionOrigin, SuppressionsTable } from '../db/schema.ts';
import { emitEvent } from '../events/webhooks.ts';

export type Suppression = SuppressionsTable;

export function findSuppression(db: Db, workspaceId: string, address: string): Promise<Suppression | undefined> {
  return db
    .selectFrom('suppressions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('email', '=', address.trim().toLowerCase())
    .executeTakeFirst();
}

/**
 * Adds an address (idempotent: an existing suppression is kept as it was, first cause wins).
 * Returns the suppression and whether it is new.
 */
export async function addSuppression(
  core: Core,
  db: Db,
  workspaceId: string,
  address: string,
  origin: SuppressionOrigin,
  reason: string | null,
  sourceId: string | null = null,
): Promise<{ suppression: Suppression; created: boolean }> {
  const email = address.trim().toLowerCase();
  const now = core.clock.now();
  const row: Suppression = { id: newId(now), workspace_id: workspaceId, email, origin, reason: reason?.slice(0, 1000) ?? null, source_id: sourceId, created_at: now };
  const inserted = await db
    .insertInto('suppressions')
    .values(row)
    .onConflict((oc) => oc.columns(['workspace_id', 'email']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { suppression: row, created: true };
  return { suppression: (await findSuppression(db, workspaceId, email))!, created: false };
}

// ---- The suppressions API (Resend's `suppressions.*`) and the one way anything adds or removes ----
//
// Implementation notes:
// - Every query is scoped to the caller's workspace: an id or address of another workspace is
//   `not_found`, and an address suppressed in one workspace is not suppressed in another.
// - Every add and remove is audited and announced (`suppression.added` / `suppression.removed`) in
//   the same transaction as the change, whether a person, a key or the bounce processor made it.
// - Adding is idempotent: an address already on the list keeps its first cause and id.

export const SUPPRESSION_BATCH_MAX = 100;

/** Resend's Suppression object. `reason` is ours (why, in words); the SDK ignores it. */
export function suppressionJson(row: Suppression) {
  return {
    object: 'suppression' as const,
    id: row.id,
    email: row.email,
    origin: row.origin,
    reason: row.reason,
    source_id: row.source_id,
    created_at: new Date(row.created_at).toISOString(),
  };
}

function checkAddress(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid('The `email` field must be an email address.');
  return normalizeEmail(raw);
}

const ORIGINS: readonly SuppressionOrigin[] = ['bounce', 'complaint', 'unsubscribe', 'manual'];

export async function listSuppressions(core: Core, workspaceId: string, page: PageRequest & { origin?: string }) {
  let q = core.db.selectFrom('suppressions').selectAll().where('workspace_id', '=', workspaceId);
  if (page.origin !== undefined) {
    if (!ORIGINS.includes(page.origin as SuppressionOrigin)) throw invalid(`The \`origin\` filter must be one of ${ORIGINS.join(', ')}.`);
    q = q.where('origin', '=', page.origin as SuppressionOrigin);
  }
  const { rows, has_more } = await paginate(q, 'id', page);
  return {
    object: 'list' as const,
    has_more,
    data: rows.map((r) => {
      const { object: _object, ...rest } = suppressionJson(r);
      return rest;
    }),
  };
}

/** By id (a UUID) or by address (anything with an @); otherwise not found. */
async function findByIdOrEmail(db: Db, workspaceId: string, idOrEmail: string): Promise<Suppression | undefined> {
  const key = idOrEmail.trim();
  if (key.includes('@')) return findSuppression(db, workspaceId, key);
  if (!isUuid(key)) return undefined;
  return db.selectFrom('suppressions').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', key.toLowerCase()).executeTakeFirst();
}

export async function getSuppression(core: Core, workspaceId: string, idOrEmail: string) {
  const row = await findByIdOrEmail(core.db, workspaceId, idOrEmail);
  if (!row) throw notFound('Suppression');
  return suppressionJson(row);
}

function eventData(row: Suppression) {
  return { id: row.id, email: row.email, origin: row.origin, source_id: row.source_id, created_at: new Date(row.created_at).toISOString() };
}

/**
 * Suppresses an address inside the caller's transaction; a new suppression is audited and
 * announced with `suppression.added`. The bounce processor and the API both come through here.
 */
export async function suppressAddress(
  core: Core,
  tx: Db,
  actor: Actor,
  workspaceId: string,
  address: string,
  origin: SuppressionOrigin,
  reason: string | null,
  sourceId: string | null = null,
): Promise<{ suppression: Suppression; created: boolean }> {
  const result = await addSuppression(core, tx, workspaceId, address, origin, reason, sourceId);
  if (result.created) {
    const row = result.suppression;
    await audit(core, actor, { workspaceId, action: 'suppression.added', targetType: 'suppression', targetId: row.id, data: { email: row.email, origin, reason: row.reason, source_id: sourceId } }, tx);
    await emitEvent(core, workspaceId, 'suppression.added', eventData(row), tx);
  }
  return result;
}

async function removeRow(core: Core, tx: Db, actor: Actor, row: Suppression): Promise<boolean> {
  const gone = await tx.deleteFrom('suppressions').where('id', '=', row.id).where('workspace_id', '=', row.workspace_id).executeTakeFirst();
  if (Number(gone.numDeletedRows) === 0) return false;
  await audit(core, actor, { workspaceId: row.workspace_id, action: 'suppression.removed', targetType: 'suppression', targetId: row.id, data: { email: row.email, origin: row.origin } }, tx);
  await emitEvent(core, row.workspace_id, 'suppression.removed', eventData(row), tx);
  return true;
}

/** `POST /suppressions`: a manual suppression. Idempotent: an existing one is returned as is. */
export async function apiAddSuppression(core: Core, actor: Actor, workspaceId: string, rawEmail: unknown) {
  const email = checkAddress(rawEmail);
  const { suppression } = await core.store.transaction((tx) => suppressAddress(core, tx, actor, workspaceId, email, 'manual', `added by ${actor.label ?? actor.type}`));
  return { object: 'suppression' as const, id: suppression.id };
}

export async function apiRemoveSuppression(core: Core, actor: Actor, workspaceId: string, idOrEmail: string) {
  return core.store.transaction(async (tx) => {
    const row = await findByIdOrEmail(tx, workspaceId, idOrEmail);
    if (!row || !(await removeRow(core, tx, actor, row))) throw notFound('Suppression');
    return { object: 'suppression' as const, id: row.id, deleted: true };
  });
}

function checkList(raw: unknown, field: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid(`The \`${field}\` field must be a non-empty array.`);
  if (raw.length > SUPPRESSION_BATCH_MAX) throw invalid(`The \`${field}\` field may hold at most ${SUPPRESSION_BATCH_MAX} items.`);
  for (const x of raw) if (typeof x !== 'string') throw invalid(`Every item of \`${field}\` must be a string.`);
  return raw as string[];
}

/** `POST /suppressions/batch/add`: all or nothing — one bad address refuses the whole batch. */
export async function apiBatchAddSuppressions(core: Core, actor: Actor, workspaceId: string, rawEmails: unknown) {
  const emails = checkList(rawEmails, 'emails').map((e) => checkAddress(e));
  return core.store.transaction(async (tx) => {
    const data: { object: 'suppression'; id: string; email: string }[] = [];
    const seen = new Set<string>();
    for (const email of emails) {
      if (seen.has(email)) continue;
      seen.add(email);
      const { suppression } = await suppressAddress(core, tx, actor, workspaceId, email, 'manual', `added by ${actor.label ?? actor.type}`);
      data.push({ object: 'suppression', id: suppression.id, email: suppression.email });
    }
    return { data };
  });
}

/**
 * `POST /suppressions/batch/remove` with `emails` or `ids` (one of them). One entry per distinct
 * input, in order: `deleted: false` for what this workspace does not have.
 */
export async function apiBatchRemoveSuppressions(core: Core, actor: Actor, workspaceId: string, input: { emails?: unknown; ids?: unknown }) {
  if ((input.emails === undefined) === (input.ids === undefined)) throw invalid('Give either `emails` or `ids`, not both.');
  const byEmail = input.emails !== undefined;
  const keys = byEmail ? checkList(input.emails, 'emails').map((e) => checkAddress(e)) : checkList(input.ids, 'ids').map((s) => s.trim().toLowerCase());
  return core.store.transaction(async (tx) => {
    const data: { object: 'suppression'; id: string | null; email: string | null; deleted: boolean }[] = [];
    const seen = new Set<string>();
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      const row = byEmail ? await findSuppression(tx, workspaceId, key) : isUuid(key) ? await findByIdOrEmail(tx, workspaceId, key) : undefined;
      const deleted = row ? await removeRow(core, tx, actor, row) : false;
      data.push({ object: 'suppression', id: row?.id ?? (byEmail ? null : key), email: row?.email ?? (byEmail ? key : null), deleted });
    }
    return { data };
  });
}
