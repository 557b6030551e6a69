// The API request log (Resend's `logs.list` / `logs.get`): each /v1 request of an identified
// caller, kept per workspace for its retention period.
//
// Implementation notes:
// - Only the method, the path (without the query string, which may carry cursors or e-mail
//   addresses), the status, the key or user, the user agent, the duration and the time are kept.
//   Never a body, a header value other than User-Agent, or a secret: `request_body` and
//   `response_body`, which Resend's SDK types declare, are always null here.
// - The row is written in onSend, before the response leaves, so a caller that reads the log
//   right after a request finds it there. A failure to write it is logged and never fails the
//   request itself.
// - Callers that are not identified (401) have no workspace and are not recorded.
// - Retention (src/outbound/retention.ts) deletes rows older than the workspace's period.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core/core.ts';
import { notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { ApiRequestsTable } from '../db/schema.ts';

/** An onSend hook: records the request (register after the auth hook). */
export function requestLogHook(core: Core) {
  return async function logRequest(request: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const p = request.principal;
    if (!p || !request.url.startsWith('/v1/')) return payload;
    try {
      const now = core.clock.now();
      const ua = request.headers['user-agent'];
      await core.db
        .insertInto('api_requests')
        .values({
          id: newId(now),
          workspace_id: p.workspaceId,
          api_key_id: p.apiKeyId,
          user_id: p.userId,
          method: request.method,
          endpoint: request.url.split('?')[0].slice(0, 1000),
          response_status: reply.statusCode,
          user_agent: typeof ua === 'string' ? ua.slice(0, 512) : null,
          duration_ms: Math.max(0, Math.round(reply.elapsedTime)),
          created_at: now,
        })
        .execute();
    } catch (err) {
      request.log.error({ err }, 'could not record the request in the API request log');
    }
    return payload;
  };
}

function logSummary(r: ApiRequestsTable) {
  return {
    id: r.id,
    created_at: new Date(r.created_at).toISOString(),
    endpoint: r.endpoint,
    method: r.method,
    response_status: r.response_status,
    user_agent: r.user_agent,
  };
}

/** Newest first, with Resend's cursors. */
export async function listRequestLog(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('api_requests').selectAll().where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(logSummary) };
}

export async function getRequestLog(core: Core, workspaceId: string, id: string) {
  const r = await core.db.selectFrom('api_requests').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!r) throw notFound('Log');
  return {
    object: 'log' as const,
    ...logSummary(r),
    // Resend's Log has these; Mailstack never keeps bodies.
    request_body: null,
    response_body: null,
    api_key_id: r.api_key_id,
    user_id: r.user_id,
    duration_ms: r.duration_ms,
  };
}
