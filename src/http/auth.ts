// Who is calling: an API key (Authorization: Bearer ms_…) or a cookie session. Each route says
// what it needs in its config: `auth: 'none'`, `'user'` (a signed-in person, any workspace) or
// `'workspace'` (the default under /v1: a key, or a session with a workspace selected), plus an optional
// `permission` from the roles table. Cookie-authenticated writes must carry X-CSRF-Token.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApiKey } from '../accounts/api-keys.ts';
import { roleOf } from '../accounts/members.ts';
import { type Grantee, type Permission, can } from '../accounts/roles.ts';
import { checkCsrf, type Session, sessionForToken } from '../accounts/sessions.ts';
import type { Actor, Core } from '../core/core.ts';
import { sendError } from './errors.ts';
import { suspensionText, workspaceSuspension } from '../privacy/gates.ts';

export const SESSION_COOKIE = 'mailstack_session';

export interface Principal {
  workspaceId: string;
  grantee: Grantee;
  actor: Actor;
  userId: string | null;
  apiKeyId: string | null;
  /** Set for a sending_access key held to one domain. */
  domainId: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    session: Session | null;
  }
  interface FastifyContextConfig {
    auth?: 'none' | 'user' | 'workspace';
    permission?: Permission;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function clientOf(request: FastifyRequest) {
  return { ip: request.ip ?? null, userAgent: (request.headers['user-agent'] as string | undefined) ?? null };
}

export function authHook(core: Core) {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    request.principal = null;
    request.session = null;
    const config = request.routeOptions.config ?? {};
    const url = request.routeOptions.url;
    // The API under /v1 needs a caller unless a route says otherwise; other paths (the reference
    // page, health, the web app's files) are public unless they ask for a caller.
    const mode = config.auth ?? (url?.startsWith('/v1/') ? 'workspace' : 'none');
    if (mode === 'none' || !url) return;
    const client = clientOf(request);

    const header = request.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const key = m ? await authenticateApiKey(core, m[1]) : null;
      if (!key) return sendError(reply, 401, 'invalid_api_key', 'API key is invalid');
      if (mode === 'user') return sendError(reply, 401, 'missing_api_key', 'This endpoint needs a signed-in user, not an API key');
      request.principal = {
        workspaceId: key.workspace_id,
        grantee: key.permission === 'full_access' ? 'admin' : 'sender',
        actor: { type: 'api_key', id: key.id, label: key.name, ...client },
        userId: null,
        apiKeyId: key.id,
        domainId: key.domain_id,
      };
    } else {
      const token = request.cookies?.[SESSION_COOKIE];
      const session = token ? await sessionForToken(core, token) : null;
      if (!session) return sendError(reply, 401, 'missing_api_key', 'Missing API key in the authorization header');
      if (!SAFE_METHODS.has(request.method) && !(await checkCsrf(core, session.id, request.headers['x-csrf-token'] as string | undefined))) {
        return sendError(reply, 403, 'invalid_access', 'Missing or wrong X-CSRF-Token header for a cookie-authenticated request');
      }
      request.session = session;
      const role = session.workspace_id ? await roleOf(core.db, session.workspace_id, session.user_id) : null;
      if (mode === 'workspace' && !role) return sendError(reply, 403, 'invalid_access', 'No workspace selected, or you are no longer a member of it');
      if (role) {
        const user = await core.db.selectFrom('users').select('email').where('id', '=', session.user_id).executeTakeFirst();
        request.principal = {
          workspaceId: session.workspace_id!,
          grantee: role,
          actor: { type: 'user', id: session.user_id, label: user?.email ?? null, ...client },
          userId: session.user_id,
          apiKeyId: null,
          domainId: null,
        };
      }
    }

    // An operator's suspension stops every call of the workspace (src/privacy/gates.ts).
    if (request.principal) {
      const suspended = await workspaceSuspension(core.db, request.principal.workspaceId);
      if (suspended) return sendError(reply, 403, 'suspended', `${suspensionText(suspended)}. API calls are refused until it is lifted.`);
    }

    const permission = config.permission;
    if (permission && request.principal && !can(request.principal.grantee, permission)) {
      if (request.principal.grantee === 'sender') return sendError(reply, 403, 'restricted_api_key', 'This API key is restricted to only send emails');
      return sendError(reply, 403, 'invalid_access', `Your role (${request.principal.grantee}) does not allow this action`);
    }
  };
}

/** The principal of a route that required one. */
export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without a principal: check its auth config');
  return request.principal;
}
