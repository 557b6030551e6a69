// Inbound routing look-ups: the MX asks at every RCPT which domains of any workspace carry a name
// (receiving domains, return-path hosts); the (workspace_id, name) unique constraint of 0001 cannot
// serve a look-up by name alone. Alias targets are looked up by mailbox when a mailbox goes away.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('domains_name').on('domains').column('name').execute();
  await db.schema.createIndex('alias_targets_mailbox').on('alias_targets').column('mailbox_id').execute();
}
