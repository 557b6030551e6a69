// Resend-style cursor pagination over UUIDv7 ids, newest first: `after` an id pages to older rows,
// `before` an id pages to newer ones. Works on any query that selects an `id` column.
import type { SelectQueryBuilder } from 'kysely';

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
