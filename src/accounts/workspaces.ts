// Workspaces: the tenant wall. Every row of customer data belongs to exactly one workspace.
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { WorkspacesTable } from '../db/schema.ts';
import { audit } from '../audit/audit-log.ts';

export type Workspace = WorkspacesTable;

export function checkWorkspaceName(raw: string): string {
  const name = raw.trim();
  if (name.length === 0 || name.length > 100) throw invalid('workspace name must be 1 to 100 characters');
  return name;
}

/** Creates a workspace with `ownerId` as its owner. */
export async function createWorkspace(core: Core, db: Db, actor: Actor, rawName: string, ownerId: string): Promise<Workspace> {
  const name = checkWorkspaceName(rawName);
  const now = core.clock.now();
  const ws: Workspace = { id: newId(now), name, settings: '{}', created_at: now, updated_at: now, closed_at: null };
  await db.insertInto('workspaces').values(ws).execute();
  await db.insertInto('memberships').values({ workspace_id: ws.id, user_id: ownerId, role: 'owner', created_at: now }).execute();
  await audit(core, actor, { workspaceId: ws.id, action: 'workspace.created', targetType: 'workspace', targetId: ws.id, data: { name } }, db);
  return ws;
}

export async function getWorkspace(db: Db, id: string): Promise<Workspace> {
  const ws = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  if (!ws) throw notFound('Workspace');
  return ws;
}

/** Workspaces the user belongs to, oldest first. */
export function userWorkspaces(db: Db, userId: string) {
  return db
    .selectFrom('memberships')
    .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
    .select(['workspaces.id', 'workspaces.name', 'memberships.role', 'workspaces.created_at'])
    .where('memberships.user_id', '=', userId)
    .where('workspaces.closed_at', 'is', null)
    .orderBy('workspaces.id')
    .execute();
}

export async function renameWorkspace(core: Core, actor: Actor, id: string, rawName: string): Promise<Workspace> {
  const name = checkWorkspaceName(rawName);
  return core.store.transaction(async (tx) => {
    const before = await getWorkspace(tx, id);
    await tx.updateTable('workspaces').set({ name, updated_at: core.clock.now() }).where('id', '=', id).execute();
    await audit(core, actor, { workspaceId: id, action: 'workspace.updated', targetType: 'workspace', targetId: id, data: { name: { from: before.name, to: name } } }, tx);
    return getWorkspace(tx, id);
  });
}

export function workspaceJson(ws: Workspace, role?: string) {
  return {
    object: 'workspace' as const,
    id: ws.id,
    name: ws.name,
    created_at: new Date(ws.created_at).toISOString(),
    ...(role ? { role } : {}),
  };
}

/** A workspace's settings JSON as an object ({} when missing or malformed). */
export function workspaceSettings(json: string): Record<string, unknown> {
  try {
    const v = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}
