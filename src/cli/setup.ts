// `mailstack setup`: the one-line bootstrap. Idempotent for the user and workspace (the user's
// owned workspace of that name is reused); always mints a new full-access key.
import { createApiKey } from '../accounts/api-keys.ts';
import { ensureUser, setPassword } from '../accounts/users.ts';
import { checkWorkspaceName, createWorkspace } from '../accounts/workspaces.ts';
import { audit } from '../audit/audit-log.ts';
import { type Core, cliActor } from '../core/core.ts';

export async function setup(core: Core, opts: { email: string; workspace: string; password?: string }) {
  const name = checkWorkspaceName(opts.workspace);
  const { userId, workspaceId, createdWorkspace } = await core.store.transaction(async (tx) => {
    const { user } = await ensureUser(core, tx, opts.email);
    if (opts.password !== undefined) {
      await setPassword(core, tx, user.id, opts.password);
    }
    const owned = await tx
      .selectFrom('memberships')
      .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
      .select('workspaces.id')
      .where('memberships.user_id', '=', user.id)
      .where('memberships.role', '=', 'owner')
      .where('workspaces.name', '=', name)
      .where('workspaces.closed_at', 'is', null)
      .orderBy('workspaces.id')
      .executeTakeFirst();
    if (owned) return { userId: user.id, workspaceId: owned.id, createdWorkspace: false };
    const ws = await createWorkspace(core, tx, cliActor, name, user.id);
    return { userId: user.id, workspaceId: ws.id, createdWorkspace: true };
  });
  if (opts.password !== undefined) {
    await audit(core, cliActor, { workspaceId, action: 'user.password_set', targetType: 'user', targetId: userId });
  }
  const key = await createApiKey(core, cliActor, workspaceId, { name: 'setup', permission: 'full_access' });
  return { workspaceId, userId, apiKey: key.token, apiKeyId: key.id, workspace: name, email: opts.email.trim().toLowerCase(), createdWorkspace };
}
