// API keys, in Resend's shape. A key is `ms_` plus 44 base58 characters (about 256 bits), shown
// once at creation; only its SHA-256 is stored, with a short hint for people to recognise it.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { newId, randomToken, sha256 } from '../core/ids.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { ApiKeysTable } from '../db/schema.ts';

export const API_KEY_PREFIX = 'ms_';
export type ApiKey = ApiKeysTable;

function checkName(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim().length === 0) throw invalid('The `name` field must be a non-empty string.');
  // Counted in code points, as the route schema counts them: an emoji is one character, not two.
  if ([...raw].length > 50) throw invalid('The `name` field must be at most 50 characters.');
  return raw;
}

export async function createApiKey(
  core: Core,
  actor: Actor,
  workspaceId: string,
  input: { name: unknown; permission?: unknown; domain_id?: unknown },
): Promise<{ id: string; token: string }> {
  const name = checkName(input.name);
  const permission = input.permission ?? 'full_access';
  if (permission !== 'full_access' && permission !== 'sending_access') {
    throw invalid('The `permission` field must be full_access or sending_access.');
  }
  let domainId: string | null = null;
  if (input.domain_id !== undefined && input.domain_id !== null) {
    if (permission !== 'sending_access') throw invalid('`domain_id` can only be set on a sending_access key.');
    const domain = await core.db
      .selectFrom('domains')
      .select('id')
      .where('id', '=', String(input.domain_id))
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    if (!domain) throw notFound('Domain');
    domainId = domain.id;
  }
  const now = core.clock.now();
  const token = API_KEY_PREFIX + randomToken(44);
  const id = newId(now);
  await core.store.transaction(async (tx) => {
    await tx
      .insertInto('api_keys')
      .values({
        id,
        workspace_id: workspaceId,
        name,
        token_hash: sha256(token),
        token_hint: token.slice(0, 8),
        permission,
        domain_id: domainId,
        created_by: actor.id,
        created_at: now,
        last_used_at: null,
      })
      .execute();
    await audit(core, actor, { workspaceId, action: 'api_key.created', targetType: 'api_key', targetId: id, data: { name, permission, domain_id: domainId } }, tx);
  });
  return { id, token };
}

export async function listApiKeys(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(apiKeyJson) };
}

export function apiKeyJson(k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    permission: k.permission,
    domain_id: k.domain_id,
    token_hint: k.token_hint,
    created_at: new Date(k.created_at).toISOString(),
    last_used_at: k.last_used_at === null ? null : new Date(k.last_used_at).toISOString(),
  };
}

export async function renameApiKey(core: Core, actor: Actor, workspaceId: string, id: string, input: { name: unknown }) {
  const name = checkName(input.name);
  await core.store.transaction(async (tx) => {
    const key = await tx.selectFrom('api_keys').select('name').where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!key) throw notFound('API key');
    await tx.updateTable('api_keys').set({ name }).where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'api_key.updated', targetType: 'api_key', targetId: id, data: { name: { from: key.name, to: name } } }, tx);
  });
  return { object: 'api_key' as const, id };
}

export async function removeApiKey(core: Core, actor: Actor, workspaceId: string, id: string) {
  await core.store.transaction(async (tx) => {
    const key = await tx.selectFrom('api_keys').select('name').where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!key) throw notFound('API key');
    await tx.deleteFrom('api_keys').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'api_key.removed', targetType: 'api_key', targetId: id, data: { name: key.name } }, tx);
  });
  return { object: 'api_key' as const, id, deleted: true };
}

/** Finds the key for a bearer token and notes its use (at most once a minute per key). */
export async function authenticateApiKey(core: Core, token: string): Promise<ApiKey | null> {
  if (!token.startsWith(API_KEY_PREFIX) || token.length > 200) return null;
  const key = await core.db
    .selectFrom('api_keys')
    .innerJoin('workspaces', 'workspaces.id', 'api_keys.workspace_id')
    .selectAll('api_keys')
    .where('api_keys.token_hash', '=', sha256(token))
    .where('workspaces.closed_at', 'is', null)
    .executeTakeFirst();
  if (!key) return null;
  const now = core.clock.now();
  if (key.last_used_at === null || now - key.last_used_at > 60_000) {
    await core.db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', key.id).execute();
    key.last_used_at = now;
  }
  return key;
}
