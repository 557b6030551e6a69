// /v1/spam/* — the spam filter's per-workspace and per-inbox allow and block lists, and the
// workspace's filter settings (refusing executable attachments). For the web app and scripts;
// Resend has no word for these. Every query is scoped to the caller's workspace.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core/core.ts';
import { describeLimits, setLimits } from '../../abuse/sending.ts';
import { addEntry, listEntries, removeEntry } from '../../spam/lists.ts';
import { principal } from '../auth.ts';

const tags = ['Spam'];
const Entry = Type.Object(
  {
    list: Type.String({ maxLength: 10, description: 'allow or block' }),
    pattern: Type.String({ minLength: 1, maxLength: 320, description: 'an address (bob@example.com) or a domain (example.com)' }),
    action: Type.Optional(Type.String({ maxLength: 10, description: 'for block: junk (default) or reject' })),
    inbox_id: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export function spamRoutes(app: FastifyInstance, core: Core) {
  app.get(
    '/v1/spam/lists',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: 'List allow and block entries of the workspace, or of one inbox', querystring: Type.Object({ inbox_id: Type.Optional(Type.String({ maxLength: 64 })) }) } },
    async (request) => listEntries(core, principal(request).workspaceId, (request.query as any).inbox_id ?? null),
  );
  app.post(
    '/v1/spam/lists',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Add (or change) an allow or block entry', body: Entry } },
    async (request, reply) => {
      const b = request.body as any;
      reply.code(201);
      return addEntry(core, principal(request).workspaceId, { mailboxId: b.inbox_id ?? null, kind: b.list, pattern: b.pattern, action: b.action });
    },
  );
  app.delete(
    '/v1/spam/lists/:id',
    { config: { permission: 'inboxes:manage' }, schema: { tags, summary: 'Remove an allow or block entry', params: Type.Object({ id: Type.String({ maxLength: 64 }) }) } },
    async (request) => removeEntry(core, principal(request).workspaceId, (request.params as any).id),
  );
  app.get(
    '/v1/spam/settings',
    { config: { permission: 'inboxes:read' }, schema: { tags, summary: "The workspace's filter settings and sending limits" } },
    async (request) => describeLimits(core, principal(request).workspaceId),
  );
  app.patch(
    '/v1/spam/settings',
    { config: { permission: 'workspace:update' }, schema: { tags, summary: 'Refuse (or accept) executable attachments', body: Type.Object({ refuse_executables: Type.Boolean() }, { additionalProperties: false }) } },
    async (request) => {
      const p = principal(request);
      return setLimits(core, p.actor, p.workspaceId, { refuseExecutables: (request.body as any).refuse_executables });
    },
  );
}
