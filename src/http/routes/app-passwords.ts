// /v1/inboxes/{id}/app-passwords — passwords a mail client (IMAP, POP3, submission) logs in with,
// the inbox address as user name; and /v1/workspace/mail-clients, the workspace's mail-client
// login policy. Resend has no word for these; they follow its style.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { createAppPassword, listAppPasswords, mailboxAccountPasswordsAllowed, revokeAppPassword, setMailboxAccountPasswords } from '../../accounts/app-passwords.ts';
import type { Core } from '../../core/core.ts';
import { principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const InboxParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 320, description: 'The inbox id or its address' }) });
const PasswordParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 320 }), pid: Type.String({ minLength: 1, maxLength: 100 }) });

const AppPasswordSchema = Type.Object({
  object: Type.Literal('app_password'),
  id: Type.String(),
  inbox_id: Type.String(),
  name: Type.String(),
  created_at: Type.String(),
  last_used_at: Type.Union([Type.String(), Type.Null()]),
});

export function appPasswordRoutes(app: FastifyInstance, core: Core) {
  app.post(
    '/v1/inboxes/:id/app-passwords',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags: ['Inboxes'],
        summary: 'Create an app password for mail clients (shown only in this response); the user name is the inbox address',
        params: InboxParams,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 50 }) }, { additionalProperties: false }),
        response: {
          201: Type.Object({ object: Type.Literal('app_password'), id: Type.String(), inbox_id: Type.String(), name: Type.String(), password: Type.String(), created_at: Type.String() }),
        },
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createAppPassword(core, p.actor, p.workspaceId, (request.params as any).id, request.body as any);
    },
  );

  app.get(
    '/v1/inboxes/:id/app-passwords',
    {
      config: { permission: 'inboxes:read' },
      schema: {
        tags: ['Inboxes'],
        summary: "List an inbox's app passwords (never the passwords themselves)",
        params: InboxParams,
        querystring: PageQuery,
        response: { 200: Type.Object({ object: Type.Literal('list'), has_more: Type.Boolean(), data: Type.Array(AppPasswordSchema) }) },
      },
    },
    async (request) => listAppPasswords(core, principal(request).workspaceId, (request.params as any).id, pageOf(request.query as any)),
  );

  app.delete(
    '/v1/inboxes/:id/app-passwords/:pid',
    {
      config: { permission: 'inboxes:manage' },
      schema: {
        tags: ['Inboxes'],
        summary: 'Revoke an app password',
        params: PasswordParams,
        response: { 200: Type.Object({ object: Type.Literal('app_password'), id: Type.String(), deleted: Type.Boolean() }) },
      },
    },
    async (request) => {
      const p = principal(request);
      const params = request.params as { id: string; pid: string };
      return revokeAppPassword(core, p.actor, p.workspaceId, params.id, params.pid);
    },
  );

  const PolicySchema = Type.Object({ object: Type.Literal('mail_client_policy'), mailbox_account_passwords: Type.Boolean() });

  app.get(
    '/v1/workspace/mail-clients',
    {
      config: { permission: 'workspace:read' },
      schema: { tags: ['Workspace'], summary: 'How mail clients may log in to this workspace\'s inboxes', response: { 200: PolicySchema } },
    },
    async (request) => {
      const ws = await core.db.selectFrom('workspaces').select('settings').where('id', '=', principal(request).workspaceId).executeTakeFirstOrThrow();
      return { object: 'mail_client_policy' as const, mailbox_account_passwords: mailboxAccountPasswordsAllowed(ws.settings) };
    },
  );

  app.patch(
    '/v1/workspace/mail-clients',
    {
      config: { permission: 'workspace:update' },
      schema: {
        tags: ['Workspace'],
        summary: "Let an inbox's owner (owner_user_id) log in from mail clients with their account password, besides app passwords (default false)",
        body: Type.Object({ mailbox_account_passwords: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: PolicySchema },
      },
    },
    async (request) => {
      const p = principal(request);
      const allowed = await setMailboxAccountPasswords(core, p.actor, p.workspaceId, (request.body as any).mailbox_account_passwords);
      return { object: 'mail_client_policy' as const, mailbox_account_passwords: allowed };
    },
  );
}
