// The catch-all of a receiving domain (our PUT/DELETE /v1/domains/{id}/catch-all): the inbox that
// takes mail for every address of the domain that is neither an inbox nor an alias.
//
// Implementation notes:
// - Scoped by workspace: a domain or inbox of another workspace is `not_found`.
// - The domain must have receiving enabled and be owned by this workspace (src/domains/ownership.ts); the inbox must belong to the same workspace (it may
//   live in another of its domains). domains.catch_all_mailbox_id has no foreign key (0007), so a
//   removed inbox leaves a dangling id: the MX treats it as no catch-all (route.ts).
// - Each change commits with its audit record (domain.catch_all_set / domain.catch_all_removed).
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { DomainsTable } from '../db/schema.ts';
import { unprovenMessage } from '../domains/ownership.ts';
import { capabilitiesOf } from '../domains/records.ts';

async function findDomain(db: Db, workspaceId: string, id: string): Promise<DomainsTable> {
  if (!isUuid(id)) throw notFound('Domain');
  const row = await db.selectFrom('domains').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Domain');
  return row;
}

function catchAllJson(domain: DomainsTable, inboxId: string | null) {
  return { object: 'catch_all' as const, domain_id: domain.id, domain: domain.name, inbox_id: inboxId };
}

export async function getCatchAll(core: Core, workspaceId: string, domainId: string) {
  const d = await findDomain(core.db, workspaceId, domainId);
  const inbox = d.catch_all_mailbox_id
    ? await core.db.selectFrom('mailboxes').select('id').where('id', '=', d.catch_all_mailbox_id).where('workspace_id', '=', workspaceId).executeTakeFirst()
    : undefined;
  return catchAllJson(d, inbox?.id ?? null);
}

export async function setCatchAll(core: Core, actor: Actor, workspaceId: string, domainId: string, input: { inbox_id?: unknown }) {
  const inboxId = input.inbox_id;
  if (typeof inboxId !== 'string') throw invalid('The `inbox_id` field must be an inbox id.');
  return core.store.transaction(async (tx) => {
    const d = await findDomain(tx, workspaceId, domainId);
    if (!isUuid(inboxId)) throw notFound('Inbox');
    const inbox = await tx.selectFrom('mailboxes').select('id').where('id', '=', inboxId).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!inbox) throw notFound('Inbox');
    if (capabilitiesOf(d).receiving !== 'enabled') throw invalid(`The domain ${d.name} does not have receiving enabled. Set \`capabilities.receiving\` to "enabled" first.`);
    if (d.owned_at === null) throw invalid(unprovenMessage(d.name));
    await tx.updateTable('domains').set({ catch_all_mailbox_id: inboxId, updated_at: core.clock.now() }).where('id', '=', d.id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'domain.catch_all_set', targetType: 'domain', targetId: d.id, data: { name: d.name, inbox_id: inboxId, previous: d.catch_all_mailbox_id } }, tx);
    return catchAllJson(d, inboxId);
  });
}

export async function removeCatchAll(core: Core, actor: Actor, workspaceId: string, domainId: string) {
  return core.store.transaction(async (tx) => {
    const d = await findDomain(tx, workspaceId, domainId);
    await tx.updateTable('domains').set({ catch_all_mailbox_id: null, updated_at: core.clock.now() }).where('id', '=', d.id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'domain.catch_all_removed', targetType: 'domain', targetId: d.id, data: { name: d.name, previous: d.catch_all_mailbox_id } }, tx);
    return catchAllJson(d, null);
  });
}
