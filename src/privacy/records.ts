// What a workspace holds that names a person, as queries shared by export (what to give back) and
// erasure (what to remove): case-insensitive matches of an address in text columns, keyset pages
// of rows, and whether an optional table (contacts, from the campaigns branch) exists here.
//
// Implementation notes:
// - An address is matched lower-cased, as a whole value or as a substring of JSON/text, with LIKE
//   wildcards in it escaped (an address may hold `_` or `%`).
// - Pages are by id (UUIDv7 or another unique text key) so a scan of millions of rows holds one page.
import { type Expression, type SqlBool, sql } from 'kysely';
import type { Db, Store } from '../db/database.ts';

/** `lower(col) LIKE %needle%`, with the needle's LIKE wildcards escaped. */
export function containsCI(col: string, needle: string): Expression<SqlBool> {
  const pattern = `%${needle.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<SqlBool>`lower(${sql.ref(col)}) like ${pattern} escape '\\'`;
}

export function equalsCI(col: string, value: string): Expression<SqlBool> {
  return sql<SqlBool>`lower(${sql.ref(col)}) = ${value.toLowerCase()}`;
}

/** Rows of `query(after)` page by page; `query` must order by `key` ascending and take `limit`. */
export async function* pages<T extends Record<string, any>>(key: string, limit: number, query: (after: string | null) => Promise<T[]>): AsyncGenerator<T[]> {
  let after: string | null = null;
  for (;;) {
    const rows = await query(after);
    if (rows.length) yield rows;
    if (rows.length < limit) return;
    after = String(rows[rows.length - 1][key]);
  }
}

/** True when the table exists in this store (optional tables of other parts). */
export async function tableExists(store: Store, name: string): Promise<boolean> {
  if (store.dialect === 'sqlite') {
    const r = await sql<{ n: string }>`select name as n from sqlite_master where type = 'table' and name = ${name}`.execute(store.db);
    return r.rows.length > 0;
  }
  const r = await sql<{ t: string | null }>`select to_regclass(${name})::text as t`.execute(store.db);
  return !!r.rows[0]?.t;
}

/** Replaces every case-insensitive occurrence of the address (and its %40 form) in a text. */
export function redactText(text: string, address: string, replacement = '[erased]'): string {
  const forms = [address, address.replace('@', '%40')].map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return text.replace(new RegExp(forms.join('|'), 'gi'), replacement);
}

export type { Db };
