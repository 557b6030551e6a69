// Signing in: by password or by a magic link, both ending in a new cookie session. Every attempt,
// good or bad, is audited (in each workspace the user belongs to) and counted by the throttle.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import { attemptFailed, attemptSucceeded, beginAttempt } from './login-throttle.ts';
import { verifyPassword } from './passwords.ts';
import { createSession } from './sessions.ts';
import { findUserByEmail, type User } from './users.ts';
import { userWorkspaces } from './workspaces.ts';
import { metricsOf } from '../metrics/metrics.ts';

export interface Client {
  ip: string | null;
  userAgent: string | null;
}

const badCredentials = () => new CoreError(401, 'invalid_credentials', 'Email or password is incorrect');

export async function passwordLogin(core: Core, client: Client, rawEmail: string, password: string) {
  const email = rawEmail.trim().toLowerCase();
  try {
    // Counted before the (slow) check, so attempts sent all at once cannot outrun the limit.
    await beginAttempt(core, email, client.ip);
  } catch (err) {
    // An attempt refused by the lockout is still a failed login, and is audited like one.
    if (err instanceof CoreError && err.status === 429) {
      await auditLogin(core, client, (await findUserByEmail(core.db, email)) ?? null, email, 'login.failed', { method: 'password', reason: 'locked' });
    }
    throw err;
  }
  const user = await findUserByEmail(core.db, email);
  const ok = await verifyPassword(user?.password_hash ?? null, password);
  if (!user || !ok || user.disabled_at !== null) {
    await attemptFailed(core, email, client.ip);
    metricsOf(core).authFailed('http');
    await auditLogin(core, client, user ?? null, email, 'login.failed', { method: 'password' });
    throw badCredentials();
  }
  await attemptSucceeded(core, email, client.ip);
  return startSession(core, client, user, 'password');
}

/** After a user is proven (password or link): open a session in their first workspace and audit it. */
export async function startSession(core: Core, client: Client, user: User, method: string) {
  const workspaces = await userWorkspaces(core.db, user.id);
  const { token, session } = await createSession(core, user.id, workspaces[0]?.id ?? null, client.ip, client.userAgent);
  await auditLogin(core, client, user, user.email, 'login.succeeded', { method, session_id: session.id });
  return { token, session, user, workspaces };
}

export async function auditLogin(core: Core, client: Client, user: User | null, email: string, action: string, data: Record<string, unknown>) {
  const actor: Actor = { type: 'user', id: user?.id ?? null, label: email.slice(0, 254), ip: client.ip, userAgent: client.userAgent };
  const workspaces = user ? await userWorkspaces(core.db, user.id) : [];
  if (workspaces.length === 0) {
    await audit(core, actor, { workspaceId: null, action, targetType: 'user', targetId: user?.id ?? null, data });
    return;
  }
  for (const ws of workspaces) {
    await audit(core, actor, { workspaceId: ws.id, action, targetType: 'user', targetId: user!.id, data });
  }
}
