// /v1/inboxes — Resend's inbox endpoints: inboxes (create, list, get, update, remove), their agent
// settings and labels. Threads, thread emails and thread labels are in inbox-threads.ts; drafts in
// inbox-drafts.ts. `:id` is the inbox id or its email address (url-encoded, as the SDK sends it).
// Reads need `inboxes:read`, writes `inboxes:manage`; sending (replies, forwards, draft sends) also
// `emails:send`. Bodies are checked by the core (src/inboxes/) so every problem gets Resend's error
// name and a precise message; the schemas here bound sizes and document the API.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { can } from '../../accounts/roles.ts';
import type { Core } from '../../core/core.ts';
import { CoreError } from '../../core/core.ts';
import { inboxFor } from '../../inboxes/common.ts';
import { createInbox, getAgent, getInbox, listInboxes, removeInbox, updateAgent, updateInbox } from '../../inboxes/inboxes.ts';
import { createLabel, listLabels, removeLabel, updateLabel } from '../../inboxes/labels.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

export const InboxParams = Type.Object({ id: Type.String({ maxLength: 320 }) });
const LabelParams = Type.Object({ id: Type.String({ maxLength: 320 }), labelId: Type.String({ maxLength: 100 }) });
const Text = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);

/** The caller's inbox named by `:id`, or 404. */
export async function inboxOf(core: Core, request: FastifyRequest) {
  return inboxFor(core.db, principal(request).workspaceId, (request.params as { id: string }).id);
}

/** Sending from an inbox needs `emails:send` besides the route's own permission. */
export function requireSend(request: FastifyRequest) {
  const p = principal(request);
  if (!can(p.grantee, 'emails:send')) throw new CoreError(403, 'invalid_access', `Your role (${p.grantee}) does not allow sending emails`);
}

export function inboxRoutes(app: FastifyInstance, core: Core) {
  const tags = ['Inboxes'];

  app.post(
    '/v1/inboxes',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Create an inbox: a hosted mailbox at an address of a receiving-enabled domain (idempotent on the same address)',
        body: Type.Object(
          {
            email_address: Type.String({ maxLength: 320 }),
            name: Type.Optional(Text(256)),
            forwarding: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
            from_name: Type.Optional(Text(256)),
            owner_user_id: Type.Optional(Text(100)),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      const r = await createInbox(core, p.actor, p.workspaceId, request.body);
      return reply.code(201).send(r);
    },
  );

  app.get('/v1/inboxes', { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'List inboxes, newest first', querystring: PageQuery } }, async (request) =>
    listInboxes(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get('/v1/inboxes/:id', { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'One inbox, by id or email address', params: InboxParams } }, async (request) =>
    getInbox(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.patch(
    '/v1/inboxes/:id',
    {
      config: { permission: 'inboxes:manage' },
      schema: { tags, summary: "Change an inbox's name, from_name or owner_user_id (a member who sees it in the webmail)", params: InboxParams, body: Type.Object({ name: Type.Optional(Text(256)), from_name: Type.Optional(Text(256)), owner_user_id: Type.Optional(Text(100)) }, { additionalProperties: true }) },
    },
    async (request) => {
      const p = principal(request);
      return updateInbox(core, p.actor, p.workspaceId, (request.params as any).id, request.body);
    },
  );

  app.delete('/v1/inboxes/:id', { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Delete an inbox with all its mail', params: InboxParams } }, async (request) => {
    const p = principal(request);
    return removeInbox(core, p.actor, p.workspaceId, (request.params as any).id);
  });

  // ---- Agent settings (stored; no model is run) ----

  app.get('/v1/inboxes/:id/agent', { config: { permission: 'inboxes:read' }, schema: { tags, summary: "The inbox agent's settings", params: InboxParams } }, async (request) =>
    getAgent(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.patch(
    '/v1/inboxes/:id/agent',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: "Change the inbox agent's instructions, tone or actions",
        params: InboxParams,
        body: Type.Object(
          { instructions: Type.Optional(Text(10_000)), tone: Type.Optional(Text(50)), actions: Type.Optional(Type.Array(Type.String({ maxLength: 50 }), { maxItems: 20 })) },
          { additionalProperties: true },
        ),
      },
    },
    async (request) => {
      const p = principal(request);
      return updateAgent(core, p.actor, p.workspaceId, (request.params as any).id, request.body);
    },
  );

  // ---- Labels ----

  const LabelBody = Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), color: Type.Optional(Type.String({ maxLength: 20 })) }, { additionalProperties: true });

  app.get('/v1/inboxes/:id/labels', { config: { permission: 'inboxes:read' }, schema: { tags, summary: "The inbox's labels", params: InboxParams } }, async (request) =>
    listLabels(core, await inboxOf(core, request)),
  );

  app.post(
    '/v1/inboxes/:id/labels',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Create a label (name, #RRGGBB color); also an IMAP keyword on messages', params: InboxParams, body: LabelBody } },
    async (request, reply) => reply.code(201).send(await createLabel(core, principal(request).actor, await inboxOf(core, request), request.body)),
  );

  app.patch(
    '/v1/inboxes/:id/labels/:labelId',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Rename or recolor a label', params: LabelParams, body: LabelBody } },
    async (request) => updateLabel(core, principal(request).actor, await inboxOf(core, request), (request.params as any).labelId, request.body),
  );

  app.delete(
    '/v1/inboxes/:id/labels/:labelId',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Delete a label (removed from every message)', params: LabelParams } },
    async (request) => removeLabel(core, principal(request).actor, await inboxOf(core, request), (request.params as any).labelId),
  );
}
