// The data lifecycle (src/privacy/): suspension of workspaces and inboxes, revoked inbox names,
// closed users, the record kept of a closed account after its data is deleted, and an index that
// lets content-read audit records of one API key be folded together.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('workspaces').addColumn('suspended_at', 'bigint').execute();
  await db.schema.alterTable('workspaces').addColumn('suspended_reason', 'text').execute();
  await db.schema.alterTable('mailboxes').addColumn('suspended_at', 'bigint').execute();
  await db.schema.alterTable('mailboxes').addColumn('suspended_reason', 'text').execute();
  // A revoked inbox stops receiving; its mail stays for the owner's export until the closed window ends.
  await db.schema.alterTable('mailboxes').addColumn('revoked_at', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('closed_at', 'bigint').execute();

  await db.schema
    .createTable('closed_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    // The workspace's or user's id (no foreign key: the row outlives what it names).
    .addColumn('subject_id', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'bigint', (c) => c.notNull())
    .addColumn('closed_by', 'text')
    .addColumn('delete_after', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .addColumn('removed_json', 'text')
    .execute();
  await db.schema.createIndex('closed_accounts_due').on('closed_accounts').columns(['deleted_at', 'delete_after']).execute();
  await db.schema.createIndex('audit_log_fold').on('audit_log').columns(['target_id', 'actor_id', 'created_at']).execute();
  await db.schema.createIndex('audit_log_created').on('audit_log').columns(['created_at']).execute();
  await db.schema.createIndex('api_requests_created').on('api_requests').columns(['workspace_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_requests_created').execute();
  await db.schema.dropIndex('audit_log_created').execute();
  await db.schema.dropIndex('audit_log_fold').execute();
  await db.schema.dropTable('closed_accounts').execute();
  await db.schema.alterTable('users').dropColumn('closed_at').execute();
  await db.schema.alterTable('mailboxes').dropColumn('revoked_at').execute();
  await db.schema.alterTable('mailboxes').dropColumn('suspended_reason').execute();
  await db.schema.alterTable('mailboxes').dropColumn('suspended_at').execute();
  await db.schema.alterTable('workspaces').dropColumn('suspended_reason').execute();
  await db.schema.alterTable('workspaces').dropColumn('suspended_at').execute();
}
