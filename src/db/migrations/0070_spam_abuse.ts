// Spam filtering (src/spam/), abuse controls (src/abuse/) and deliverability (src/deliverability/):
// verdicts stored with received messages, the per-mailbox Bayesian filter, allow and block lists,
// per-workspace sending limits and pause state, held recipients, bounce/complaint marks, DMARC
// aggregate reports.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('spam_verdicts')
    .addColumn('message_id', 'text', (c) => c.primaryKey().references('messages.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mailbox_id', 'text', (c) => c.notNull())
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('score', 'real', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('symbols_json', 'text', (c) => c.notNull())
    // 'spam' | 'ham' once the owner's action trained the filter with it; null before.
    .addColumn('trained', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('spam_bayes_tokens')
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('token', 'text', (c) => c.notNull())
    .addColumn('spam', 'integer', (c) => c.notNull())
    .addColumn('ham', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('spam_bayes_tokens_pk', ['mailbox_id', 'token'])
    .execute();
  await db.schema
    .createTable('spam_bayes_totals')
    .addColumn('mailbox_id', 'text', (c) => c.primaryKey().references('mailboxes.id').onDelete('cascade'))
    .addColumn('spam', 'integer', (c) => c.notNull())
    .addColumn('ham', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sender_lists')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    // Null: the whole workspace.
    .addColumn('mailbox_id', 'text', (c) => c.references('mailboxes.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('pattern', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sender_lists_workspace').on('sender_lists').columns(['workspace_id', 'pattern']).execute();
  await db.schema
    .createTable('workspace_abuse')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey().references('workspaces.id').onDelete('cascade'))
    .addColumn('hourly_limit', 'integer')
    .addColumn('daily_limit', 'integer')
    // Null: the node's default (MAILSTACK_WARMUP); 0 off, 1 on.
    .addColumn('warmup', 'integer')
    .addColumn('refuse_executables', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('paused_at', 'bigint')
    .addColumn('paused_reason', 'text')
    // The last resume: the auto-pause window counts only sends after it.
    .addColumn('resumed_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('held_recipients')
    .addColumn('recipient_id', 'text', (c) => c.primaryKey().references('email_recipients.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('email_id', 'text', (c) => c.notNull())
    // 'paused' (released on resume) or 'content' (released by an operator's review).
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('held_recipients_workspace').on('held_recipients').columns(['workspace_id', 'reason']).execute();
  await db.schema
    .createTable('delivery_marks')
    .addColumn('recipient_id', 'text', (c) => c.primaryKey().references('email_recipients.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text')
    .addColumn('hard_bounce', 'integer', (c) => c.notNull())
    .addColumn('complaint', 'integer', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('delivery_marks_workspace').on('delivery_marks').columns(['workspace_id', 'at']).execute();
  await db.schema.createIndex('email_recipients_workspace_created').on('email_recipients').columns(['workspace_id', 'created_at']).execute();
  await db.schema
    .createTable('dmarc_reports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id').onDelete('cascade'))
    .addColumn('org_name', 'text', (c) => c.notNull())
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('begin_at', 'bigint', (c) => c.notNull())
    .addColumn('end_at', 'bigint', (c) => c.notNull())
    .addColumn('policy_json', 'text', (c) => c.notNull())
    .addColumn('records_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('dmarc_reports_unique', ['domain_id', 'org_name', 'report_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['dmarc_reports', 'delivery_marks', 'held_recipients', 'workspace_abuse', 'sender_lists', 'spam_bayes_totals', 'spam_bayes_tokens', 'spam_verdicts']) await db.schema.dropTable(t).execute();
  await db.schema.dropIndex('email_recipients_workspace_created').execute();
}
