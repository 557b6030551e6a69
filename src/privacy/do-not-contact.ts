// The do-not-contact list: what an erasure keeps of an address, a keyed hash (HMAC-SHA256 under
// the instance secret `erasure`), never the address. Every outbound message is checked against it
// (storeMessage in src/outbound/accept.ts) before it is signed or stored.
import { createHmac } from 'node:crypto';
import { type Core, CoreError } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { instanceSecret } from '../secrets/instance-secrets.ts';

/** The keyed hash the do-not-contact list holds for an address. */
export async function addressHmac(core: Core, address: string): Promise<string> {
  const key = await instanceSecret(core, 'erasure');
  return createHmac('sha256', key).update(address.trim().toLowerCase()).digest('hex');
}

/** Throws 422 when one of the addresses was erased in this workspace (checked before sending). */
export async function assertContactable(core: Core, db: Db, workspaceId: string, addresses: string[]): Promise<void> {
  if (!addresses.length) return;
  const any = await db.selectFrom('do_not_contact').select('address_hmac').where('workspace_id', '=', workspaceId).limit(1).executeTakeFirst();
  if (!any) return;
  const hashes = await Promise.all([...new Set(addresses.map((a) => a.trim().toLowerCase()))].map((a) => addressHmac(core, a)));
  const hit = await db.selectFrom('do_not_contact').select('address_hmac').where('workspace_id', '=', workspaceId).where('address_hmac', 'in', hashes).limit(1).executeTakeFirst();
  if (hit) {
    throw new CoreError(422, 'validation_error', 'A recipient was erased at their request (right to be forgotten) and may not be contacted again.');
  }
}

