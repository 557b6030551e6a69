// postmaster@ of every receiving domain (RFC 5321 §4.5.1: "MUST support the reserved mailbox
// postmaster"), and the domainless `RCPT TO:<postmaster>` (§4.1.1.3), which is
// postmaster@MAILSTACK_HOSTNAME.
//
// Implementation notes:
// - A mailbox or alias named postmaster@ in the domain wins (route.ts looks those up first); only
//   when there is none does the fallback here answer, so nobody needs to create one.
// - The fallback, in order: the domain's configured postmaster inbox (PUT /v1/domains/{id}/postmaster,
//   domains.postmaster_mailbox_id), the inbox of the workspace owner (a mailbox whose
//   owner_user_id is an owner of the workspace, the oldest, preferring one in this domain), the
//   domain's catch-all, then the domain's oldest inbox. A workspace without any inbox has nowhere to
//   keep mail: that postmaster@ is refused with 550 5.1.1 and the README says to add one.
// - Everything is scoped to the domain's workspace: a configured inbox of another workspace (or a
//   dangling id of a removed inbox) counts as unset.
// - Each change of the setting commits with its audit record (domain.postmaster_set / _removed).
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { DomainsTable } from '../db/schema.ts';
import { capabilitiesOf } from '../domains/records.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';

export const POSTMASTER = 'postmaster';

/** The inbox that takes postmaster@ of `domain` when no mailbox or alias has that name; null if none. */
export async function postmasterMailbox(core: Core, domain: DomainsTable): Promise<Mailbox | null> {
  const ws = domain.workspace_id;
  const byId = async (id: string | null) =>
    id ? ((await core.db.selectFrom('mailboxes').selectAll().where('id', '=', id).where('workspace_id', '=', ws).executeTakeFirst()) ?? null) : null;
  const configured = await byId(domain.postmaster_mailbox_id);
  if (configured) return configured;
  const owned = await core.db
    .selectFrom('mailboxes')
    .innerJoin('memberships', (j) => j.onRef('memberships.user_id', '=', 'mailboxes.owner_user_id').onRef('memberships.workspace_id', '=', 'mailboxes.workspace_id'))
    .selectAll('mailboxes')
    .where('mailboxes.workspace_id', '=', ws)
    .where('memberships.role', '=', 'owner')
    .orderBy('mailboxes.created_at')
    .orderBy('mailboxes.id')
    .execute();
  const owner = owned.find((m) => m.domain_id === domain.id) ?? owned[0];
  if (owner) return owner;
  const catchAll = await byId(domain.catch_all_mailbox_id);
  if (catchAll) return catchAll;
  return (
    (await core.db.selectFrom('mailboxes').selectAll().where('workspace_id', '=', ws).where('domain_id', '=', domain.id).orderBy('created_at').orderBy('id').executeTakeFirst()) ?? null
  );
}

async function findDomain(db: Db, workspaceId: string, id: string): Promise<DomainsTable> {
  if (!isUuid(id)) throw notFound('Domain');
  const row = await db.selectFrom('domains').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Domain');
  return row;
}

async function postmasterJson(core: Core, d: DomainsTable) {
  const effective = capabilitiesOf(d).receiving === 'enabled' ? await postmasterMailbox(core, d) : null;
  const configured = d.postmaster_mailbox_id
    ? await core.db.selectFrom('mailboxes').select('id').where('id', '=', d.postmaster_mailbox_id).where('workspace_id', '=', d.workspace_id).executeTakeFirst()
    : undefined;
  return {
    object: 'postmaster' as const,
    domain_id: d.id,
    domain: d.name,
    address: `${POSTMASTER}@${d.name}`,
    /** The inbox set for it (null: the fallback applies). */
    inbox_id: configured?.id ?? null,
    /** Where postmaster@ mail goes now, when no inbox or alias is named postmaster@ (null: nowhere). */
    delivers_to: effective ? { inbox_id: effective.id, email_address: effective.address } : null,
  };
}

export async function getPostmaster(core: Core, workspaceId: string, domainId: string) {
  return postmasterJson(core, await findDomain(core.db, workspaceId, domainId));
}

export async function setPostmaster(core: Core, actor: Actor, workspaceId: string, domainId: string, input: { inbox_id?: unknown }) {
  const inboxId = input.inbox_id;
  if (typeof inboxId !== 'string') throw invalid('The `inbox_id` field must be an inbox id.');
  const d = await core.store.transaction(async (tx) => {
    const d = await findDomain(tx, workspaceId, domainId);
    if (!isUuid(inboxId)) throw notFound('Inbox');
    const inbox = await tx.selectFrom('mailboxes').select('id').where('id', '=', inboxId).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!inbox) throw notFound('Inbox');
    await tx.updateTable('domains').set({ postmaster_mailbox_id: inboxId, updated_at: core.clock.now() }).where('id', '=', d.id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'domain.postmaster_set', targetType: 'domain', targetId: d.id, data: { name: d.name, inbox_id: inboxId, previous: d.postmaster_mailbox_id } }, tx);
    return { ...d, postmaster_mailbox_id: inboxId };
  });
  return postmasterJson(core, d);
}

export async function removePostmaster(core: Core, actor: Actor, workspaceId: string, domainId: string) {
  const d = await core.store.transaction(async (tx) => {
    const d = await findDomain(tx, workspaceId, domainId);
    await tx.updateTable('domains').set({ postmaster_mailbox_id: null, updated_at: core.clock.now() }).where('id', '=', d.id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'domain.postmaster_removed', targetType: 'domain', targetId: d.id, data: { name: d.name, previous: d.postmaster_mailbox_id } }, tx);
    return { ...d, postmaster_mailbox_id: null };
  });
  return postmasterJson(core, d);
}
