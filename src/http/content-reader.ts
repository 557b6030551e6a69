// The HTTP side of the content access audit (src/privacy/content-access.ts): who is reading, and
// the reason a person gave in the X-Mailstack-Access-Reason header or the `access_reason` query field.
import type { FastifyRequest } from 'fastify';
import type { Core } from '../core/core.ts';
import { ACCESS_REASON_HEADER, type ContentRead, recordContentRead } from '../privacy/content-access.ts';
import { principal } from './auth.ts';

export function readerOf(request: FastifyRequest) {
  const p = principal(request);
  const header = request.headers[ACCESS_REASON_HEADER];
  const field = (request.query as Record<string, unknown> | undefined)?.access_reason;
  const reason = (Array.isArray(header) ? header[0] : header) ?? (typeof field === 'string' ? field : null);
  return { workspaceId: p.workspaceId, actor: p.actor, userId: p.userId, reason: reason ?? null };
}

/** Records the read (or refuses it, 403) before the route hands out content. */
export function contentRead(core: Core, request: FastifyRequest, read: ContentRead): Promise<void> {
  return recordContentRead(core, readerOf(request), read);
}
