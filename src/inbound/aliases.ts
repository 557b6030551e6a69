// Aliases (our /v1/aliases): one address in a receiving domain that delivers to one or more hosted
// mailboxes (inboxes) of the same workspace. The MX resolves them at RCPT (route.ts).
//
// Implementation notes:
// - Every read and write is scoped by workspace: another workspace's alias id is `not_found`,
//   never "forbidden". Target inboxes must be mailboxes of the caller's workspace (an id of another
//   workspace is reported as not found, exactly like an id that does not exist).
// - The address is lower-cased (address.ts), must be a dot-atom in a domain of this workspace
//   whose receiving capability is enabled, and may not shadow a mailbox address: the MX would
//   route to the mailbox first and the alias would silently never apply. Alias addresses are
//   unique on the node (0007), since the MX routes by address alone.
// - Each change commits with its audit record (alias.created / alias.updated / alias.removed).
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { AliasesTable, DomainsTable } from '../db/schema.ts';
import { capabilitiesOf, mergedRecords } from '../domains/records.ts';
import { unprovenMessage } from '../domains/ownership.ts';
import { normalizeHostedAddress } from './address.ts';

export const MAX_ALIAS_TARGETS = 50;

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/i.test(e?.message ?? '');
}

/**
 * The workspace's domain for a hosted address (an inbox or an alias): it must have receiving
 * enabled and its receiving MX verified (422 otherwise). Addresses are unique on the node and the
 * MX routes by them, so a domain another workspace merely added (unverified) must not let it
 * claim — and receive the mail of — an address of the real owner's domain.
 */
export async function receivingDomainFor(core: Core, db: Db, workspaceId: string, address: string): Promise<DomainsTable> {
  const host = address.slice(address.lastIndexOf('@') + 1);
  const d = await db.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', host).executeTakeFirst();
  if (!d) throw invalid(`The domain ${host} is not a domain of this workspace. Add it with receiving enabled first.`);
  if (capabilitiesOf(d).receiving !== 'enabled') throw invalid(`The domain ${host} does not have receiving enabled. Set \`capabilities.receiving\` to "enabled" first.`);
  // The MX record proves nothing (it is the same for every workspace): only the owner's token does.
  if (d.owned_at === null) throw invalid(unprovenMessage(host));
  const mx = mergedRecords(d, core.settings.hostname).find((r) => r.purpose === 'receiving_mx');
  if (!mx || mx.status !== 'verified') throw invalid(`The receiving MX record of ${host} is not verified yet. Publish it and verify the domain.`);
  return d;
}

function checkAddress(raw: unknown): string {
  const address = normalizeHostedAddress(raw);
  if (!address) throw invalid('The `address` field must be an email address such as sales@example.com.');
  return address;
}

/** Target inbox ids: 1..MAX, each a mailbox of this workspace. */
async function checkTargets(db: Db, workspaceId: string, raw: unknown): Promise<string[]> {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid('The `inbox_ids` field must be a non-empty array of inbox ids.');
  if (raw.length > MAX_ALIAS_TARGETS) throw invalid(`An alias may deliver to at most ${MAX_ALIAS_TARGETS} inboxes.`);
  const ids = [...new Set(raw)];
  for (const id of ids) if (typeof id !== 'string' || !isUuid(id)) throw notFound('Inbox');
  const found = await db.selectFrom('mailboxes').select('id').where('workspace_id', '=', workspaceId).where('id', 'in', ids as string[]).execute();
  if (found.length !== ids.length) throw notFound('Inbox');
  return (ids as string[]).sort();
}

async function assertFree(db: Db, address: string, exceptAliasId: string | null): Promise<void> {
  const mailbox = await db.selectFrom('mailboxes').select('id').where('address', '=', address).executeTakeFirst();
  if (mailbox) throw invalid(`The address ${address} is already an inbox; an alias may not shadow it.`);
  const alias = await db.selectFrom('aliases').select('id').where('address', '=', address).executeTakeFirst();
  if (alias && alias.id !== exceptAliasId) throw invalid(`The address ${address} is already in use by another alias.`);
}

async function findAlias(db: Db, workspaceId: string, id: string): Promise<AliasesTable> {
  if (!isUuid(id)) throw notFound('Alias');
  const row = await db.selectFrom('aliases').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Alias');
  return row;
}

async function targetsOf(db: Db, aliasIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(aliasIds.map((id) => [id, []]));
  if (!aliasIds.length) return out;
  const rows = await db.selectFrom('alias_targets').select(['alias_id', 'mailbox_id']).where('alias_id', 'in', aliasIds).orderBy('mailbox_id').execute();
  for (const r of rows) out.get(r.alias_id)?.push(r.mailbox_id);
  return out;
}

function aliasJson(row: AliasesTable, inboxIds: string[]) {
  return {
    object: 'alias' as const,
    id: row.id,
    address: row.address,
    domain_id: row.domain_id,
    inbox_ids: inboxIds,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

async function setTargets(tx: Db, aliasId: string, inboxIds: string[]): Promise<void> {
  await tx.deleteFrom('alias_targets').where('alias_id', '=', aliasId).execute();
  for (const mailboxId of inboxIds) await tx.insertInto('alias_targets').values({ alias_id: aliasId, mailbox_id: mailboxId }).execute();
}

export async function createAlias(core: Core, actor: Actor, workspaceId: string, input: { address?: unknown; inbox_ids?: unknown }) {
  const address = checkAddress(input.address);
  try {
    return await core.store.transaction(async (tx) => {
      const domain = await receivingDomainFor(core, tx, workspaceId, address);
      const inboxIds = await checkTargets(tx, workspaceId, input.inbox_ids);
      await assertFree(tx, address, null);
      const now = core.clock.now();
      const row: AliasesTable = { id: newId(now), workspace_id: workspaceId, domain_id: domain.id, address, created_at: now, updated_at: now };
      await tx.insertInto('aliases').values(row).execute();
      await setTargets(tx, row.id, inboxIds);
      await audit(core, actor, { workspaceId, action: 'alias.created', targetType: 'alias', targetId: row.id, data: { address, inbox_ids: inboxIds } }, tx);
      return aliasJson(row, inboxIds);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw invalid(`The address ${address} is already in use by another alias.`);
    throw err;
  }
}

export async function getAlias(core: Core, workspaceId: string, id: string) {
  const row = await findAlias(core.db, workspaceId, id);
  return aliasJson(row, (await targetsOf(core.db, [row.id])).get(row.id)!);
}

export async function listAliases(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('aliases').selectAll().where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  const targets = await targetsOf(core.db, rows.map((r) => r.id));
  return { object: 'list' as const, has_more, data: rows.map((r) => aliasJson(r, targets.get(r.id)!)) };
}

export async function updateAlias(core: Core, actor: Actor, workspaceId: string, id: string, input: { address?: unknown; inbox_ids?: unknown }) {
  const address = input.address === undefined ? undefined : checkAddress(input.address);
  try {
    return await core.store.transaction(async (tx) => {
      const before = await findAlias(tx, workspaceId, id);
      const beforeTargets = (await targetsOf(tx, [id])).get(id)!;
      const domain = address !== undefined && address !== before.address ? await receivingDomainFor(core, tx, workspaceId, address) : null;
      if (domain) await assertFree(tx, address!, id);
      const inboxIds = input.inbox_ids === undefined ? beforeTargets : await checkTargets(tx, workspaceId, input.inbox_ids);
      const now = core.clock.now();
      const row: AliasesTable = { ...before, address: address ?? before.address, domain_id: domain?.id ?? before.domain_id, updated_at: now };
      await tx.updateTable('aliases').set({ address: row.address, domain_id: row.domain_id, updated_at: now }).where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
      if (input.inbox_ids !== undefined) await setTargets(tx, id, inboxIds);
      const changes: Record<string, unknown> = {};
      if (row.address !== before.address) changes.address = { from: before.address, to: row.address };
      if (input.inbox_ids !== undefined) changes.inbox_ids = { from: beforeTargets, to: inboxIds };
      await audit(core, actor, { workspaceId, action: 'alias.updated', targetType: 'alias', targetId: id, data: changes }, tx);
      return aliasJson(row, inboxIds);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw invalid(`The address ${address} is already in use by another alias.`);
    throw err;
  }
}

export async function removeAlias(core: Core, actor: Actor, workspaceId: string, id: string) {
  await core.store.transaction(async (tx) => {
    const row = await findAlias(tx, workspaceId, id);
    await tx.deleteFrom('alias_targets').where('alias_id', '=', id).execute();
    await tx.deleteFrom('aliases').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'alias.removed', targetType: 'alias', targetId: id, data: { address: row.address } }, tx);
  });
  return { object: 'alias' as const, id, deleted: true };
}

