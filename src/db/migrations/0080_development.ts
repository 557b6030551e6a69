// Development mode (src/devmode/): the mail it captured instead of sending, and the mark a
// development node leaves on its store so that a production node refuses to start on it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('captured_messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Null for the platform's own mail (sign-in links, invitations), which belongs to no workspace.
    .addColumn('workspace_id', 'text', (c) => c.references('workspaces.id').onDelete('cascade'))
    // One capture per sent email, whatever its number of recipients; null for the platform's mail.
    .addColumn('email_id', 'text', (c) => c.unique())
    .addColumn('envelope_from', 'text', (c) => c.notNull())
    .addColumn('recipients_json', 'text', (c) => c.notNull())
    .addColumn('from_header', 'text')
    .addColumn('subject', 'text')
    .addColumn('raw_blob', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('captured_messages_workspace').on('captured_messages').columns(['workspace_id', 'id']).execute();
  await db.schema
    .createTable('instance_flags')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('instance_flags').execute();
  await db.schema.dropTable('captured_messages').execute();
}
