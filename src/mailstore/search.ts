// Full-text search over sender, recipients, subject and body text: FTS5 on SQLite, tsvector on
// PostgreSQL (message_search, migration 0007). CONTRACT (filled by the mail store helper).
import type { Db } from '../db/database.ts';

export type SearchField = 'text' | 'body' | 'subject' | 'from' | 'to' | 'cc' | 'bcc';

/**
 * Ids of messages in the mailbox (limited to `folderId` when given) whose `field` contains `needle`
 * case-insensitively as a substring (IMAP SEARCH semantics, RFC 9051 §6.4.4): the index narrows the
 * candidates by words, then the stored text is checked for the substring. 'text' = headers + body.
 */
export async function searchText(_db: Db, _input: { mailboxId: string; folderId?: string; field: SearchField; needle: string }): Promise<Set<string>> {
  throw new Error('not implemented yet');
}
