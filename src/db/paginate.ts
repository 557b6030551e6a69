// Resend-style cursor pagination over UUIDv7 ids, newest first: `after` an id pages to older rows,
// `before` an id pages to newer ones. Works on any query that selects an `id` column.
import type { SelectQueryBuilder } from 'kysely';
import { invalid } from '../core/core.ts';

export interface PageRequest {
  limit: number;
  after?: string;
  before?: string;
}

export async function paginate<DB, TB extends keyof DB, O extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, O>,
  idColumn: string,
  page: PageRequest,
): Promise<{ rows: O[]; has_more: boolean }> {
  const col = idColumn as any;
  let q = query;
  if (page.after) q = q.where(col, '<', page.after).orderBy(col, 'desc');
  else if (page.before) q = q.where(col, '>', page.before).orderBy(col, 'asc');
  else q = q.orderBy(col, 'desc');
  const rows = await q.limit(page.limit + 1).execute();
  const has_more = rows.length > page.limit;
  const slice = rows.slice(0, page.limit);
  if (page.before) slice.reverse();
  return { rows: slice, has_more };
}

/**
 * One page of a short list held in memory (a message's attachments), with Resend's cursors: the
 * list's own order, `after`/`before` an id of the list. An unknown cursor is a 422.
 */
export function pageOfList<T extends { id: string }>(all: T[], page: PageRequest, what: string): { items: T[]; has_more: boolean } {
  let start = 0;
  let end = Math.min(all.length, page.limit);
  const cursor = page.after ?? page.before;
  if (cursor) {
    const i = all.findIndex((a) => a.id === cursor);
    if (i < 0) throw invalid(`The \`${page.after ? 'after' : 'before'}\` cursor is not ${what}.`);
    if (page.after) {
      start = i + 1;
      end = Math.min(all.length, start + page.limit);
    } else {
      end = i;
      start = Math.max(0, end - page.limit);
    }
  }
  return { items: all.slice(start, end), has_more: page.before ? start > 0 : end < all.length };
}
