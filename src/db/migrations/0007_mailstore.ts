// The mail store: hosted mailboxes (Resend "inboxes"), their folders and messages with everything
// IMAP needs (per-folder UIDs, UIDVALIDITY, MODSEQ, flags, keywords), threads, labels, full-text
// search, aliases, catch-alls, forwarding rules, drafts and app passwords. See src/mailstore/.
import { type Kysely, PostgresAdapter, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;

  await db.schema
    .createTable('mailboxes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id').onDelete('cascade'))
    // The full address, lower-cased: unique across the node, since the MX routes by it.
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text')
    .addColumn('from_name', 'text')
    .addColumn('quota_bytes', 'bigint')
    .addColumn('used_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('mode', 'text', (c) => c.notNull().defaultTo('mailbox'))
    .addColumn('forwarding', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('agent_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('owner_user_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mailboxes_workspace').on('mailboxes').columns(['workspace_id', 'id']).execute();

  await db.schema
    .createTable('folders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('special_use', 'text')
    .addColumn('uid_validity', 'bigint', (c) => c.notNull())
    .addColumn('uid_next', 'bigint', (c) => c.notNull().defaultTo(1))
    .addColumn('highest_modseq', 'bigint', (c) => c.notNull().defaultTo(1))
    .addColumn('subscribed', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('folders_mailbox_name', ['mailbox_id', 'name'])
    .execute();

  await db.schema
    .createTable('threads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('subject', 'text')
    .addColumn('normalized_subject', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('last_message_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('threads_mailbox_last').on('threads').columns(['mailbox_id', 'last_message_at']).execute();
  await db.schema.createIndex('threads_mailbox_subject').on('threads').columns(['mailbox_id', 'normalized_subject']).execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('folder_id', 'text', (c) => c.notNull().references('folders.id').onDelete('cascade'))
    .addColumn('uid', 'bigint', (c) => c.notNull())
    .addColumn('modseq', 'bigint', (c) => c.notNull())
    .addColumn('blob_id', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('internal_date', 'bigint', (c) => c.notNull())
    .addColumn('seen', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('answered', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('flagged', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('draft', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('keywords', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('thread_id', 'text', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull().defaultTo('inbound'))
    .addColumn('message_id', 'text')
    .addColumn('in_reply_to', 'text')
    .addColumn('references_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('subject', 'text')
    .addColumn('from_header', 'text')
    .addColumn('from_address', 'text')
    .addColumn('to_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('cc_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('bcc_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('reply_to_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('sent_date', 'bigint')
    .addColumn('has_attachments', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('snippet', 'text')
    .addColumn('auth_json', 'text')
    .addColumn('envelope_from', 'text')
    .addColumn('received_for_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('email_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('messages_folder_uid', ['folder_id', 'uid'])
    .execute();
  await db.schema.createIndex('messages_folder_modseq').on('messages').columns(['folder_id', 'modseq']).execute();
  await db.schema.createIndex('messages_mailbox_thread').on('messages').columns(['mailbox_id', 'thread_id']).execute();
  await db.schema.createIndex('messages_mailbox_msgid').on('messages').columns(['mailbox_id', 'message_id']).execute();
  await db.schema.createIndex('messages_workspace').on('messages').columns(['workspace_id', 'id']).execute();
  await db.schema.createIndex('messages_blob').on('messages').columns(['blob_id']).execute();
  await db.schema.createIndex('messages_folder_internal').on('messages').columns(['folder_id', 'internal_date']).execute();

  // UIDs expunged from a folder and the MODSEQ of their removal: QRESYNC's VANISHED (RFC 7162 §3.2.10).
  await db.schema
    .createTable('expunged_messages')
    .addColumn('folder_id', 'text', (c) => c.notNull().references('folders.id').onDelete('cascade'))
    .addColumn('uid', 'bigint', (c) => c.notNull())
    .addColumn('modseq', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('expunged_messages_pk', ['folder_id', 'uid'])
    .execute();
  await db.schema.createIndex('expunged_messages_modseq').on('expunged_messages').columns(['folder_id', 'modseq']).execute();

  await db.schema
    .createTable('message_attachments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('filename', 'text')
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('content_id', 'text')
    .addColumn('disposition', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('message_attachments_message').on('message_attachments').columns(['message_id', 'position']).execute();

  // Full-text search: one row of searchable text per message; FTS5 (SQLite) or tsvector (PostgreSQL) over it.
  if (postgres) {
    await sql`create table message_search (
      id bigserial primary key,
      message_id text not null unique references messages(id) on delete cascade,
      mailbox_id text not null,
      sender text not null default '',
      recipients text not null default '',
      subject text not null default '',
      body text not null default '',
      tsv tsvector generated always as (
        setweight(to_tsvector('simple', coalesce(subject, '')), 'A') ||
        setweight(to_tsvector('simple', coalesce(sender, '') || ' ' || coalesce(recipients, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(body, '')), 'C')
      ) stored
    )`.execute(db);
    await sql`create index message_search_tsv on message_search using gin (tsv)`.execute(db);
    await sql`create index message_search_mailbox on message_search (mailbox_id)`.execute(db);
  } else {
    await sql`create table message_search (
      id integer primary key autoincrement,
      message_id text not null unique references messages(id) on delete cascade,
      mailbox_id text not null,
      sender text not null default '',
      recipients text not null default '',
      subject text not null default '',
      body text not null default ''
    )`.execute(db);
    await sql`create index message_search_mailbox on message_search (mailbox_id)`.execute(db);
    await sql`create virtual table message_fts using fts5(
      sender, recipients, subject, body,
      content='message_search', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    )`.execute(db);
    await sql`create trigger message_search_ai after insert on message_search begin
      insert into message_fts(rowid, sender, recipients, subject, body) values (new.id, new.sender, new.recipients, new.subject, new.body);
    end`.execute(db);
    await sql`create trigger message_search_ad after delete on message_search begin
      insert into message_fts(message_fts, rowid, sender, recipients, subject, body) values ('delete', old.id, old.sender, old.recipients, old.subject, old.body);
    end`.execute(db);
  }

  await db.schema
    .createTable('labels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('color', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('labels_mailbox_name', ['mailbox_id', 'name'])
    .execute();

  await db.schema
    .createTable('aliases')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('alias_targets')
    .addColumn('alias_id', 'text', (c) => c.notNull().references('aliases.id').onDelete('cascade'))
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('alias_targets_pk', ['alias_id', 'mailbox_id'])
    .execute();

  await db.schema.alterTable('domains').addColumn('catch_all_mailbox_id', 'text').execute();

  await db.schema
    .createTable('forwarding_rules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('keep_copy', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('forwarding_rules_mailbox').on('forwarding_rules').columns(['mailbox_id']).execute();

  await db.schema
    .createTable('drafts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('thread_id', 'text')
    .addColumn('reply_to_message_id', 'text')
    .addColumn('to_json', 'text')
    .addColumn('cc_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('bcc_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('subject', 'text')
    .addColumn('html', 'text')
    .addColumn('text', 'text')
    .addColumn('attachments_json', 'text', (c) => c.notNull().defaultTo('[]'))
    // The copy in the Drafts folder that IMAP sees (replaced on every update), and the sent email.
    .addColumn('message_id', 'text')
    .addColumn('email_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('drafts_mailbox').on('drafts').columns(['mailbox_id', 'id']).execute();

  await db.schema
    .createTable('app_passwords')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('app_passwords_mailbox').on('app_passwords').columns(['mailbox_id']).execute();

  // A forwarded message leaves with an SRS0 envelope sender instead of its VERP return path.
  await db.schema.alterTable('emails').addColumn('envelope_from', 'text').execute();
}
