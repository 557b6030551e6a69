// The webmail's folder counts (src/webmail/webmail.ts): total and unread per folder read from an
// index on (folder_id, seen) instead of the message rows, so they stay cheap at 50,000 messages.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('messages_folder_seen').on('messages').columns(['folder_id', 'seen']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('messages_folder_seen').execute();
}
