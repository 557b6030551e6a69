// Campaigns, second part (src/campaigns/): the broadcast of a sent email (for `broadcast_id` on its
// webhook events), open and click records, the workspace's shared send-rate bucket, public
// subscribe forms and the contacts waiting for their double opt-in confirmation.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const ws = (c: any) => c.notNull().references('workspaces.id').onDelete('cascade');
  await db.schema.alterTable('emails').addColumn('broadcast_id', 'text').execute();

  await db.schema
    .createTable('broadcast_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('broadcast_id', 'text', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
    .addColumn('recipient_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('broadcast_events_broadcast').on('broadcast_events').columns(['broadcast_id', 'kind', 'recipient_id']).execute();

  await db.schema
    .createTable('workspace_send_rate')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('tokens', 'double precision', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subscribe_forms')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('segment_id', 'text', (c) => c.references('segments.id').onDelete('set null'))
    .addColumn('topic_id', 'text', (c) => c.references('topics.id').onDelete('set null'))
    .addColumn('from_header', 'text', (c) => c.notNull())
    .addColumn('double_opt_in', 'integer', (c) => c.notNull())
    .addColumn('redirect_url', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subscribe_forms_workspace').on('subscribe_forms').columns(['workspace_id', 'id']).execute();

  await db.schema
    .createTable('contact_confirmations')
    .addColumn('contact_id', 'text', (c) => c.primaryKey().references('contacts.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', ws)
    .addColumn('form_id', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['contact_confirmations', 'subscribe_forms', 'workspace_send_rate', 'broadcast_events']) await db.schema.dropTable(t).execute();
  await db.schema.alterTable('emails').dropColumn('broadcast_id').execute();
}
