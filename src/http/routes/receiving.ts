// /v1/emails/receiving — Resend's receiving endpoints: the workspace's received emails (list, get
// with html_format=data_uri|cid) and their attachments (list, get), plus the signed downloads their
// JSON links to: `raw.download_url` (the RFC 5322 message, what the SDK's receiving.forward
// fetches without an API key) and each attachment's `download_url`. Both links expire after one hour.
// Core service: src/inboxes/receiving.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assertInboxNotSuspended } from '../../privacy/gates.ts';
import { contentRead } from '../content-reader.ts';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import {
  getReceived,
  getReceivedAttachment,
  listReceived,
  listReceivedAttachments,
  receivedAttachmentContent,
  receivedMessage,
  receivedRaw,
} from '../../inboxes/receiving.ts';
import { clientOf, principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const AttachmentParams = Type.Object({ id: Type.String({ maxLength: 100 }), attachmentId: Type.String({ maxLength: 100 }) });
const TokenQuery = Type.Object({ token: Type.String({ maxLength: 2000 }) });

export function receivingRoutes(app: FastifyInstance, core: Core) {
  const tags = ['Receiving'];
  // Content (and the signed links to the raw message and attachments) is handed out only after
  // the read is recorded, or refused, by the content access audit; a suspended inbox is 403.
  const guard = async (request: FastifyRequest, workspaceId: string, id: string, what: 'message' | 'attachments') => {
    const m = await receivedMessage(core.db, workspaceId, id);
    const inbox = await core.db.selectFrom('mailboxes').select(['suspended_at', 'suspended_reason']).where('id', '=', m.mailbox_id).executeTakeFirstOrThrow();
    assertInboxNotSuspended(inbox);
    await contentRead(core, request, { mailboxId: m.mailbox_id, what, messageId: m.id, threadId: m.thread_id });
  };

  app.get('/v1/emails/receiving', { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'Received emails of every inbox, newest first', querystring: PageQuery } }, async (request) =>
    listReceived(core, principal(request).workspaceId, pageOf(request.query as any)),
  );

  app.get(
    '/v1/emails/receiving/:id',
    {
      config: { permission: 'inboxes:read' },
      schema: {
        tags,
        summary: 'One received email: text, html, headers, attachments and a signed raw download link',
        params: IdParams,
        querystring: Type.Object({ html_format: Type.Optional(Type.String({ maxLength: 20 })) }),
      },
    },
    async (request) => {
      const ws = principal(request).workspaceId;
      await guard(request, ws, (request.params as any).id, 'message');
      return getReceived(core, ws, (request.params as any).id, (request.query as any).html_format);
    },
  );

  app.get(
    '/v1/emails/receiving/:id/attachments',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: "A received email's attachments, with download links", params: IdParams, querystring: PageQuery } },
    async (request) => {
      const ws = principal(request).workspaceId;
      await guard(request, ws, (request.params as any).id, 'attachments');
      return listReceivedAttachments(core, ws, (request.params as any).id, pageOf(request.query as any));
    },
  );

  app.get(
    '/v1/emails/receiving/:id/attachments/:attachmentId',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'One attachment of a received email, with its download link', params: AttachmentParams } },
    async (request) => {
      const { id, attachmentId } = request.params as any;
      await guard(request, principal(request).workspaceId, id, 'attachments');
      return getReceivedAttachment(core, principal(request).workspaceId, id, attachmentId);
    },
  );

  app.get(
    '/v1/emails/receiving/:id/attachments/:attachmentId/content',
    { config: { auth: 'none' }, schema: { tags, summary: "An attachment's bytes, by its signed download_url (no API key)", params: AttachmentParams, querystring: TokenQuery } },
    async (request, reply) => {
      const { id, attachmentId } = request.params as any;
      const { meta, content } = await receivedAttachmentContent(core, id, attachmentId, (request.query as any).token, clientOf(request));
      const name = (meta.filename ?? 'attachment').replace(/["\\\r\n]/g, '_');
      // Served as a download whatever its type: the content is untrusted mail.
      reply
        .type(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(meta.content_type) ? meta.content_type : 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${name.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox");
      return reply.send(content);
    },
  );

  app.get(
    '/v1/emails/receiving/:id/raw',
    { config: { auth: 'none' }, schema: { tags, summary: 'The raw RFC 5322 message, by its signed raw.download_url (no API key)', params: IdParams, querystring: TokenQuery } },
    async (request, reply) => {
      const raw = await receivedRaw(core, (request.params as any).id, (request.query as any).token, clientOf(request));
      reply
        .type('message/rfc822')
        .header('content-disposition', `attachment; filename="${(request.params as any).id}.eml"`)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff');
      return reply.send(raw);
    },
  );
}
