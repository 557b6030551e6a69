// /v1/inboxes/:id/threads — Resend's thread endpoints: list (folders, labels, read), search,
// get, update (read, folder), remove; a thread's emails (list, get, reply, forward) and its labels
// (add, set, remove). Core services are in src/inboxes/threads.ts, labels.ts and outgoing.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { addThreadLabels, removeThreadLabel, setThreadLabels } from '../../inboxes/labels.ts';
import { forward, replyTo } from '../../inboxes/outgoing.ts';
import {
  getThread,
  getThreadEmail,
  listThreadEmails,
  listThreads,
  messageInThread,
  removeThread,
  searchFiltersOf,
  searchThreads,
  threadFiltersOf,
  threadFor,
  updateThread,
} from '../../inboxes/threads.ts';
import { body } from '../../inboxes/common.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';
import { inboxOf, requireSend } from './inboxes.ts';
import { contentRead } from '../content-reader.ts';

const ThreadParams = Type.Object({ id: Type.String({ maxLength: 320 }), threadId: Type.String({ maxLength: 100 }) });
const EmailParams = Type.Object({ id: Type.String({ maxLength: 320 }), threadId: Type.String({ maxLength: 100 }), emailId: Type.String({ maxLength: 100 }) });
const LabelParams = Type.Object({ id: Type.String({ maxLength: 320 }), threadId: Type.String({ maxLength: 100 }), labelId: Type.String({ maxLength: 100 }) });
const Filters = {
  folders: Type.Optional(Type.String({ maxLength: 200, description: 'comma-separated: inbox, archive, spam, sent, trash' })),
  labels: Type.Optional(Type.String({ maxLength: 2000, description: 'comma-separated label ids' })),
  read: Type.Optional(Type.String({ maxLength: 5, description: 'true or false' })),
};
const ListQuery = Type.Intersect([PageQuery, Type.Object(Filters)]);
const SearchQuery = Type.Intersect([
  PageQuery,
  Type.Object({
    ...Filters,
    query: Type.Optional(Type.String({ maxLength: 500 })),
    from: Type.Optional(Type.String({ maxLength: 2000 })),
    to: Type.Optional(Type.String({ maxLength: 2000 })),
    cc: Type.Optional(Type.String({ maxLength: 2000 })),
    bcc: Type.Optional(Type.String({ maxLength: 2000 })),
    has_attachment: Type.Optional(Type.String({ maxLength: 5 })),
    start_date: Type.Optional(Type.String({ maxLength: 50 })),
    end_date: Type.Optional(Type.String({ maxLength: 50 })),
  }),
]);
const Recipients = Type.Union([Type.String({ maxLength: 1000 }), Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 50 })]);
const Attachments = Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 10 });
const Headers = Type.Union([Type.Record(Type.String(), Type.String({ maxLength: 10_000 })), Type.Null()]);
/** The body fields a reply and a forward share. */
const Outgoing = {
  cc: Type.Optional(Recipients),
  bcc: Type.Optional(Recipients),
  html: Type.Optional(Type.String()),
  text: Type.Optional(Type.String()),
  subject: Type.Optional(Type.String({ maxLength: 2000 })),
  attachments: Type.Optional(Attachments),
  headers: Type.Optional(Headers),
};
const LabelsBody = Type.Object({ labels: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 10 }) });

/** Who sends, with the request's Idempotency-Key (replies and forwards honour it for 24 h). */
export function caller(request: FastifyRequest) {
  const p = principal(request);
  const key = request.headers['idempotency-key'];
  return { workspaceId: p.workspaceId, apiKeyId: p.apiKeyId, idempotencyKey: key === undefined ? null : Array.isArray(key) ? key.join(',') : key };
}

/** The thread email a reply or forward starts from (the caller's key must be allowed to send). */
async function emailToSend(core: Core, request: FastifyRequest) {
  requireSend(request);
  const inbox = await inboxOf(core, request);
  const { threadId, emailId } = request.params as { threadId: string; emailId: string };
  const original = await messageInThread(core.db, inbox, await threadFor(core.db, inbox, threadId), emailId);
  return { inbox, original };
}

export function inboxThreadRoutes(app: FastifyInstance, core: Core) {
  const tags = ['Inboxes'];

  app.get(
    '/v1/inboxes/:id/threads',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'List threads by last activity; filter by folders, labels, read', params: Type.Object({ id: Type.String({ maxLength: 320 }) }), querystring: ListQuery } },
    async (request) => {
      const q = request.query as Record<string, unknown>;
      return listThreads(core, await inboxOf(core, request), threadFiltersOf(q), pageOf(q as any));
    },
  );

  app.get(
    '/v1/inboxes/:id/threads/search',
    {
      config: { permission: 'inboxes:read' },
      schema: { tags, summary: 'Search threads: full text (query), from/to/cc/bcc, has_attachment, start_date/end_date, plus the list filters', params: Type.Object({ id: Type.String({ maxLength: 320 }) }), querystring: SearchQuery },
    },
    async (request) => {
      const q = request.query as Record<string, unknown>;
      return searchThreads(core, await inboxOf(core, request), searchFiltersOf(q), pageOf(q as any));
    },
  );

  app.get('/v1/inboxes/:id/threads/:threadId', { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'One thread', params: ThreadParams } }, async (request) =>
    getThread(core, await inboxOf(core, request), (request.params as any).threadId),
  );

  app.patch(
    '/v1/inboxes/:id/threads/:threadId',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Mark a thread read or unread, or move it to inbox, archive, spam or trash',
        params: ThreadParams,
        body: Type.Object({ read: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])), folder: Type.Optional(Type.Union([Type.String({ maxLength: 20 }), Type.Null()])) }, { additionalProperties: true }),
      },
    },
    async (request) => updateThread(core, await inboxOf(core, request), (request.params as any).threadId, request.body),
  );

  app.delete('/v1/inboxes/:id/threads/:threadId', { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Delete a thread and all its emails for good', params: ThreadParams } }, async (request) =>
    removeThread(core, principal(request).actor, await inboxOf(core, request), (request.params as any).threadId),
  );

  // ---- Emails of a thread ----

  app.get(
    '/v1/inboxes/:id/threads/:threadId/emails',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: "A thread's emails, received and sent, newest first", params: ThreadParams, querystring: PageQuery } },
    async (request) => {
      const inbox = await inboxOf(core, request);
      const { threadId } = request.params as any;
      await contentRead(core, request, { mailboxId: inbox.id, what: 'thread', threadId });
      return listThreadEmails(core, inbox, threadId, pageOf(request.query as any));
    },
  );

  app.get('/v1/inboxes/:id/threads/:threadId/emails/:emailId', { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'One email of a thread', params: EmailParams } }, async (request) => {
    const { threadId, emailId } = request.params as any;
    const inbox = await inboxOf(core, request);
    await contentRead(core, request, { mailboxId: inbox.id, what: 'message', threadId, messageId: emailId });
    return getThreadEmail(core, inbox, threadId, emailId);
  });

  app.post(
    '/v1/inboxes/:id/threads/:threadId/emails/:emailId/reply',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: 'Reply (reply_all: to everyone); sent with In-Reply-To and References, stored in the thread and in Sent',
        params: EmailParams,
        body: Type.Object({ ...Outgoing, reply_all: Type.Optional(Type.Boolean()) }, { additionalProperties: true }),
      },
    },
    async (request) => {
      const { inbox, original } = await emailToSend(core, request);
      return replyTo(core, caller(request), inbox, original, body(request.body));
    },
  );

  app.post(
    '/v1/inboxes/:id/threads/:threadId/emails/:emailId/forward',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags,
        summary: "Forward an email with its attachments; the Sent copy joins the thread",
        params: EmailParams,
        body: Type.Object({ ...Outgoing, to: Type.Optional(Recipients) }, { additionalProperties: true }),
      },
    },
    async (request) => {
      const { inbox, original } = await emailToSend(core, request);
      return forward(core, caller(request), inbox, original, body(request.body));
    },
  );

  // ---- Labels of a thread ----

  app.post(
    '/v1/inboxes/:id/threads/:threadId/labels',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Add labels (1 to 10 ids) to every email of a thread', params: ThreadParams, body: LabelsBody } },
    async (request) => addThreadLabels(core, await inboxOf(core, request), (request.params as any).threadId, request.body),
  );

  app.put(
    '/v1/inboxes/:id/threads/:threadId/labels',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: "Replace a thread's labels", params: ThreadParams, body: LabelsBody } },
    async (request) => setThreadLabels(core, await inboxOf(core, request), (request.params as any).threadId, request.body),
  );

  app.delete(
    '/v1/inboxes/:id/threads/:threadId/labels/:labelId',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Remove one label from a thread', params: LabelParams } },
    async (request) => {
      const { threadId, labelId } = request.params as any;
      return removeThreadLabel(core, await inboxOf(core, request), threadId, labelId);
    },
  );
}
