// /v1/suppressions — Resend's suppressions endpoints: add, list (with an `origin` filter), get and
// remove by id or by address, and the batch add/remove. Addresses are checked in the core (a clear
// message per problem); the schemas here bound sizes so hostile input is a 422, never a 500.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import {
  SUPPRESSION_BATCH_MAX,
  apiAddSuppression,
  apiBatchAddSuppressions,
  apiBatchRemoveSuppressions,
  apiRemoveSuppression,
  getSuppression,
  listSuppressions,
} from '../../outbound/suppressions.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

// RFC 5321 §4.5.3.1: a path is at most 256 octets; leave room for surrounding spaces.
const Address = Type.String({ minLength: 1, maxLength: 320 });
const IdOrEmail = Type.Object({ idOrEmail: Type.String({ minLength: 1, maxLength: 320 }) });
const List = (item: ReturnType<typeof Type.String>) => Type.Array(item, { minItems: 1, maxItems: SUPPRESSION_BATCH_MAX });
const tags = ['Suppressions'];

export function suppressionRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/suppressions',
    {
      config: { permission: 'suppressions:manage' },
      schema: { tags, summary: 'Suppress an address (idempotent: an existing suppression is returned)', body: Type.Object({ email: Address }, { additionalProperties: false }) },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return apiAddSuppression(core, p.actor, p.workspaceId, (request.body as any)?.email);
    },
  );

  app.get(
    '/v1/suppressions',
    {
      config: { permission: 'suppressions:read' },
      schema: {
        tags,
        summary: 'List suppressed addresses, newest first',
        querystring: Type.Intersect([PageQuery, Type.Object({ origin: Type.Optional(Type.String({ maxLength: 50 })) })]),
      },
    },
    async (request) => {
      const q = request.query as any;
      return listSuppressions(core, principal(request).workspaceId, { ...pageOf(q), origin: q.origin });
    },
  );

  app.get(
    '/v1/suppressions/:idOrEmail',
    { config: { permission: 'suppressions:read' }, schema: { tags, summary: 'Get a suppression by id or by address', params: IdOrEmail } },
    async (request) => getSuppression(core, principal(request).workspaceId, (request.params as any).idOrEmail),
  );

  app.delete(
    '/v1/suppressions/:idOrEmail',
    { config: { permission: 'suppressions:manage' }, schema: { tags, summary: 'Remove a suppression by id or by address', params: IdOrEmail } },
    async (request) => {
      const p = principal(request);
      return apiRemoveSuppression(core, p.actor, p.workspaceId, (request.params as any).idOrEmail);
    },
  );

  app.post(
    '/v1/suppressions/batch/add',
    {
      config: { permission: 'suppressions:manage' },
      schema: { tags, summary: `Suppress up to ${SUPPRESSION_BATCH_MAX} addresses (all or nothing)`, body: Type.Object({ emails: List(Address) }, { additionalProperties: false }) },
    },
    async (request) => {
      const p = principal(request);
      return apiBatchAddSuppressions(core, p.actor, p.workspaceId, (request.body as any)?.emails);
    },
  );

  app.post(
    '/v1/suppressions/batch/remove',
    {
      config: { permission: 'suppressions:manage' },
      schema: {
        tags,
        summary: `Remove up to ${SUPPRESSION_BATCH_MAX} suppressions, by \`emails\` or by \`ids\``,
        body: Type.Object(
          { emails: Type.Optional(List(Address)), ids: Type.Optional(List(Type.String({ minLength: 1, maxLength: 100 }))) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = principal(request);
      return apiBatchRemoveSuppressions(core, p.actor, p.workspaceId, (request.body as any) ?? {});
    },
  );
}
