// /v1/api-keys — Resend's API keys endpoints.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { createApiKey, listApiKeys, removeApiKey, renameApiKey } from '../../accounts/api-keys.ts';
import type { Core } from '../../core/core.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export function apiKeyRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/api-keys',
    {
      config: { permission: 'api_keys:manage' },
      schema: {
        tags: ['API keys'],
        summary: 'Create an API key (the token is shown only in this response)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 50 }),
            permission: Type.Optional(Type.Union([Type.Literal('full_access'), Type.Literal('sending_access')])),
            domain_id: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), token: Type.String() }) },
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createApiKey(core, p.actor, p.workspaceId, request.body as any);
    },
  );

  app.get(
    '/v1/api-keys',
    { config: { permission: 'api_keys:read' }, schema: { tags: ['API keys'], summary: 'List API keys', querystring: PageQuery } },
    async (request) => listApiKeys(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.patch(
    '/v1/api-keys/:id',
    {
      config: { permission: 'api_keys:manage' },
      schema: {
        tags: ['API keys'],
        summary: 'Rename an API key',
        params: IdParams,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 50 }) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principal(request);
      return renameApiKey(core, p.actor, p.workspaceId, (request.params as any).id, request.body as any);
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    { config: { permission: 'api_keys:manage' }, schema: { tags: ['API keys'], summary: 'Remove an API key', params: IdParams } },
    async (request) => {
      const p = principal(request);
      return removeApiKey(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );
}
