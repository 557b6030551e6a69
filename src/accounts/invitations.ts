// Invitations: how a person becomes a member of a workspace (issue 9: POST /v1/members used to add
// an existing account at once, without consent, and answered with its user id).
//
// Implementation notes:
// - Inviting never reveals whether an address has an account: the answer (201, an `invitation`
//   object with no user id), the audit record and the mail are the same either way.
// - Nobody becomes a member until the invitee accepts with the mailed token: an existing account
//   must be signed in as the invited address (its consent, given with its own credentials); an
//   address with no account gets one when it accepts, holding the token proving it reads that
//   mail, exactly as a magic link does.
// - A token works once, for INVITATION_TTL_MS, and not after the invitation is revoked or a newer
//   one to the same address replaced it. Only its SHA-256 is stored.
// - Every change takes the workspace lock of members.ts, so an invitation and a role change or a
//   removal cannot interleave.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, notFound } from '../core/core.ts';
import { isUuid, newId, randomToken, sha256 } from '../core/ids.ts';
import type { InvitationsTable } from '../db/schema.ts';
import { queueSystemMail } from '../outbound/system-mail.ts';
import type { Client } from './login.ts';
import { assertMayAssign, checkRole, lockWorkspace } from './members.ts';
import type { Grantee } from './roles.ts';
import { ensureUser, findUserByEmail, normalizeEmail } from './users.ts';

export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;

function invitationJson(r: InvitationsTable) {
  return {
    object: 'invitation' as const,
    id: r.id,
    email: r.email,
    role: r.role,
    status: r.accepted_at !== null ? 'accepted' : r.revoked_at !== null ? 'revoked' : 'pending',
    created_at: new Date(r.created_at).toISOString(),
    expires_at: new Date(r.expires_at).toISOString(),
  };
}

/** POST /v1/members: invites `email` with `role`; the same answer whether or not it has an account. */
export async function createInvitation(core: Core, actor: Actor, actorRole: Grantee, workspaceId: string, input: { email: string; role: unknown }) {
  const role = checkRole(input.role);
  assertMayAssign(actorRole, role);
  const email = normalizeEmail(input.email);
  const token = randomToken(43);
  const row = await core.store.transaction(async (tx) => {
    assertMayAssign(await lockWorkspace(tx, actor, actorRole, workspaceId), role);
    // Members are listed to whoever may invite, so saying one already is reveals nothing new.
    const member = await tx
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select('users.id')
      .where('memberships.workspace_id', '=', workspaceId)
      .where('users.email', '=', email)
      .executeTakeFirst();
    if (member) throw new CoreError(409, 'validation_error', `${email} is already a member of this workspace`);
    const now = core.clock.now();
    // A newer invitation to the same address replaces a pending one.
    await tx.updateTable('invitations').set({ revoked_at: now }).where('workspace_id', '=', workspaceId).where('email', '=', email).where('accepted_at', 'is', null).where('revoked_at', 'is', null).execute();
    const r: InvitationsTable = {
      id: newId(now), workspace_id: workspaceId, email, role, token_hash: sha256(token), invited_by: actor.type === 'user' ? actor.id : null,
      created_at: now, expires_at: now + INVITATION_TTL_MS, accepted_at: null, accepted_by: null, revoked_at: null,
    };
    await tx.insertInto('invitations').values(r).execute();
    await audit(core, actor, { workspaceId, action: 'member.invited', targetType: 'invitation', targetId: r.id, data: { email, role } }, tx);
    const ws = await tx.selectFrom('workspaces').select('name').where('id', '=', workspaceId).executeTakeFirstOrThrow();
    const link = `${core.settings.publicUrl}/invitations/accept?token=${encodeURIComponent(token)}`;
    await queueSystemMail(
      core,
      {
        to: email,
        subject: `You are invited to the workspace ${ws.name} on Mailstack`,
        text: `You have been invited to join the workspace "${ws.name}" on Mailstack as ${role}.\n\nTo accept, open this link (sign in first if you already have an account with this address). It works once, within 7 days:\n\n${link}\n\nIf you do not want to join, ignore this message: nothing happens until you accept.\n`,
      },
      tx,
    );
    return r;
  });
  return invitationJson(row);
}

export async function listInvitations(core: Core, workspaceId: string) {
  const now = core.clock.now();
  const rows = await core.db
    .selectFrom('invitations')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return { object: 'list' as const, has_more: false, data: rows.map(invitationJson) };
}

export async function revokeInvitation(core: Core, actor: Actor, actorRole: Grantee, workspaceId: string, id: string) {
  if (!isUuid(id)) throw notFound('Invitation');
  return core.store.transaction(async (tx) => {
    await lockWorkspace(tx, actor, actorRole, workspaceId);
    const r = await tx.selectFrom('invitations').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!r || r.accepted_at !== null || r.revoked_at !== null) throw notFound('Invitation');
    await tx.updateTable('invitations').set({ revoked_at: core.clock.now() }).where('id', '=', id).execute();
    await audit(core, actor, { workspaceId, action: 'member.invitation_revoked', targetType: 'invitation', targetId: id, data: { email: r.email, role: r.role } }, tx);
    return { object: 'invitation' as const, id, deleted: true };
  });
}

const unusable = () => new CoreError(404, 'not_found', 'This invitation is invalid, already used, revoked or expired. Ask the workspace for a new one.');

/**
 * Spends an invitation token. `signedInUserId` is the caller's session user, if any. Returns the
 * workspace joined and, when the invitee had no account and one was made, that new user (the door
 * then opens a session for it).
 */
export async function acceptInvitation(core: Core, client: Client, token: string, signedInUserId: string | null) {
  const now = core.clock.now();
  const found = await core.db.selectFrom('invitations').selectAll().where('token_hash', '=', sha256(token)).executeTakeFirst();
  if (!found || found.accepted_at !== null || found.revoked_at !== null || found.expires_at <= now) throw unusable();
  const existing = await findUserByEmail(core.db, found.email);
  if (signedInUserId) {
    if (!existing || existing.id !== signedInUserId) throw new CoreError(403, 'invalid_access', `This invitation is for ${found.email}: sign in with that address to accept it.`);
  } else if (existing) {
    throw new CoreError(401, 'missing_api_key', `Sign in as ${found.email} first, then open the invitation link again.`);
  }
  return core.store.transaction(async (tx) => {
    // Spent exactly once, whoever races: the conditional update is the claim.
    const spent = await tx.updateTable('invitations').set({ accepted_at: now }).where('id', '=', found.id).where('accepted_at', 'is', null).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) throw unusable();
    const { user, created } = await ensureUser(core, tx, found.email);
    await tx.updateTable('invitations').set({ accepted_by: user.id }).where('id', '=', found.id).execute();
    const member = await tx.selectFrom('memberships').select('role').where('workspace_id', '=', found.workspace_id).where('user_id', '=', user.id).executeTakeFirst();
    if (!member) await tx.insertInto('memberships').values({ workspace_id: found.workspace_id, user_id: user.id, role: found.role, created_at: now }).execute();
    const actor: Actor = { type: 'user', id: user.id, label: user.email, ip: client.ip, userAgent: client.userAgent };
    await audit(core, actor, { workspaceId: found.workspace_id, action: 'member.joined', targetType: 'user', targetId: user.id, data: { email: user.email, role: found.role, invitation_id: found.id } }, tx);
    return { workspaceId: found.workspace_id, role: found.role, user, created };
  });
}
