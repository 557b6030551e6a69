// What IMAP FETCH answers for a message's structure (ENVELOPE, BODY, BODYSTRUCTURE) depends only on
// its bytes, so it is cached by blob id, as Dovecot keeps its index cache: a FETCH of ENVELOPE over
// a whole folder then reads no message files. Filled on first FETCH (src/imap/cache.ts).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('imap_structure_cache')
    .addColumn('blob_id', 'text', (c) => c.primaryKey())
    // The serialised IMAP values, one byte per character (latin1), never holding NUL.
    .addColumn('envelope', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('bodystructure', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
