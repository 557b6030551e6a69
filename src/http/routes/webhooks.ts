// /v1/webhooks — Resend's webhooks endpoints: endpoints, their events, attempts and replays.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { can } from '../../accounts/roles.ts';
import type { Core } from '../../core/core.ts';
import {
  createWebhook,
  getWebhook,
  getWebhookEvent,
  listAttempts,
  listWebhookEvents,
  listWebhooks,
  removeWebhook,
  replayWebhookEvent,
  rotateSigningSecret,
  updateWebhook,
} from '../../events/webhooks.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const EventParams = Type.Object({ id: Type.String({ maxLength: 100 }), eventId: Type.String({ maxLength: 100 }) });
// Names are checked against the known list in the core (for a clear message); here only the shape.
const Events = Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 100 });
const Endpoint = Type.String({ minLength: 1, maxLength: 2048 });
const tags = ['Webhooks'];

export function webhookRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/webhooks',
    {
      config: { permission: 'webhooks:manage' },
      schema: {
        tags,
        summary: 'Create a webhook endpoint (the signing secret is in the response)',
        body: Type.Object({ endpoint: Endpoint, events: Events }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createWebhook(core, p.actor, p.workspaceId, request.body as any);
    },
  );

  app.get(
    '/v1/webhooks',
    { config: { permission: 'webhooks:read' }, schema: { tags, summary: 'List webhook endpoints', querystring: PageQuery } },
    async (request) => listWebhooks(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/webhooks/:id',
    {
      config: { permission: 'webhooks:read' },
      schema: { tags, summary: 'Get a webhook endpoint (with its signing secret for callers who may manage webhooks)', params: IdParams },
    },
    async (request) => {
      const p = principal(request);
      return getWebhook(core, p.workspaceId, (request.params as any).id, can(p.grantee, 'webhooks:manage'));
    },
  );

  app.patch(
    '/v1/webhooks/:id',
    {
      config: { permission: 'webhooks:manage' },
      schema: {
        tags,
        summary: 'Update a webhook endpoint: URL, events, enabled or disabled',
        params: IdParams,
        body: Type.Object(
          {
            endpoint: Type.Optional(Endpoint),
            events: Type.Optional(Events),
            status: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('disabled')])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = principal(request);
      return updateWebhook(core, p.actor, p.workspaceId, (request.params as any).id, (request.body as any) ?? {});
    },
  );

  app.delete(
    '/v1/webhooks/:id',
    { config: { permission: 'webhooks:manage' }, schema: { tags, summary: 'Remove a webhook endpoint', params: IdParams } },
    async (request) => {
      const p = principal(request);
      return removeWebhook(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );

  app.post(
    '/v1/webhooks/:id/signing-secret/rotate',
    {
      config: { permission: 'webhooks:manage' },
      schema: { tags, summary: 'Replace the signing secret (the old one stops working at once)', params: IdParams },
    },
    async (request) => {
      const p = principal(request);
      return rotateSigningSecret(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );

  app.get(
    '/v1/webhooks/:id/events',
    {
      config: { permission: 'webhooks:read' },
      schema: { tags, summary: 'List the events sent to a webhook endpoint', params: IdParams, querystring: PageQuery },
    },
    async (request) => {
      const p = principal(request);
      return listWebhookEvents(core, p.workspaceId, (request.params as any).id, pageOf(request.query as any));
    },
  );

  app.get(
    '/v1/webhooks/:id/events/:eventId',
    { config: { permission: 'webhooks:read' }, schema: { tags, summary: 'Get one event sent to a webhook endpoint', params: EventParams } },
    async (request) => {
      const { id, eventId } = request.params as any;
      return getWebhookEvent(core, principal(request).workspaceId, id, eventId);
    },
  );

  app.post(
    '/v1/webhooks/:id/events/:eventId/replay',
    { config: { permission: 'webhooks:manage' }, schema: { tags, summary: 'Send an event to the endpoint again', params: EventParams } },
    async (request) => {
      const p = principal(request);
      const { id, eventId } = request.params as any;
      return replayWebhookEvent(core, p.actor, p.workspaceId, id, eventId);
    },
  );

  app.get(
    '/v1/webhooks/:id/events/:eventId/attempts',
    {
      config: { permission: 'webhooks:read' },
      schema: { tags, summary: 'List the delivery attempts of one event', params: EventParams, querystring: PageQuery },
    },
    async (request) => {
      const { id, eventId } = request.params as any;
      return listAttempts(core, principal(request).workspaceId, id, eventId, pageOf(request.query as any));
    },
  );
}
