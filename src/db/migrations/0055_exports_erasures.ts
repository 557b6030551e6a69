// Data portability and erasure (issue 13): exports (a zip per request, made by a job), erasures
// (what was removed, never the address itself) and the do-not-contact list (an HMAC of each erased
// address under an instance secret, checked before sending).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('exports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('scope', 'text', (c) => c.notNull())
    // The person's address (scope person) or the mailbox id (scope inbox); null for a workspace.
    .addColumn('subject', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('total', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('file', 'text')
    .addColumn('size', 'bigint')
    .addColumn('error', 'text')
    .addColumn('requested_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('exports_workspace').on('exports').columns(['workspace_id', 'id']).execute();

  await db.schema
    .createTable('erasures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('include_mailbox_content', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('removed', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('requested_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
  await db.schema.createIndex('erasures_workspace').on('erasures').columns(['workspace_id', 'id']).execute();

  await db.schema
    .createTable('do_not_contact')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('address_hmac', 'text', (c) => c.notNull())
    .addColumn('erasure_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('do_not_contact_pk', ['workspace_id', 'address_hmac'])
    .execute();
}
