// Domain ownership: one workspace owns a domain name on this instance, for receiving and for
// sending identity (issue 9's cross-tenant takeover). The owner is the workspace that proved control
// by publishing its own token: `_mailstack-challenge.<name> TXT "mailstack-verification=<token>"`.
//
// Implementation notes:
// - Every domain row has its own random token (records.ts lists it as the required `Ownership`
//   record). Nothing else proves control: the receiving MX, SPF and the return-path MX are the same
//   for every workspace, so another tenant's records satisfy them.
// - `owned_at` is set on at most one row per name (the 0011 partial unique index enforces it).
//   Only the owning row receives (route.ts), is a return-path host, may send (domainForSending), and
//   may get inboxes, aliases or a catch-all (aliases.ts receivingDomainFor, catch-all.ts).
// - A claim is every other row with that name: it stays unproven, with no effect, for as long as its
//   token is not published. Whether another workspace holds the name is never told to a claimant
//   (the answers are the same as for a name nobody holds).
// - Control moves only when a claimant's token is published and the current owner's is not (both
//   published: the owner keeps it, so one DNS zone serving two tokens cannot make the name flap).
//   Then, in the claimant's check transaction, the old row loses ownership: its catch-all is
//   cleared and its aliases at the name are deleted (they only route mail); its inboxes keep their
//   mail, still readable, but receive and send nothing, and their addresses stay taken until the old
//   workspace removes them. Both workspaces get an audit record and a domain.updated event.
// - Once proven, ownership lasts until another workspace proves control or the row is removed:
//   a record that disappears for a while (a DNS outage, a zone edit) does not cut mail off.
// - Subdomains are names of their own: `mail.example.com` is proven by its own record at
//   `_mailstack-challenge.mail.example.com`; owning `example.com` grants nothing below it.
import { randomBytes } from 'node:crypto';
import { audit } from '../audit/audit-log.ts';
import type { Core } from '../core/core.ts';
import { systemActor } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { DomainsTable } from '../db/schema.ts';
import { type StoredStatus, challengeValue, domainStatusOf, mergedRecords } from './records.ts';

export const newChallengeToken = () => randomBytes(18).toString('base64url');

/** The owning row of a domain name, if any workspace has proven control of it. */
export async function ownerOf(db: Db, name: string): Promise<DomainsTable | undefined> {
  return db.selectFrom('domains').selectAll().where('name', '=', name).where('owned_at', 'is not', null).executeTakeFirst();
}

/** The message every refusal for an unproven domain gives (the same whoever else holds the name). */
export function unprovenMessage(name: string): string {
  return `The domain ${name} is not verified as this workspace's: publish its Ownership record (TXT _mailstack-challenge.${name}, shown with the domain's records) and verify the domain. Until then it gets no inboxes, aliases, catch-all, receiving or sending.`;
}

function withOwnershipStatus(row: DomainsTable, core: Core, status: StoredStatus['status']): DomainsTable {
  const stored = JSON.parse(row.records) as StoredStatus[];
  const own = mergedRecords(row, core.settings.hostname, core.settings).find((r) => r.purpose === 'ownership');
  if (!own) return row;
  const rest = stored.filter((s) => s.purpose !== 'ownership');
  const next = { ...row, records: JSON.stringify([...rest, { purpose: 'ownership', name: own.name, value: own.value, status }]) };
  next.status = domainStatusOf(mergedRecords(next, core.settings.hostname, core.settings), row.verified_at !== null);
  return next;
}

/**
 * Called by the domain check (verify.ts) inside its transaction with the row as just written and
 * the TXT values seen at `_mailstack-challenge.<name>`. Makes the row the owner when its token is
 * published and the current owner's is not. Returns the row as it now stands and, when control
 * moved, the old owner's row as it now stands (the caller announces its domain.updated).
 */
export async function settleOwnership(core: Core, tx: Db, row: DomainsTable, published: string[] | null): Promise<{ row: DomainsTable; lost?: { row: DomainsTable; previousStatus: string } }> {
  if (row.owned_at !== null || !row.challenge_token || !published) return { row };
  if (!published.some((v) => v.trim() === challengeValue(row.challenge_token!))) return { row };
  const now = core.clock.now();
  const owner = await ownerOf(tx, row.name);
  let lost: { row: DomainsTable; previousStatus: string } | undefined;
  if (owner && owner.id !== row.id) {
    if (owner.challenge_token && published.some((v) => v.trim() === challengeValue(owner.challenge_token!))) {
      // Both tokens are published: the owner keeps the name; this claim stays unproven.
      const next = withOwnershipStatus(row, core, 'failed');
      await tx.updateTable('domains').set({ records: next.records, status: next.status }).where('id', '=', row.id).execute();
      return { row: next };
    }
    const next = { ...withOwnershipStatus(owner, core, 'failed'), owned_at: null, catch_all_mailbox_id: null, updated_at: now };
    lost = { row: next, previousStatus: owner.status };
    await tx
      .updateTable('domains')
      .set({ owned_at: null, catch_all_mailbox_id: null, records: next.records, status: next.status, updated_at: now })
      .where('id', '=', owner.id)
      .execute();
    const aliases = await tx.selectFrom('aliases').select('id').where('domain_id', '=', owner.id).execute();
    if (aliases.length) await tx.deleteFrom('aliases').where('id', 'in', aliases.map((a) => a.id)).execute();
    await audit(
      core,
      systemActor,
      { workspaceId: owner.workspace_id, action: 'domain.ownership_lost', targetType: 'domain', targetId: owner.id, data: { name: owner.name, aliases_removed: aliases.length, catch_all_cleared: owner.catch_all_mailbox_id !== null } },
      tx,
    );
  }
  await tx.updateTable('domains').set({ owned_at: now, updated_at: now }).where('id', '=', row.id).execute();
  await audit(core, systemActor, { workspaceId: row.workspace_id, action: 'domain.ownership_proven', targetType: 'domain', targetId: row.id, data: { name: row.name, moved: owner !== undefined } }, tx);
  return { row: { ...row, owned_at: now, updated_at: now }, lost };
}
