// Outbound content scoring (src/abuse/content.ts): one verdict per sent email, so a message is
// scored once however many recipients it has, and one an operator released is not held again.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('outbound_content_checks')
    .addColumn('email_id', 'text', (c) => c.primaryKey().references('emails.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('engine', 'text', (c) => c.notNull())
    .addColumn('score', 'real', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('symbols_json', 'text', (c) => c.notNull())
    // 1: scored as spam, held for review.
    .addColumn('spam', 'integer', (c) => c.notNull())
    .addColumn('released_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbound_content_checks').execute();
}
