// Full-text search over sender, recipients, subject and body text: FTS5 on SQLite, tsvector on
// PostgreSQL (message_search, migration 0007).
//
// Implementation notes:
// - IMAP SEARCH matches a case-insensitive substring (RFC 9051 §6.4.4). The index can only find
//   words, so it narrows: every word of the needle must be the start of a word of the message
//   (FTS5 prefix query "w"*, tsquery 'w':*), then the stored text is checked for the substring.
//   When that finds nothing, the stored text is scanned for the substring (a needle starting
//   inside a word, "ello wor"): a word search stays an index look-up, a substring search is
//   exact when no message has the needle at a word start. (A needle found at a word start in one
//   message and only inside a word in another finds the first only: the trade for speed.)
// - The needle never reaches the query language as syntax: only its letter/digit runs are used,
//   each double-quoted for FTS5 (a `"` inside is impossible by construction) and passed to
//   PostgreSQL as a bound parameter inside a quoted lexeme. `"`, `*`, `NEAR(`, `-`, `:` … are inert.
// - A needle with no word characters (".", "@@") cannot use the index: the stored text of the
//   mailbox (or folder) is scanned.
// - On PostgreSQL the vector is built from the text with ASCII punctuation turned into spaces
//   (migration 0008), so an address or host name is indexed by its parts, as FTS5 does.
// - from/to/cc/bcc are matched against the message row's own columns (short; no index needed),
//   so TO and CC stay distinct, as IMAP requires.
// - 'text' covers the indexed text (sender, recipients, subject, body), not every header.
import { PostgresAdapter, sql } from 'kysely';
import type { Db } from '../db/database.ts';

export type SearchField = 'text' | 'body' | 'subject' | 'from' | 'to' | 'cc' | 'bcc';

/** At most this many words of a needle go to the index (the substring check covers the rest). */
const MAX_WORDS = 16;

/** The letter/digit runs of a needle, lower-cased. */
export function needleWords(needle: string): string[] {
  return (needle.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? []).slice(0, MAX_WORDS);
}

/** An FTS5 query: every word as a quoted prefix term, optionally limited to one column. */
export function ftsQuery(words: string[], column?: 'subject' | 'body'): string {
  const terms = words.map((w) => `"${w.replace(/"/g, '""')}"*`).join(' ');
  return column ? `${column} : (${terms})` : terms;
}

const lower = (s: string | null | undefined) => (s ?? '').toLowerCase();

interface SearchRow {
  message_id: string;
  sender: string;
  recipients: string;
  subject: string;
  body: string;
}

function indexedText(field: 'text' | 'body' | 'subject', r: SearchRow): string {
  if (field === 'body') return r.body;
  if (field === 'subject') return r.subject;
  return `${r.sender}\n${r.recipients}\n${r.subject}\n${r.body}`;
}

/**
 * Ids of messages in the mailbox (limited to `folderId` when given) whose `field` contains `needle`
 * case-insensitively as a substring (IMAP SEARCH semantics, RFC 9051 §6.4.4): the index narrows the
 * candidates by words, then the stored text is checked for the substring. 'text' = headers + body.
 */
export async function searchText(db: Db, input: { mailboxId: string; folderId?: string; field: SearchField; needle: string }): Promise<Set<string>> {
  const { mailboxId, folderId, field } = input;
  const needle = lower(input.needle);
  const out = new Set<string>();

  if (field === 'from' || field === 'to' || field === 'cc' || field === 'bcc') {
    const column = field === 'from' ? 'from_header' : (`${field}_json` as const);
    let q = db.selectFrom('messages').select(['id', column]).where('mailbox_id', '=', mailboxId);
    if (folderId) q = q.where('folder_id', '=', folderId);
    for (const row of await q.execute()) {
      const value = (row as Record<string, string | null>)[column];
      if (field === 'from') {
        if (lower(value).includes(needle)) out.add(row.id);
        continue;
      }
      let list: { name?: string; address?: string }[] = [];
      try {
        list = JSON.parse(value ?? '[]');
      } catch {
        list = [];
      }
      if (list.some((a) => lower(`${a.name ?? ''} <${a.address ?? ''}>`).includes(needle) || lower(a.address).includes(needle))) out.add(row.id);
    }
    return out;
  }

  if (!needle) {
    // An empty needle matches every message (every string contains the empty string).
    let q = db.selectFrom('messages').select('id').where('mailbox_id', '=', mailboxId);
    if (folderId) q = q.where('folder_id', '=', folderId);
    for (const r of await q.execute()) out.add(r.id);
    return out;
  }

  const words = needleWords(needle);
  let candidates: SearchRow[];
  const cols = ['message_search.message_id', 'message_search.sender', 'message_search.recipients', 'message_search.subject', 'message_search.body'] as const;
  if (!words.length) {
    let q = db.selectFrom('message_search').select(cols).where('message_search.mailbox_id', '=', mailboxId);
    if (folderId) q = q.innerJoin('messages', 'messages.id', 'message_search.message_id').where('messages.folder_id', '=', folderId);
    candidates = await q.execute();
  } else if (db.getExecutor().adapter instanceof PostgresAdapter) {
    // to_tsquery on a quoted lexeme: the word is data, never tsquery syntax.
    const prefix = words.map((w) => sql`to_tsquery('simple', ${`'${w.replace(/'/g, "''")}':*`})`);
    const query = prefix.reduce((a, b) => sql`(${a} && ${b})`);
    const weights = field === 'subject' ? 'A' : field === 'body' ? 'C' : null;
    const tsv = weights ? sql`ts_filter(message_search.tsv, ${`{${weights.toLowerCase()}}`}::"char"[])` : sql`message_search.tsv`;
    let q = db
      .selectFrom('message_search')
      .select(cols)
      .where('message_search.mailbox_id', '=', mailboxId)
      .where(sql<boolean>`${tsv} @@ ${query}`);
    if (folderId) q = q.innerJoin('messages', 'messages.id', 'message_search.message_id').where('messages.folder_id', '=', folderId);
    candidates = await q.execute();
  } else {
    const match = ftsQuery(words, field === 'text' ? undefined : field);
    let q = db
      .selectFrom('message_search')
      .select(cols)
      .where('message_search.mailbox_id', '=', mailboxId)
      .where(sql<boolean>`message_search.id in (select rowid from message_fts where message_fts match ${match})`);
    if (folderId) q = q.innerJoin('messages', 'messages.id', 'message_search.message_id').where('messages.folder_id', '=', folderId);
    candidates = await q.execute();
  }
  for (const r of candidates) if (lower(indexedText(field, r)).includes(needle)) out.add(r.message_id);
  if (!out.size && words.length) {
    // The index finds words by their start; a needle that begins or ends inside a word ("eautiful
    // worl") finds nothing there. Only then is the stored text scanned, so a word search stays
    // an index look-up.
    let q = db.selectFrom('message_search').select(cols).where('message_search.mailbox_id', '=', mailboxId);
    if (folderId) q = q.innerJoin('messages', 'messages.id', 'message_search.message_id').where('messages.folder_id', '=', folderId);
    for (const r of await q.execute()) if (lower(indexedText(field, r)).includes(needle)) out.add(r.message_id);
  }
  return out;
}
