// /v1/logs — Resend's API request log (logs.list, logs.get). Reading it needs the same permission
// as reading API keys: a sending-only key may not.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';
import { getRequestLog, listRequestLog } from '../request-log.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export function logRoutes(app: FastifyInstance, core: Core) {
  app.get(
    '/v1/logs',
    { config: { permission: 'api_keys:read' }, schema: { tags: ['Logs'], summary: 'The API request log, newest first', querystring: PageQuery } },
    async (request) => listRequestLog(core, principal(request).workspaceId, pageOf(request.query as any)),
  );
  app.get(
    '/v1/logs/:id',
    { config: { permission: 'api_keys:read' }, schema: { tags: ['Logs'], summary: 'One request of the API request log', params: IdParams } },
    async (request) => getRequestLog(core, principal(request).workspaceId, (request.params as any).id),
  );
}
