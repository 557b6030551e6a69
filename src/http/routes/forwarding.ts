// /v1/inboxes/{id}/forwarding — forwarding rules of an inbox: our own endpoints in Resend's style.
// The rules live in src/inbound/forwarding.ts; the MX applies them (src/inbound/deliver.ts).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { createForwarding, getForwarding, listForwarding, removeForwarding, updateForwarding } from '../../inbound/forwarding.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const InboxParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const RuleParams = Type.Object({ id: Type.String({ maxLength: 100 }), ruleId: Type.String({ maxLength: 100 }) });
const To = Type.String({ minLength: 3, maxLength: 320 });
const tags = ['Inboxes'];

export function forwardingRoutes(app: FastifyInstance, core: Core) {
  app.get(
    '/v1/inboxes/:id/forwarding',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: "List an inbox's forwarding rules", params: InboxParams, querystring: PageQuery } },
    async (request) => listForwarding(core, principal(request).workspaceId, (request.params as any).id, pageOf(request.query as any)),
  );

  app.post(
    '/v1/inboxes/:id/forwarding',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Forward every message the inbox receives to an outside address (SRS envelope; keep_copy and enabled default to true)',
        params: InboxParams,
        body: Type.Object({ to: To, keep_copy: Type.Optional(Type.Boolean()), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createForwarding(core, p.actor, p.workspaceId, (request.params as any).id, request.body as any);
    },
  );

  app.get(
    '/v1/inboxes/:id/forwarding/:ruleId',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'Get a forwarding rule', params: RuleParams } },
    async (request) => {
      const params = request.params as any;
      return getForwarding(core, principal(request).workspaceId, params.id, params.ruleId);
    },
  );

  app.patch(
    '/v1/inboxes/:id/forwarding/:ruleId',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Change a forwarding rule: target, keep_copy, enabled',
        params: RuleParams,
        body: Type.Object({ to: Type.Optional(To), keep_copy: Type.Optional(Type.Boolean()), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principal(request);
      const params = request.params as any;
      return updateForwarding(core, p.actor, p.workspaceId, params.id, params.ruleId, (request.body as any) ?? {});
    },
  );

  app.delete(
    '/v1/inboxes/:id/forwarding/:ruleId',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Remove a forwarding rule', params: RuleParams } },
    async (request) => {
      const p = principal(request);
      const params = request.params as any;
      return removeForwarding(core, p.actor, p.workspaceId, params.id, params.ruleId);
    },
  );
}
