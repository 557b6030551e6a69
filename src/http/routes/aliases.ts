// /v1/aliases (one address → one or more inboxes) and /v1/domains/{id}/catch-all (the inbox that
// takes every other address of a receiving domain): our own endpoints in Resend's style, for what
// Resend has no word for. The rules live in src/inbound/aliases.ts and src/inbound/catch-all.ts.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { MAX_ALIAS_TARGETS, createAlias, getAlias, listAliases, removeAlias, updateAlias } from '../../inbound/aliases.ts';
import { getCatchAll, removeCatchAll, setCatchAll } from '../../inbound/catch-all.ts';
import { getPostmaster, removePostmaster, setPostmaster } from '../../inbound/postmaster.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const Address = Type.String({ minLength: 3, maxLength: 320 });
const InboxIds = Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: MAX_ALIAS_TARGETS });
const tags = ['Aliases'];

export function aliasRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/aliases',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Create an alias: an address in a receiving domain that delivers to one or more inboxes',
        body: Type.Object({ address: Address, inbox_ids: InboxIds }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createAlias(core, p.actor, p.workspaceId, request.body as any);
    },
  );

  app.get(
    '/v1/aliases',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'List aliases, newest first', querystring: PageQuery } },
    async (request) => listAliases(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/aliases/:id',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'Get an alias', params: IdParams } },
    async (request) => getAlias(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.patch(
    '/v1/aliases/:id',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Change an alias: its address and/or the inboxes it delivers to',
        params: IdParams,
        body: Type.Object({ address: Type.Optional(Address), inbox_ids: Type.Optional(InboxIds) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principal(request);
      return updateAlias(core, p.actor, p.workspaceId, (request.params as any).id, (request.body as any) ?? {});
    },
  );

  app.delete(
    '/v1/aliases/:id',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Remove an alias', params: IdParams } },
    async (request) => {
      const p = principal(request);
      return removeAlias(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );

  const catchAllTags = ['Domains'];
  app.get(
    '/v1/domains/:id/catch-all',
    { config: { permission: 'inboxes:read' }, schema: { tags: catchAllTags, summary: "The domain's catch-all inbox (null when none)", params: IdParams } },
    async (request) => getCatchAll(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.put(
    '/v1/domains/:id/catch-all',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags: catchAllTags,
        summary: 'Set the inbox that receives mail for every unknown address of this receiving domain',
        params: IdParams,
        body: Type.Object({ inbox_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principal(request);
      return setCatchAll(core, p.actor, p.workspaceId, (request.params as any).id, request.body as any);
    },
  );

  app.delete(
    '/v1/domains/:id/catch-all',
    { config: { permission: 'inboxes:manage' }, schema: { tags: catchAllTags, summary: "Remove the domain's catch-all: unknown addresses get 550 5.1.1 again", params: IdParams } },
    async (request) => {
      const p = principal(request);
      return removeCatchAll(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );

  // postmaster@ of a receiving domain (RFC 5321 §4.5.1); src/inbound/postmaster.ts has the rules.
  app.get(
    '/v1/domains/:id/postmaster',
    { config: { permission: 'inboxes:read' }, schema: { tags: catchAllTags, summary: 'Where postmaster@ of this domain is delivered, and the inbox set for it', params: IdParams } },
    async (request) => getPostmaster(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.put(
    '/v1/domains/:id/postmaster',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags: catchAllTags,
        summary: 'Set the inbox that receives postmaster@ of this domain (when no inbox or alias is named postmaster@)',
        params: IdParams,
        body: Type.Object({ inbox_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principal(request);
      return setPostmaster(core, p.actor, p.workspaceId, (request.params as any).id, request.body as any);
    },
  );

  app.delete(
    '/v1/domains/:id/postmaster',
    { config: { permission: 'inboxes:manage' }, schema: { tags: catchAllTags, summary: "Unset the domain's postmaster inbox: postmaster@ goes to the workspace owner's inbox again", params: IdParams } },
    async (request) => {
      const p = principal(request);
      return removePostmaster(core, p.actor, p.workspaceId, (request.params as any).id);
    },
  );
}
