// The list query Resend's SDK sends: limit (1-100, default 20) and one of after/before.
import { Type } from 'typebox';
import { invalid } from '../core/core.ts';
import type { PageRequest } from '../db/paginate.ts';

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    after: Type.Optional(Type.String({ maxLength: 100 })),
    before: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: true },
);

export function pageOf(q: { limit?: number; after?: string; before?: string }): PageRequest {
  if (q.after && q.before) throw invalid('Use either `after` or `before`, not both.');
  return { limit: q.limit ?? 20, after: q.after, before: q.before };
}
