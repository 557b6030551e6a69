// IMAP4rev1's \Recent (RFC 3501 §2.3.2): a message is recent in the one session that first
// selects its folder after it arrived. folders.recent_uid is the highest UID some session has
// claimed that way; every message above it is still recent for the next SELECT.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('folders').addColumn('recent_uid', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('folders').dropColumn('recent_uid').execute();
}
