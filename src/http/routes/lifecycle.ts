// Privacy and the data lifecycle over HTTP: the retention windows in force, closing a workspace or
// one's account (and reopening within the grace window), who read the caller's inboxes, and
// Resend's usage.get. Core services: src/privacy/.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { closeUser, closeWorkspace, reopenWorkspace } from '../../privacy/closing.ts';
import { contentReadsOfOwner } from '../../privacy/content-access.ts';
import { setWorkspaceRetention, workspaceRetention } from '../../privacy/retention.ts';
import { workspaceUsage } from '../../privacy/usage.ts';
import { SESSION_COOKIE, principal } from '../auth.ts';
import { PageQuery, pageOf } from '../pagination.ts';

export function lifecycleRoutes(app: FastifyInstance, core: Core) {
  const tags = ['Privacy'];

  app.get('/v1/workspace/retention', { config: { permission: 'workspace:read' }, schema: { tags, summary: 'The retention windows in force for this workspace, kind by kind' } }, async (request) =>
    workspaceRetention(core, principal(request).workspaceId),
  );

  app.patch(
    '/v1/workspace/retention',
    {
      config: { permission: 'workspace:update' },
      schema: {
        tags,
        summary: "Shorten (never lengthen) this workspace's windows: { kind: days | null }",
        body: Type.Record(Type.String({ maxLength: 50 }), Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, maximum: 36500 }), { maxProperties: 20 }),
      },
    },
    async (request) => {
      const p = principal(request);
      return setWorkspaceRetention(core, p.actor, p.workspaceId, (request.body ?? {}) as Record<string, unknown>);
    },
  );

  app.delete('/v1/workspace', { config: { permission: 'workspace:close' }, schema: { tags, summary: 'Close the workspace: access ends now; its data is deleted after MAILSTACK_CLOSED_ACCOUNT_DAYS unless reopened' } }, async (request) => {
    const p = principal(request);
    return closeWorkspace(core, p.actor, p.workspaceId);
  });

  app.post(
    '/v1/auth/workspaces/:id/reopen',
    { config: { auth: 'user' }, schema: { tags, summary: 'Reopen a closed workspace you own, before its data is deleted', params: Type.Object({ id: Type.String({ maxLength: 100 }) }) } },
    async (request) => {
      const s = request.session!;
      const user = await core.db.selectFrom('users').select('email').where('id', '=', s.user_id).executeTakeFirstOrThrow();
      return reopenWorkspace(core, { type: 'user', id: s.user_id, label: user.email, ip: request.ip ?? null, userAgent: (request.headers['user-agent'] as string) ?? null }, (request.params as any).id, s.user_id);
    },
  );

  app.delete('/v1/auth/account', { config: { auth: 'user' }, schema: { tags, summary: 'Close your own account (and the workspaces of which you are the only owner)' } }, async (request, reply) => {
    const s = request.session!;
    const user = await core.db.selectFrom('users').select('email').where('id', '=', s.user_id).executeTakeFirstOrThrow();
    const out = await closeUser(core, { type: 'user', id: s.user_id, label: user.email, ip: request.ip ?? null, userAgent: (request.headers['user-agent'] as string) ?? null }, s.user_id);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return out;
  });

  app.get(
    '/v1/content-reads',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'Who read the mail of the inboxes you own (content.read audit records), newest first', querystring: PageQuery } },
    async (request) => {
      const p = principal(request);
      if (!p.userId) return { object: 'list', has_more: false, data: [] };
      return contentReadsOfOwner(core, p.workspaceId, p.userId, pageOf(request.query as any));
    },
  );

  app.get('/v1/usage', { config: { permission: 'workspace:read' }, schema: { tags, summary: "The workspace's usage: messages sent and received this day and month, storage used (Resend's usage.get)" } }, async (request) =>
    workspaceUsage(core, principal(request).workspaceId),
  );
}
