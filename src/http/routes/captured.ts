// /v1/captured — development mode's captured mail (src/devmode/capture.ts), in Resend's list shape:
// list, get one (header fields, text, HTML, raw source), the raw source as message/rfc822, and
// delete one or all. Outside development mode every route answers 404 saying why.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CoreError, type Core } from '../../core/core.ts';
import { capturedRaw, deleteCaptured, getCaptured, listCaptured } from '../../devmode/capture.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const tags = ['Development mode'];
const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

const Summary = {
  object: Type.Literal('captured_email'),
  id: Type.String(),
  email_id: Type.Union([Type.String(), Type.Null()], { description: 'The sent email this is a capture of' }),
  from: Type.String(),
  envelope_from: Type.String(),
  to: Type.Array(Type.String(), { description: 'The envelope recipients' }),
  subject: Type.String(),
  size: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
};
const CapturedSummary = Type.Object(Summary);
const CapturedEmail = Type.Object({
  ...Summary,
  headers: Type.Array(Type.Object({ name: Type.String(), value: Type.String() })),
  text: Type.Union([Type.String(), Type.Null()]),
  html: Type.Union([Type.String(), Type.Null()]),
  attachments: Type.Array(Type.Object({ filename: Type.Union([Type.String(), Type.Null()]), content_type: Type.String(), size: Type.Integer() })),
  raw: Type.String({ description: 'The message as it would have been sent (DKIM-signed)' }),
});
const CapturedList = Type.Object({ object: Type.Literal('list'), has_more: Type.Boolean(), data: Type.Array(CapturedSummary) });
const Deleted = Type.Object({ object: Type.Literal('captured_email'), deleted: Type.Boolean(), count: Type.Integer() });

function onlyInDevelopment(core: Core) {
  return async (_request: FastifyRequest) => {
    if (core.settings.mode !== 'development') {
      throw new CoreError(404, 'not_found', 'Captured mail exists only in development mode (MAILSTACK_MODE=development, or `npx mailstack dev`); in production mail is sent.');
    }
  };
}

export function capturedRoutes(app: FastifyInstance, core: Core) {
  const preHandler = onlyInDevelopment(core);

  app.get(
    '/v1/captured',
    {
      config: { permission: 'emails:read' },
      preHandler,
      schema: { tags, operationId: 'listCapturedEmails', summary: 'List captured mail, newest first (development mode)', querystring: PageQuery, response: { 200: CapturedList } },
    },
    async (request) => listCaptured(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/captured/:id',
    {
      config: { permission: 'emails:read' },
      preHandler,
      schema: { tags, operationId: 'getCapturedEmail', summary: 'Get one captured message with its header fields, text, HTML and raw source', params: Id, response: { 200: CapturedEmail } },
    },
    async (request) => getCaptured(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.get(
    '/v1/captured/:id/raw',
    {
      config: { permission: 'emails:read' },
      preHandler,
      schema: {
        tags,
        operationId: 'downloadCapturedEmail',
        summary: 'The raw source of a captured message (message/rfc822)',
        params: Id,
        response: { 200: { description: 'The message', content: { 'message/rfc822': { schema: Type.String() } } } },
      } as any,
    },
    async (request, reply) => {
      const raw = await capturedRaw(core, principal(request).workspaceId, (request.params as any).id);
      return reply.type('message/rfc822').header('content-disposition', `attachment; filename="${(request.params as any).id}.eml"`).send(raw);
    },
  );

  // Clearing captures changes what the team sees: the roles that may set up sending may do it.
  app.delete(
    '/v1/captured/:id',
    {
      config: { permission: 'domains:manage' },
      preHandler,
      schema: { tags, operationId: 'deleteCapturedEmail', summary: 'Delete one captured message', params: Id, response: { 200: Deleted } },
    },
    async (request) => ({ object: 'captured_email' as const, deleted: true, count: await deleteCaptured(core, principal(request).workspaceId, (request.params as any).id) }),
  );

  app.delete(
    '/v1/captured',
    {
      config: { permission: 'domains:manage' },
      preHandler,
      schema: { tags, operationId: 'deleteAllCapturedEmails', summary: "Delete all of the workspace's captured mail", response: { 200: Deleted } },
    },
    async (request) => ({ object: 'captured_email' as const, deleted: true, count: await deleteCaptured(core, principal(request).workspaceId) }),
  );
}
