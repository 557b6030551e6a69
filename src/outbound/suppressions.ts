// Suppressions: the addresses a workspace will not send to. The pipeline checks every recipient
// here before anything is queued; hard bounces and complaints add to it by themselves.
import type { Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { SuppressionOrigin, SuppressionsTable } from '../db/schema.ts';

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
