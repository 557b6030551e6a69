// Mail store additions: a per-mailbox UIDVALIDITY counter, so a folder deleted and created again
// under the same name never gets a UIDVALIDITY it had before (RFC 9051 §2.3.1.1), even within one
// second; an index for the Trash/Junk purge, which looks messages up by when they entered a folder;
// and, on PostgreSQL, a search vector built from words only.
//
// PostgreSQL's text search parser keeps e-mail addresses, host names, URLs and hyphenated words as
// single tokens, so 'food.example' was not findable inside 'pat@food.example'. The vector is now
// built after turning ASCII punctuation into spaces: the same words FTS5's unicode61 tokenizer
// sees on SQLite, so both stores find the same messages (src/mailstore/search.ts).
import { type Kysely, PostgresAdapter, sql } from 'kysely';

const WORDS = (col: string) => `to_tsvector('simple', regexp_replace(${col}, '[[:space:][:punct:]]+', ' ', 'g'))`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mailbox_counters')
    .addColumn('mailbox_id', 'text', (c) => c.primaryKey().references('mailboxes.id').onDelete('cascade'))
    // The last UIDVALIDITY given to a folder of this mailbox; the next is max(now in seconds, last + 1).
    .addColumn('uid_validity_last', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('messages_folder_created').on('messages').columns(['folder_id', 'created_at']).execute();

  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table message_search drop column tsv`.execute(db);
    await sql
      .raw(
        `alter table message_search add column tsv tsvector generated always as (
          setweight(${WORDS("coalesce(subject, '')")}, 'A') ||
          setweight(${WORDS("coalesce(sender, '') || ' ' || coalesce(recipients, '')")}, 'B') ||
          setweight(${WORDS("coalesce(body, '')")}, 'C')
        ) stored`,
      )
      .execute(db);
    await sql`create index message_search_tsv on message_search using gin (tsv)`.execute(db);
  }
}
