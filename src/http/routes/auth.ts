// /v1/auth — sign-up, password and magic-link sign-in, the session, logout, the user's sessions.
import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditLogin, passwordLogin, startSession } from '../../accounts/login.ts';
import { assertNotLocked, attemptFailed, attemptSucceeded, beginAttempt, recordFailure } from '../../accounts/login-throttle.ts';
import { redeemMagicLink, sendMagicLink } from '../../accounts/magic-links.ts';
import { roleOf } from '../../accounts/members.ts';
import { verifyPassword } from '../../accounts/passwords.ts';
import { csrfToken, listSessions, revokeSession, selectWorkspace, sessionForToken } from '../../accounts/sessions.ts';
import { acceptInvitation } from '../../accounts/invitations.ts';
import { ensureUser, getUser, normalizeEmail, setPassword } from '../../accounts/users.ts';
import { createWorkspace, userWorkspaces } from '../../accounts/workspaces.ts';
import { audit } from '../../audit/audit-log.ts';
import type { Core } from '../../core/core.ts';
import { CoreError, notFound } from '../../core/core.ts';
import { SESSION_COOKIE, clientOf } from '../auth.ts';

const Email = Type.String({ minLength: 3, maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 1024 });

export function authRoutes(app: FastifyInstance, core: Core) {
  const setCookie = (request: FastifyRequest, reply: FastifyReply, token: string, expiresAt: number) =>
    reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: request.protocol === 'https',
      expires: new Date(expiresAt),
    });

  const sessionBody = async (userId: string, sessionId: string, workspaceId: string | null) => {
    const user = (await getUser(core.db, userId))!;
    return {
      object: 'session' as const,
      id: sessionId,
      user: { id: user.id, email: user.email, name: user.name, has_password: user.password_hash !== null },
      workspace_id: workspaceId,
      workspaces: (await userWorkspaces(core.db, userId)).map((w) => ({ id: w.id, name: w.name, role: w.role })),
      csrf_token: await csrfToken(core, sessionId),
    };
  };

  app.post(
    '/v1/auth/signup',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['Auth'],
        summary: 'Create a user and their first workspace, and sign in',
        body: Type.Object({ email: Email, password: Password, workspace_name: Type.String({ minLength: 1, maxLength: 100 }), name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      if (!core.settings.allowSignup) throw new CoreError(403, 'invalid_access', 'Sign-up is turned off on this server (MAILSTACK_ALLOW_SIGNUP=false)');
      const body = request.body as { email: string; password: string; workspace_name: string; name?: string };
      const email = normalizeEmail(body.email);
      const client = clientOf(request);
      // Each sign-up costs an argon2 hash and a workspace: at most MAILSTACK_LOGIN_IP_MAX_FAILURES
      // per client IP in a MAILSTACK_LOGIN_LOCKOUT window, counted apart from failed logins.
      await assertNotLocked(core, null, `signup:${client.ip}`);
      await recordFailure(core, null, `signup:${client.ip}`);
      const { userId, workspaceId } = await core.store.transaction(async (tx) => {
        const { user, created } = await ensureUser(core, tx, email, body.name ?? null);
        if (!created) throw new CoreError(409, 'validation_error', 'An account with this email already exists. Sign in instead.');
        await setPassword(core, tx, user.id, body.password);
        const actor = { type: 'user' as const, id: user.id, label: email, ...client };
        const ws = await createWorkspace(core, tx, actor, body.workspace_name, user.id);
        return { userId: user.id, workspaceId: ws.id };
      });
      const user = (await getUser(core.db, userId))!;
      const { token, session } = await startSession(core, client, user, 'signup');
      setCookie(request, reply, token, session.expires_at);
      reply.code(201);
      return sessionBody(userId, session.id, workspaceId);
    },
  );

  app.post(
    '/v1/auth/login',
    {
      config: { auth: 'none' },
      schema: { tags: ['Auth'], summary: 'Sign in with email and password', body: Type.Object({ email: Email, password: Password }, { additionalProperties: false }) },
    },
    async (request, reply) => {
      const { email, password } = request.body as { email: string; password: string };
      const { token, session } = await passwordLogin(core, clientOf(request), email, password);
      setCookie(request, reply, token, session.expires_at);
      return sessionBody(session.user_id, session.id, session.workspace_id);
    },
  );

  app.post(
    '/v1/auth/magic-link',
    {
      config: { auth: 'none' },
      schema: { tags: ['Auth'], summary: 'Mail a single-use sign-in link (valid 15 minutes)', body: Type.Object({ email: Email }, { additionalProperties: false }) },
    },
    async (request) => {
      const email = normalizeEmail((request.body as { email: string }).email);
      const { ip } = clientOf(request);
      // Counted like a failed login so nobody can flood an inbox with links.
      await assertNotLocked(core, `magic:${email}`, ip);
      await recordFailure(core, `magic:${email}`, null);
      await sendMagicLink(core, email, { ip });
      return { object: 'magic_link', sent: true, message: 'If an account exists for this address, a sign-in link is on its way.' };
    },
  );

  const redeem = async (request: FastifyRequest, reply: FastifyReply, token: string) => {
    const { token: cookie, session } = await redeemMagicLink(core, clientOf(request), token);
    setCookie(request, reply, cookie, session.expires_at);
    return session;
  };

  app.post(
    '/v1/auth/magic-link/verify',
    {
      config: { auth: 'none' },
      schema: { tags: ['Auth'], summary: 'Spend a magic-link token and sign in', body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }) },
    },
    async (request, reply) => {
      const session = await redeem(request, reply, (request.body as { token: string }).token);
      return sessionBody(session.user_id, session.id, session.workspace_id);
    },
  );

  // The link in the email: sign in, then go to the app.
  app.get(
    '/login/magic',
    { config: { auth: 'none' }, schema: { hide: true, querystring: Type.Object({ token: Type.String({ maxLength: 200 }) }) } as any },
    async (request, reply) => {
      try {
        await redeem(request, reply, (request.query as { token: string }).token);
      } catch (err) {
        if (!(err instanceof CoreError)) throw err;
        return linkFailedPage(reply, err, 'Sign-in link not valid');
      }
      return reply.redirect('/', 303);
    },
  );

  // Accepting an invitation (src/accounts/invitations.ts): as the signed-in invitee, or, for an
  // address with no account yet, by the token alone, which then signs the new account in.
  const accept = async (request: FastifyRequest, reply: FastifyReply, token: string) => {
    const cookie = request.cookies?.[SESSION_COOKIE];
    const current = cookie ? await sessionForToken(core, cookie) : null;
    const joined = await acceptInvitation(core, clientOf(request), token, current?.user_id ?? null);
    let sessionId = current?.id;
    if (!sessionId) {
      const started = await startSession(core, clientOf(request), joined.user, 'invitation');
      setCookie(request, reply, started.token, started.session.expires_at);
      sessionId = started.session.id;
    }
    await selectWorkspace(core, sessionId, joined.workspaceId);
    return sessionBody(joined.user.id, sessionId, joined.workspaceId);
  };

  app.post(
    '/v1/invitations/accept',
    {
      config: { auth: 'none' },
      schema: { tags: ['Members'], summary: 'Accept an invitation (signed in as the invitee, or creating the account when the address has none)', body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }) },
    },
    async (request, reply) => accept(request, reply, (request.body as { token: string }).token),
  );

  // The link in the invitation mail.
  app.get(
    '/invitations/accept',
    { config: { auth: 'none' }, schema: { hide: true, querystring: Type.Object({ token: Type.String({ maxLength: 200 }) }) } as any },
    async (request, reply) => {
      try {
        await accept(request, reply, (request.query as { token: string }).token);
      } catch (err) {
        if (!(err instanceof CoreError)) throw err;
        return linkFailedPage(reply, err, 'Invitation link not valid');
      }
      return reply.redirect('/', 303);
    },
  );

  app.get('/v1/auth/session', { config: { auth: 'user' }, schema: { tags: ['Auth'], summary: 'The signed-in user, their workspaces and the CSRF token' } }, async (request) => {
    const s = request.session!;
    return sessionBody(s.user_id, s.id, s.workspace_id);
  });

  app.post(
    '/v1/auth/workspace',
    {
      config: { auth: 'user' },
      schema: { tags: ['Auth'], summary: 'Choose the workspace this session acts in', body: Type.Object({ workspace_id: Type.String({ maxLength: 100 }) }, { additionalProperties: false }) },
    },
    async (request) => {
      const s = request.session!;
      const workspaceId = (request.body as { workspace_id: string }).workspace_id;
      if (!(await roleOf(core.db, workspaceId, s.user_id))) throw notFound('Workspace');
      await selectWorkspace(core, s.id, workspaceId);
      return sessionBody(s.user_id, s.id, workspaceId);
    },
  );

  app.post(
    '/v1/auth/password',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['Auth'],
        summary: 'Set or change your password',
        body: Type.Object({ current_password: Type.Optional(Password), new_password: Password }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const s = request.session!;
      const body = request.body as { current_password?: string; new_password: string };
      const user = (await getUser(core.db, s.user_id))!;
      const client = clientOf(request);
      if (user.password_hash !== null) {
        // Guessing the current password is held to the same limit as logging in.
        await beginAttempt(core, user.email, client.ip);
        if (!(await verifyPassword(user.password_hash, body.current_password ?? ''))) {
          await attemptFailed(core, user.email, client.ip);
          await auditLogin(core, client, user, user.email, 'password.change_failed', {});
          throw new CoreError(401, 'invalid_credentials', 'The current password is incorrect');
        }
        await attemptSucceeded(core, user.email, client.ip);
      }
      await setPassword(core, core.db, user.id, body.new_password);
      // A new password ends every other session: whoever knew the old one is signed out.
      await core.db
        .updateTable('sessions')
        .set({ revoked_at: core.clock.now() })
        .where('user_id', '=', user.id)
        .where('id', '!=', s.id)
        .where('revoked_at', 'is', null)
        .execute();
      await auditLogin(core, client, user, user.email, 'password.changed', {});
      return { object: 'user', id: user.id, has_password: true };
    },
  );

  app.post('/v1/auth/logout', { config: { auth: 'user' }, schema: { tags: ['Auth'], summary: 'End this session' } }, async (request, reply) => {
    const s = request.session!;
    await revokeSession(core, s.user_id, s.id);
    await audit(core, { type: 'user', id: s.user_id, label: null, ...clientOf(request) }, { workspaceId: s.workspace_id, action: 'logout', targetType: 'session', targetId: s.id });
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { object: 'session', id: s.id, deleted: true };
  });

  app.get('/v1/auth/sessions', { config: { auth: 'user' }, schema: { tags: ['Auth'], summary: "List your live sessions" } }, async (request) => ({
    object: 'list',
    has_more: false,
    data: await listSessions(core, request.session!.user_id, request.session!.id),
  }));

  app.delete(
    '/v1/auth/sessions/:id',
    { config: { auth: 'user' }, schema: { tags: ['Auth'], summary: 'Revoke one of your sessions', params: Type.Object({ id: Type.String({ maxLength: 100 }) }) } },
    async (request) => {
      const s = request.session!;
      const id = (request.params as { id: string }).id;
      await revokeSession(core, s.user_id, id);
      await audit(core, { type: 'user', id: s.user_id, label: null, ...clientOf(request) }, { workspaceId: s.workspace_id, action: 'session.revoked', targetType: 'session', targetId: id });
      return { object: 'session', id, deleted: true };
    },
  );
}

// A person followed a mailed link in a browser: answer a page that says what to do, not plain text.
function linkFailedPage(reply: FastifyReply, err: CoreError, title: string) {
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} - Mailstack</title></head><body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1>${title}</h1><p>${esc(err.message)}</p><p><a href="/">Go to the sign-in page</a></p></body></html>\n`;
  return reply.code(err.status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
}
