// The inbox that takes postmaster@ of a receiving domain (RFC 5321 §4.5.1) when the domain has no
// mailbox or alias of that name; null: the workspace owner's inbox (src/inbound/postmaster.ts).
// No foreign key, as for catch_all_mailbox_id (0007): a removed inbox is cleared by the mail store
// and a dangling id is treated as unset by the router.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('domains').addColumn('postmaster_mailbox_id', 'text').execute();
}
