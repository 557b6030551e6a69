// /v1/emails — Resend's sending endpoints: send, batch, get, list, update (reschedule), cancel,
// and the sent email's attachments. Bodies are checked by the core (compose.ts) so that every
// problem gets Resend's error name and a precise message; the schemas here bound the rest.
//
// Mailstack's extensions: emails.list takes `status`, `recipient`, `tag` (`name` or
// `name:value`), `start_date` and `end_date` (ISO 8601) as extra query parameters; attachment
// `download_url`s point at GET /v1/emails/:id/attachments/:attachmentId/content?token=…, a signed
// link valid for one hour that needs no API key.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import {
  type SendContext,
  attachmentContent,
  cancelEmail,
  getAttachment,
  getEmail,
  listAttachments,
  listEmails,
  sendBatch,
  sendEmail,
  updateEmail,
} from '../../outbound/emails.ts';
import { clientOf, principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const AttachmentParams = Type.Object({ id: Type.String({ maxLength: 100 }), attachmentId: Type.String({ maxLength: 100 }) });
const ListQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    status: Type.Optional(Type.String({ maxLength: 50 })),
    recipient: Type.Optional(Type.String({ maxLength: 1000 })),
    tag: Type.Optional(Type.String({ maxLength: 600 })),
    start_date: Type.Optional(Type.String({ maxLength: 50 })),
    end_date: Type.Optional(Type.String({ maxLength: 50 })),
  }),
]);

function context(request: FastifyRequest): SendContext {
  const p = principal(request);
  return { workspaceId: p.workspaceId, apiKeyId: p.apiKeyId, domainId: p.domainId };
}

function idempotencyKey(request: FastifyRequest): string | null {
  const v = request.headers['idempotency-key'];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(',') : v;
}

export function emailRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/emails',
    {
      config: { permission: 'emails:send' },
      schema: {
        tags: ['Emails'],
        summary: 'Send an email (Resend-compatible); answers once it is durably stored and queued',
        description:
          'Body: from, to (≤ 50), cc, bcc, reply_to, subject, html and/or text, headers, attachments (base64 `content` or `path` URL, optional `content_id` for inline images), tags, scheduled_at (ISO 8601 or e.g. "in 1 min", "tomorrow at 9am"). Honours the Idempotency-Key header (24 h).',
      },
    },
    async (request, reply) => {
      const r = await sendEmail(core, context(request), request.body, idempotencyKey(request));
      return reply.code(r.status).send(r.body);
    },
  );

  app.post(
    '/v1/emails/batch',
    {
      config: { permission: 'emails:send' },
      schema: {
        tags: ['Emails'],
        summary: 'Send up to 100 emails at once (no attachments or scheduling); x-batch-validation: strict | permissive',
      },
    },
    async (request, reply) => {
      const mode = request.headers['x-batch-validation'];
      const r = await sendBatch(core, context(request), request.body, Array.isArray(mode) ? mode[0] : mode, idempotencyKey(request));
      return reply.code(r.status).send(r.body);
    },
  );

  app.get(
    '/v1/emails',
    {
      config: { permission: 'emails:read' },
      schema: { tags: ['Emails'], summary: 'List sent emails, newest first; filter by status, recipient, tag and date', querystring: ListQuery },
    },
    async (request) => {
      const q = request.query as any;
      return listEmails(core, principal(request).workspaceId, pageOf(q), {
        status: q.status,
        recipient: q.recipient,
        tag: q.tag,
        start_date: q.start_date,
        end_date: q.end_date,
      });
    },
  );

  app.get(
    '/v1/emails/:id',
    { config: { permission: 'emails:read' }, schema: { tags: ['Emails'], summary: 'One sent email', params: IdParams } },
    async (request) => getEmail(core, principal(request).workspaceId, (request.params as any).id),
  );

  app.patch(
    '/v1/emails/:id',
    { config: { permission: 'emails:manage' }, schema: { tags: ['Emails'], summary: 'Reschedule a scheduled email (scheduled_at)', params: IdParams } },
    async (request) => updateEmail(core, context(request), (request.params as any).id, request.body),
  );

  app.post(
    '/v1/emails/:id/cancel',
    { config: { permission: 'emails:manage' }, schema: { tags: ['Emails'], summary: 'Cancel a scheduled email', params: IdParams } },
    async (request) => cancelEmail(core, context(request), (request.params as any).id),
  );

  app.get(
    '/v1/emails/:id/attachments',
    { config: { permission: 'emails:read' }, schema: { tags: ['Emails'], summary: "A sent email's attachments, with download links", params: IdParams, querystring: PageQuery } },
    async (request) => listAttachments(core, principal(request).workspaceId, (request.params as any).id, pageOf(request.query as any)),
  );

  app.get(
    '/v1/emails/:id/attachments/:attachmentId',
    { config: { permission: 'emails:read' }, schema: { tags: ['Emails'], summary: 'One attachment of a sent email, with its download link', params: AttachmentParams } },
    async (request) => {
      const { id, attachmentId } = request.params as any;
      return getAttachment(core, principal(request).workspaceId, id, attachmentId);
    },
  );

  app.get(
    '/v1/emails/:id/attachments/:attachmentId/content',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['Emails'],
        summary: "An attachment's bytes, by the signed download_url (no API key)",
        params: AttachmentParams,
        querystring: Type.Object({ token: Type.String({ maxLength: 2000 }) }),
      },
    },
    async (request, reply) => {
      const { id, attachmentId } = request.params as any;
      const { meta, content } = await attachmentContent(core, id, attachmentId, (request.query as any).token, clientOf(request));
      const name = (meta.filename ?? 'attachment').replace(/["\\\r\n]/g, '_');
      reply
        .type(meta.content_type)
        .header('content-disposition', `${meta.content_id ? 'inline' : 'attachment'}; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff');
      return reply.send(content);
    },
  );
}
