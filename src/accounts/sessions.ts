// Cookie sessions. The cookie holds a random token; the table holds only its SHA-256. The CSRF
// token for a session is an HMAC of its id under an instance secret, so it needs no storage and
// cannot be derived from the cookie by a page that can read neither.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Core } from '../core/core.ts';
import { notFound } from '../core/core.ts';
import { newId, randomToken, sha256 } from '../core/ids.ts';
import type { SessionsTable } from '../db/schema.ts';
import { instanceSecret } from '../secrets/instance-secrets.ts';

export type Session = SessionsTable;

export async function createSession(core: Core, userId: string, workspaceId: string | null, ip: string | null, userAgent: string | null) {
  const now = core.clock.now();
  const token = randomToken(44);
  const session: Session = {
    id: newId(now),
    token_hash: sha256(token),
    user_id: userId,
    workspace_id: workspaceId,
    ip,
    user_agent: userAgent?.slice(0, 512) ?? null,
    created_at: now,
    last_seen_at: now,
    expires_at: now + core.settings.sessionTtlMs,
    revoked_at: null,
  };
  await core.db.insertInto('sessions').values(session).execute();
  return { token, session };
}

/** The live session for a cookie token, or null. Touches last_seen_at at most once a minute. */
export async function sessionForToken(core: Core, token: string): Promise<Session | null> {
  const now = core.clock.now();
  const s = await core.db.selectFrom('sessions').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirst();
  if (!s || s.revoked_at !== null || s.expires_at <= now) return null;
  if (now - s.last_seen_at > 60_000) {
    await core.db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', s.id).execute();
  }
  return s;
}

export async function csrfToken(core: Core, sessionId: string): Promise<string> {
  return createHmac('sha256', await instanceSecret(core, 'csrf')).update(sessionId).digest('base64url');
}

export async function checkCsrf(core: Core, sessionId: string, given: string | undefined): Promise<boolean> {
  if (!given) return false;
  const want = Buffer.from(await csrfToken(core, sessionId));
  const got = Buffer.from(given);
  return want.length === got.length && timingSafeEqual(want, got);
}

export async function listSessions(core: Core, userId: string, currentId: string | null) {
  const rows = await core.db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', core.clock.now())
    .orderBy('id', 'desc')
    .execute();
  return rows.map((s) => ({
    object: 'session' as const,
    id: s.id,
    ip: s.ip,
    user_agent: s.user_agent,
    current: s.id === currentId,
    created_at: new Date(s.created_at).toISOString(),
    last_seen_at: new Date(s.last_seen_at).toISOString(),
    expires_at: new Date(s.expires_at).toISOString(),
  }));
}

/** Revokes one of the user's own sessions. */
export async function revokeSession(core: Core, userId: string, sessionId: string): Promise<void> {
  const r = await core.db
    .updateTable('sessions')
    .set({ revoked_at: core.clock.now() })
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw notFound('Session');
}

export async function selectWorkspace(core: Core, sessionId: string, workspaceId: string): Promise<void> {
  await core.db.updateTable('sessions').set({ workspace_id: workspaceId }).where('id', '=', sessionId).execute();
}
