// /v1/webmail — what the browser app's webmail reads and writes: the mailboxes a person may open,
// folders with counts, folder pages, messages, flags, moves, search, sending, and a live stream of
// the mail store's changes (Server-Sent Events). Core services are in src/webmail/webmail.ts.
//
// Implementation notes:
// - The live stream (GET /v1/webmail/events) subscribes to the change bus (mailstore/changes.ts)
//   of each mailbox the caller may open, after checking access, and writes one `change` event per
//   change; it never reads the store itself (the app re-reads what it shows). Changes are
//   published after commit, so a re-read always finds them. A comment line every 20 s keeps
//   proxies from closing the stream; a closed socket unsubscribes everything.
// - Sends need `emails:send` besides the mailbox being open to the caller.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { type MailChange, subscribe } from '../../mailstore/changes.ts';
import {
  type Viewer,
  addFolder,
  attachmentContent,
  changeFolder,
  destroyMessage,
  folderMessages,
  foldersWithCounts,
  messageRaw,
  moveMessage,
  openMailbox,
  readMessage,
  removeFolder,
  searchMessages,
  sendMessage,
  setFlags,
  visibleMailboxes,
} from '../../webmail/webmail.ts';
import { principal } from '../auth.ts';
import { caller } from './inbox-threads.ts';
import { requireSend } from './inboxes.ts';

const tags = ['Webmail'];
// Response shapes: documented in /v1/openapi.json (the web app's client is generated from them).
const O = (props: Record<string, any>) => Type.Object(props, { additionalProperties: true });
const NS = Type.Union([Type.String(), Type.Null()]);
const List = (item: any) => O({ object: Type.Literal('list'), has_more: Type.Boolean(), data: Type.Array(item) });
const MailboxItem = O({ id: Type.String(), email_address: Type.String(), name: NS, from_name: NS, owner_user_id: NS, owned: Type.Boolean() });
const FolderItem = O({ id: Type.String(), name: Type.String(), special_use: NS, total: Type.Integer(), unread: Type.Integer() });
const listFields = {
  id: Type.String(), folder_id: Type.String(), uid: Type.Integer(), thread_id: Type.String(), subject: Type.String(), from: Type.String(), from_address: NS,
  to: Type.Array(Type.String()), snippet: Type.String(), date: Type.String({ format: 'date-time' }), size: Type.Integer(),
  seen: Type.Boolean(), flagged: Type.Boolean(), answered: Type.Boolean(), has_attachments: Type.Boolean(),
};
const MessageItem = O(listFields);
const MessageFull = O({
  object: Type.Literal('message'), ...listFields, cc: Type.Array(Type.String()), reply_to: Type.Array(Type.String()), message_id: NS, text: NS, html_sanitized: NS,
  remote_images: Type.Integer(), remote_images_blocked: Type.Integer(), headers: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]), auth: Type.Unknown(),
  attachments: Type.Array(O({ id: Type.String(), filename: NS, content_type: Type.String(), size: Type.Integer(), content_id: NS, disposition: NS })),
});
const FolderRef = O({ object: Type.Literal('folder'), id: Type.String(), name: Type.Optional(Type.String()), deleted: Type.Optional(Type.Boolean()) });
const FlagsAnswer = O({ object: Type.Literal('message'), id: Type.String(), seen: Type.Optional(Type.Boolean()), flagged: Type.Optional(Type.Boolean()) });
const MoveAnswer = O({ object: Type.Literal('message'), id: Type.String(), folder_id: Type.String(), from_folder_id: Type.String() });
const DeletedAnswer = O({ object: Type.Literal('message'), id: Type.String(), deleted: Type.Boolean() });
const SentAnswer = O({ object: Type.Literal('email'), id: Type.String() });
const Text = (type: string) => ({ description: 'The content', content: { [type]: { schema: Type.String() } } });

const Id = Type.String({ maxLength: 100 });
const MailboxParams = Type.Object({ id: Id });
const FolderParams = Type.Object({ id: Id, folderId: Id });
const MessageParams = Type.Object({ id: Id, messageId: Id });
const AttachmentParams = Type.Object({ id: Id, messageId: Id, attachmentId: Id });

function viewer(request: FastifyRequest): Viewer {
  const p = principal(request);
  return { workspaceId: p.workspaceId, userId: p.userId, grantee: p.grantee };
}

async function mailboxOf(core: Core, request: FastifyRequest) {
  return (await openMailbox(core.db, viewer(request), (request.params as { id: string }).id)).mailbox;
}

export function webmailRoutes(app: FastifyInstance, core: Core) {
  const read = { config: { permission: 'inboxes:read' as const } };
  const write = { config: { permission: 'inboxes:read' as const } };
  // Sending from a mailbox is sending: a viewer, who may read, may not (the route also checks the mailbox is theirs to open).
  const send = { config: { permission: 'inboxes:send' as const } };

  app.get('/v1/webmail/mailboxes', { ...read, schema: { tags, summary: 'The mailboxes you may open: your own first, then (owners, admins) the workspace\'s others', operationId: 'listWebmailMailboxes', response: { 200: List(MailboxItem) } } }, async (request) => visibleMailboxes(core, viewer(request)));

  app.get('/v1/webmail/mailboxes/:id/folders', { ...read, schema: { tags, summary: 'Folders with total and unread counts', params: MailboxParams, operationId: 'listWebmailFolders', response: { 200: List(FolderItem) } } }, async (request) =>
    foldersWithCounts(core, await mailboxOf(core, request)),
  );

  app.post('/v1/webmail/mailboxes/:id/folders', { ...write, schema: { tags, summary: 'Create a user folder', operationId: 'createWebmailFolder', response: { 201: FolderRef }, params: MailboxParams, body: Type.Object({ name: Type.String({ maxLength: 1000 }) }) } }, async (request, reply) =>
    reply.code(201).send(await addFolder(core, await mailboxOf(core, request), request.body)),
  );

  app.patch('/v1/webmail/mailboxes/:id/folders/:folderId', { ...write, schema: { tags, summary: 'Rename a user folder', operationId: 'renameWebmailFolder', response: { 200: FolderRef }, params: FolderParams, body: Type.Object({ name: Type.String({ maxLength: 1000 }) }) } }, async (request) =>
    changeFolder(core, await mailboxOf(core, request), (request.params as any).folderId, request.body),
  );

  app.delete('/v1/webmail/mailboxes/:id/folders/:folderId', { ...write, schema: { tags, summary: 'Delete a user folder and its messages', params: FolderParams, operationId: 'deleteWebmailFolder', response: { 200: FolderRef } } }, async (request) =>
    removeFolder(core, await mailboxOf(core, request), (request.params as any).folderId),
  );

  app.get(
    '/v1/webmail/mailboxes/:id/folders/:folderId/messages',
    {
      ...read,
      schema: {
        tags,
        summary: "A page of a folder's messages, newest first (keyset by UID)",
        operationId: 'listWebmailMessages',
        response: { 200: List(MessageItem) },
        params: FolderParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer()), before_uid: Type.Optional(Type.Integer()) }),
      },
    },
    async (request) => folderMessages(core, await mailboxOf(core, request), (request.params as any).folderId, request.query as any),
  );

  app.get(
    '/v1/webmail/mailboxes/:id/search',
    {
      ...read,
      schema: { tags, summary: 'Search: words, from:, to:, subject:, has:attachment, is:unread, before:, after:', operationId: 'searchWebmail', response: { 200: List(MessageItem) }, params: MailboxParams, querystring: Type.Object({ q: Type.String({ maxLength: 500 }), folder_id: Type.Optional(Id), limit: Type.Optional(Type.Integer()) }) },
    },
    async (request) => searchMessages(core, await mailboxOf(core, request), request.query as any),
  );

  app.get(
    '/v1/webmail/mailboxes/:id/messages/:messageId',
    { ...read, schema: { tags, summary: 'One message to read (sanitized HTML; remote images only with images=true)', operationId: 'getWebmailMessage', response: { 200: MessageFull }, params: MessageParams, querystring: Type.Object({ images: Type.Optional(Type.Boolean()) }) } },
    async (request) => readMessage(core, await mailboxOf(core, request), (request.params as any).messageId, { images: (request.query as any).images === true }),
  );

  app.get('/v1/webmail/mailboxes/:id/messages/:messageId/raw', { ...read, schema: { tags, summary: 'The raw message (view source)', params: MessageParams, operationId: 'getWebmailMessageRaw', response: { 200: Text('text/plain') } } }, async (request, reply) => {
    const raw = await messageRaw(core, await mailboxOf(core, request), (request.params as any).messageId);
    return reply.type('text/plain; charset=utf-8').header('content-disposition', 'inline').send(raw);
  });

  app.get('/v1/webmail/mailboxes/:id/messages/:messageId/attachments/:attachmentId', { ...read, schema: { tags, summary: 'Download an attachment', params: AttachmentParams, operationId: 'getWebmailAttachment', response: { 200: { description: 'The content', content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } } } } } }, async (request, reply) => {
    const { messageId, attachmentId } = request.params as any;
    const a = await attachmentContent(core, await mailboxOf(core, request), messageId, attachmentId);
    // Always a download, never rendered on our origin (an HTML or SVG attachment would run here).
    const ascii = a.filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
    return reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(a.filename)}`)
      .header('x-content-type-options', 'nosniff')
      .send(a.content);
  });

  app.patch(
    '/v1/webmail/mailboxes/:id/messages/:messageId',
    { ...write, schema: { tags, summary: 'Mark read/unread, flag/unflag', operationId: 'updateWebmailMessage', response: { 200: FlagsAnswer }, params: MessageParams, body: Type.Object({ seen: Type.Optional(Type.Boolean()), flagged: Type.Optional(Type.Boolean()) }) } },
    async (request) => setFlags(core, await mailboxOf(core, request), (request.params as any).messageId, request.body),
  );

  app.post(
    '/v1/webmail/mailboxes/:id/messages/:messageId/move',
    { ...write, schema: { tags, summary: 'Move to a folder (by id, or special_use inbox/archive/junk/trash); answers the folder it came from, for undo', operationId: 'moveWebmailMessage', response: { 200: MoveAnswer }, params: MessageParams, body: Type.Object({ folder_id: Type.Optional(Id), special_use: Type.Optional(Type.String({ maxLength: 20 })) }) } },
    async (request) => moveMessage(core, await mailboxOf(core, request), (request.params as any).messageId, request.body),
  );

  app.delete('/v1/webmail/mailboxes/:id/messages/:messageId', { ...write, schema: { tags, summary: 'Delete a message for good', params: MessageParams, operationId: 'deleteWebmailMessage', response: { 200: DeletedAnswer } } }, async (request) =>
    destroyMessage(core, await mailboxOf(core, request), (request.params as any).messageId),
  );

  const Recipients = Type.Union([Type.String({ maxLength: 5000 }), Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 50 })]);
  app.post(
    '/v1/webmail/mailboxes/:id/send',
    {
      ...send,
      schema: {
        tags,
        summary: 'Send (new, reply or forward) through the submission path; the copy goes to Sent', operationId: 'sendWebmail', response: { 200: SentAnswer },
        params: MailboxParams,
        body: Type.Object(
          {
            to: Type.Optional(Recipients),
            cc: Type.Optional(Recipients),
            bcc: Type.Optional(Recipients),
            subject: Type.Optional(Type.String({ maxLength: 2000 })),
            text: Type.Optional(Type.String({ maxLength: 5_000_000 })),
            html: Type.Optional(Type.String({ maxLength: 5_000_000 })),
            attachments: Type.Optional(Type.Array(Type.Object({ filename: Type.String({ maxLength: 500 }), content: Type.String() }), { maxItems: 10 })),
            reply_to_message_id: Type.Optional(Id),
            forward_of_message_id: Type.Optional(Id),
            draft_id: Type.Optional(Id),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      requireSend(request);
      return sendMessage(core, caller(request), await mailboxOf(core, request), request.body);
    },
  );

  // Open streams end when the node stops, or closing would wait for them forever.
  const streams = new Set<import('node:http').ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get(
    '/v1/webmail/events',
    { ...read, schema: { tags, summary: 'Server-Sent Events: `change` events of the mailboxes you may open (new, flags, expunge, folder)', operationId: 'webmailEvents', response: { 200: Text('text/event-stream') }, querystring: Type.Object({ mailbox_id: Type.Optional(Id) }) } },
    async (request, reply) => {
      const v = viewer(request);
      const wanted = (request.query as { mailbox_id?: string }).mailbox_id;
      const ids = wanted ? [(await openMailbox(core.db, v, wanted)).mailbox.id] : (await visibleMailboxes(core, v)).data.map((m) => m.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'keep-alive' });
      res.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ mailboxes: ids })}\n\n`);
      const send = (c: MailChange) => {
        res.write(`event: change\ndata: ${JSON.stringify({ type: c.type, mailbox_id: c.mailboxId, folder_id: c.folderId, ...('messageId' in c ? { message_id: c.messageId } : {}) })}\n\n`);
      };
      const offs = ids.map((id) => subscribe(id, send));
      streams.add(res);
      const beat = setInterval(() => res.write(': keep-alive\n\n'), 20_000);
      const close = () => {
        clearInterval(beat);
        streams.delete(res);
        for (const off of offs) off();
      };
      request.raw.once('close', close);
      res.once('close', close);
    },
  );
}
