// /v1/workspace, /v1/members and /v1/audit-log — what Resend has no word for, in its style.
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { changeRole, listMembers, removeMember } from '../../accounts/members.ts';
import { createInvitation, listInvitations, revokeInvitation } from '../../accounts/invitations.ts';
import { ROLES } from '../../accounts/roles.ts';
import { getWorkspace, renameWorkspace, workspaceJson } from '../../accounts/workspaces.ts';
import { listAudit } from '../../audit/audit-log.ts';
import type { Core } from '../../core/core.ts';
import { principal } from '../auth.ts';
import { retentionDaysOf, setRetentionDays } from '../../outbound/retention.ts';
import { PageQuery, pageOf } from '../pagination.ts';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
const UserParams = Type.Object({ user_id: Type.String({ maxLength: 100 }) });

export function workspaceRoutes(app: FastifyInstance, core: Core) {
  app.get('/v1/workspace', { config: { permission: 'workspace:read' }, schema: { tags: ['Workspace'], summary: 'The workspace of the calling key or session' } }, async (request) => {
    const p = principal(request);
    const ws = await getWorkspace(core.db, p.workspaceId);
    return { ...workspaceJson(ws, p.grantee), retention_days: retentionDaysOf(core, ws.settings) };
  });

  app.patch(
    '/v1/workspace',
    {
      config: { permission: 'workspace:update' },
      schema: {
        tags: ['Workspace'],
        summary: 'Rename the workspace and/or set its retention period (days message bodies and the request log are kept; null for the default)',
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            // One schema with two types, not a union: Ajv's type coercion would turn 0 into null.
            retention_days: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 3650 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (request) => {
      const p = principal(request);
      const body = request.body as { name?: string; retention_days?: number | null };
      if (body.retention_days !== undefined) await setRetentionDays(core, p.actor, p.workspaceId, body.retention_days);
      const ws = body.name !== undefined ? await renameWorkspace(core, p.actor, p.workspaceId, body.name) : await getWorkspace(core.db, p.workspaceId);
      return { ...workspaceJson(ws), retention_days: retentionDaysOf(core, ws.settings) };
    },
  );

  app.get('/v1/members', { config: { permission: 'members:read' }, schema: { tags: ['Members'], summary: 'List members' } }, async (request) => ({
    object: 'list',
    has_more: false,
    data: await listMembers(core.db, principal(request).workspaceId),
  }));

  app.post(
    '/v1/members',
    {
      config: { permission: 'members:manage' },
      schema: {
        tags: ['Members'],
        summary: 'Invite a person: mails an invitation they accept while signed in (the same answer whether or not the address has an account)',
        body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }), role: RoleSchema }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principal(request);
      reply.code(201);
      return createInvitation(core, p.actor, p.grantee, p.workspaceId, request.body as any);
    },
  );

  app.get(
    '/v1/invitations',
    { config: { permission: 'members:read' }, schema: { tags: ['Members'], summary: 'Pending invitations of the workspace' } },
    async (request) => listInvitations(core, principal(request).workspaceId),
  );

  app.delete(
    '/v1/invitations/:id',
    { config: { permission: 'members:manage' }, schema: { tags: ['Members'], summary: 'Revoke a pending invitation', params: Type.Object({ id: Type.String({ maxLength: 100 }) }) } },
    async (request) => {
      const p = principal(request);
      return revokeInvitation(core, p.actor, p.grantee, p.workspaceId, (request.params as any).id);
    },
  );

  app.patch(
    '/v1/members/:user_id',
    {
      config: { permission: 'members:manage' },
      schema: { tags: ['Members'], summary: "Change a member's role", params: UserParams, body: Type.Object({ role: RoleSchema }, { additionalProperties: false }) },
    },
    async (request) => {
      const p = principal(request);
      return changeRole(core, p.actor, p.grantee, p.workspaceId, (request.params as any).user_id, (request.body as any).role);
    },
  );

  app.delete(
    '/v1/members/:user_id',
    { config: { permission: 'members:manage' }, schema: { tags: ['Members'], summary: 'Remove a member', params: UserParams } },
    async (request) => {
      const p = principal(request);
      return removeMember(core, p.actor, p.grantee, p.workspaceId, (request.params as any).user_id);
    },
  );

  app.get(
    '/v1/audit-log',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['Audit log'],
        summary: 'The audit log, newest first',
        querystring: Type.Intersect([PageQuery, Type.Object({ action: Type.Optional(Type.String({ maxLength: 100 })) })]),
      },
    },
    async (request) => {
      const q = request.query as any;
      const page = await listAudit(core, principal(request).workspaceId, { ...pageOf(q), action: q.action });
      return { object: 'list', ...page };
    },
  );
}
