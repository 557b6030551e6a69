// /v1/inboxes/:id/drafts — Resend's draft endpoints: list, create, get, update, remove, send.
// A draft is also a message in the inbox's Drafts folder (\Draft), so IMAP clients see it.
// Core service: src/inboxes/drafts.ts.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { createDraft, getDraft, listDrafts, removeDraft, sendDraft, updateDraft } from '../../inboxes/drafts.ts';
import { PageQuery, pageOf } from '../pagination.ts';
import { caller } from './inbox-threads.ts';
import { InboxParams, inboxOf, requireSend } from './inboxes.ts';

const DraftParams = Type.Object({ id: Type.String({ maxLength: 320 }), draftId: Type.String({ maxLength: 100 }) });
const Recipients = Type.Union([Type.String({ maxLength: 1000 }), Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 50 }), Type.Null()]);
const Text = (max?: number) => Type.Union([Type.String(max ? { maxLength: max } : {}), Type.Null()]);
const Content = {
  to: Type.Optional(Recipients),
  cc: Type.Optional(Recipients),
  bcc: Type.Optional(Recipients),
  subject: Type.Optional(Text(2000)),
  text: Type.Optional(Text()),
  html: Type.Optional(Text()),
  attachments: Type.Optional(Type.Union([Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 20 }), Type.Null()])),
};

export function inboxDraftRoutes(app: FastifyInstance, core: Core) {
  const tags = ['Inboxes'];

  app.get('/v1/inboxes/:id/drafts', { config: { permission: 'inboxes:read' }, schema: { tags, summary: "The inbox's drafts, newest first", params: InboxParams, querystring: PageQuery } }, async (request) =>
    listDrafts(core, await inboxOf(core, request), pageOf(request.query as any)),
  );

  app.post(
    '/v1/inboxes/:id/drafts',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Create a draft (a reply draft with thread_id and reply_to_email_id); also stored in the Drafts folder',
        params: InboxParams,
        body: Type.Object(
          { ...Content, thread_id: Type.Optional(Text(100)), reply_to_email_id: Type.Optional(Text(100)) },
          { additionalProperties: true },
        ),
      },
    },
    async (request, reply) => reply.code(201).send(await createDraft(core, await inboxOf(core, request), request.body)),
  );

  app.get('/v1/inboxes/:id/drafts/:draftId', { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'One draft', params: DraftParams } }, async (request) =>
    getDraft(core, await inboxOf(core, request), (request.params as any).draftId),
  );

  app.patch(
    '/v1/inboxes/:id/drafts/:draftId',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Change a draft (attachments, when given, replace all)', params: DraftParams, body: Type.Object(Content, { additionalProperties: true }) } },
    async (request) => updateDraft(core, await inboxOf(core, request), (request.params as any).draftId, request.body),
  );

  app.delete('/v1/inboxes/:id/drafts/:draftId', { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Delete a draft', params: DraftParams } }, async (request) =>
    removeDraft(core, await inboxOf(core, request), (request.params as any).draftId),
  );

  app.post(
    '/v1/inboxes/:id/drafts/:draftId/send',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Send a draft (a reply draft as a reply); the draft is removed and the Sent copy stored',
        description: 'Body (optional): { headers } — custom headers; In-Reply-To, References and Reply-To are set by Mailstack and refused.',
        params: DraftParams,
      },
    },
    async (request) => {
      requireSend(request);
      return sendDraft(core, caller(request), await inboxOf(core, request), (request.params as any).draftId, request.body);
    },
  );
}
