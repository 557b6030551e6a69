// Members: a user's role in a workspace. A workspace always keeps at least one owner. Someone
// becomes a member only by accepting an invitation (invitations.ts).
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { type Grantee, type Role, canAssignRole, isRole } from './roles.ts';

export async function roleOf(db: Db, workspaceId: string, userId: string): Promise<Role | null> {
  const row = await db
    .selectFrom('memberships')
    .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
    .select('memberships.role')
    .where('memberships.workspace_id', '=', workspaceId)
    .where('memberships.user_id', '=', userId)
    .where('workspaces.closed_at', 'is', null)
    .executeTakeFirst();
  return row && isRole(row.role) ? row.role : null;
}

export async function listMembers(db: Db, workspaceId: string) {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.workspace_id', '=', workspaceId)
    .orderBy('memberships.created_at')
    .orderBy('users.id')
    .execute();
  return rows.map(memberJson);
}

export function memberJson(r: { id: string; email: string; name: string | null; role: string; created_at: number }) {
  return { object: 'member' as const, id: r.id, email: r.email, name: r.name, role: r.role, created_at: new Date(r.created_at).toISOString() };
}

export function checkRole(role: unknown): Role {
  if (!isRole(role)) throw invalid('role must be one of owner, admin, developer, viewer');
  return role;
}

/**
 * Serialises membership changes in one workspace: every change first takes the workspace row's
 * write lock (a no-op update), so two concurrent changes cannot both see "another owner remains"
 * and leave none (PostgreSQL runs READ COMMITTED; SQLite already holds its write lock). Under the
 * lock, the acting member's role is read again: it may have changed since the request was
 * authenticated.
 */
export async function lockWorkspace(tx: Db, actor: Actor, actorRole: Grantee, workspaceId: string): Promise<Grantee> {
  await tx.updateTable('workspaces').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', workspaceId).execute();
  if (actor.type !== 'user' || !actor.id) return actorRole;
  const current = await roleOf(tx, workspaceId, actor.id);
  if (!current) throw new CoreError(403, 'invalid_access', 'You are no longer a member of this workspace');
  return current;
}

export function assertMayAssign(actorRole: Grantee, role: Role): void {
  if (!canAssignRole(actorRole, role)) throw new CoreError(403, 'invalid_access', `Your role (${actorRole}) cannot grant or take away the ${role} role`);
}

async function membership(db: Db, workspaceId: string, userId: string) {
  const row = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.workspace_id', '=', workspaceId)
    .where('memberships.user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw notFound('Member');
  return row;
}

async function assertOtherOwnerRemains(db: Db, workspaceId: string, userId: string): Promise<void> {
  const others = await db
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('role', '=', 'owner')
    .where('user_id', '!=', userId)
    .executeTakeFirstOrThrow();
  if (Number(others.n) === 0) throw new CoreError(422, 'validation_error', 'A workspace must keep at least one owner');
}

export async function changeRole(core: Core, actor: Actor, actorRole: Grantee, workspaceId: string, userId: string, rawRole: unknown) {
  const role = checkRole(rawRole);
  return core.store.transaction(async (tx) => {
    const current = await lockWorkspace(tx, actor, actorRole, workspaceId);
    const m = await membership(tx, workspaceId, userId);
    assertMayAssign(current, role);
    assertMayAssign(current, m.role as Role);
    if (m.role === 'owner' && role !== 'owner') await assertOtherOwnerRemains(tx, workspaceId, userId);
    await tx.updateTable('memberships').set({ role }).where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
    await audit(core, actor, { workspaceId, action: 'member.role_changed', targetType: 'user', targetId: userId, data: { from: m.role, to: role } }, tx);
    return memberJson({ ...m, role });
  });
}

export async function removeMember(core: Core, actor: Actor, actorRole: Grantee, workspaceId: string, userId: string) {
  return core.store.transaction(async (tx) => {
    const current = await lockWorkspace(tx, actor, actorRole, workspaceId);
    const m = await membership(tx, workspaceId, userId);
    assertMayAssign(current, m.role as Role);
    if (m.role === 'owner') await assertOtherOwnerRemains(tx, workspaceId, userId);
    await tx.deleteFrom('memberships').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
    // A removed member's sessions must stop acting in this workspace at once.
    await tx.updateTable('sessions').set({ workspace_id: null }).where('user_id', '=', userId).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'member.removed', targetType: 'user', targetId: userId, data: { email: m.email, role: m.role } }, tx);
    return { object: 'member' as const, id: userId, deleted: true };
  });
}

/** The addresses of a workspace's owners (who the platform mails about the workspace). */
export async function ownerEmails(db: Db, workspaceId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select('users.email')
    .where('memberships.workspace_id', '=', workspaceId)
    .where('memberships.role', '=', 'owner')
    .execute();
  return rows.map((r) => r.email);
}
