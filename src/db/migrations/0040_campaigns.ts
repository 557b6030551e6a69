// Campaigns (src/campaigns/, rows described in db/schema/campaigns.ts): contacts, properties,
// segments, topics, templates with versions, broadcasts with their recipients, contact imports.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const ws = (c: any) => c.notNull().references('workspaces.id').onDelete('cascade');
  await db.schema
    .createTable('contacts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('unsubscribed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('properties_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('contacts_workspace_email', ['workspace_id', 'email'])
    .execute();
  await db.schema.createIndex('contacts_workspace_id').on('contacts').columns(['workspace_id', 'id']).execute();

  await db.schema
    .createTable('contact_properties')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('fallback_json', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('contact_properties_workspace_key', ['workspace_id', 'key'])
    .execute();

  await db.schema
    .createTable('segments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('contact_segments')
    .addColumn('workspace_id', 'text', ws)
    .addColumn('contact_id', 'text', (c) => c.notNull().references('contacts.id').onDelete('cascade'))
    .addColumn('segment_id', 'text', (c) => c.notNull().references('segments.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('contact_segments_pk', ['segment_id', 'contact_id'])
    .execute();
  await db.schema.createIndex('contact_segments_contact').on('contact_segments').columns(['contact_id']).execute();

  await db.schema
    .createTable('topics')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('default_subscription', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('contact_topics')
    .addColumn('workspace_id', 'text', ws)
    .addColumn('contact_id', 'text', (c) => c.notNull().references('contacts.id').onDelete('cascade'))
    .addColumn('topic_id', 'text', (c) => c.notNull().references('topics.id').onDelete('cascade'))
    .addColumn('subscription', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('contact_topics_pk', ['contact_id', 'topic_id'])
    .execute();
  await db.schema.createIndex('contact_topics_topic').on('contact_topics').columns(['topic_id', 'subscription']).execute();

  await db.schema
    .createTable('templates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('alias', 'text')
    .addColumn('current_version_id', 'text', (c) => c.notNull())
    .addColumn('published_version_id', 'text')
    .addColumn('published_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('templates_workspace_alias', ['workspace_id', 'alias'])
    .execute();
  await db.schema
    .createTable('template_versions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('template_id', 'text', (c) => c.notNull().references('templates.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', ws)
    .addColumn('subject', 'text')
    .addColumn('html', 'text', (c) => c.notNull())
    .addColumn('text', 'text')
    .addColumn('from_header', 'text')
    .addColumn('reply_to_json', 'text', (c) => c.notNull())
    .addColumn('variables_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('template_versions_template').on('template_versions').columns(['template_id']).execute();

  await db.schema
    .createTable('broadcasts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('segment_id', 'text')
    .addColumn('topic_id', 'text')
    .addColumn('from_header', 'text')
    .addColumn('subject', 'text')
    .addColumn('reply_to_json', 'text', (c) => c.notNull())
    .addColumn('preview_text', 'text')
    .addColumn('html', 'text')
    .addColumn('text', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('scheduled_at', 'bigint')
    .addColumn('sent_at', 'bigint')
    .addColumn('cursor', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('broadcasts_workspace').on('broadcasts').columns(['workspace_id', 'id']).execute();
  await db.schema
    .createTable('broadcast_recipients')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('broadcast_id', 'text', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
    .addColumn('contact_id', 'text')
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('email_id', 'text')
    .addColumn('skip_reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('broadcast_recipients_once', ['broadcast_id', 'email'])
    .execute();
  await db.schema.createIndex('broadcast_recipients_email').on('broadcast_recipients').columns(['workspace_id', 'email']).execute();

  await db.schema
    .createTable('contact_imports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', ws)
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('file_path', 'text', (c) => c.notNull())
    .addColumn('options_json', 'text', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('processed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('skipped', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('errors_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('failure', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['contact_imports', 'broadcast_recipients', 'broadcasts', 'template_versions', 'templates', 'contact_topics', 'topics', 'contact_segments', 'segments', 'contact_properties', 'contacts']) {
    await db.schema.dropTable(t).execute();
  }
}
