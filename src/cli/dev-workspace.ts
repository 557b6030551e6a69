// The ready workspace of `mailstack dev`: a user and a workspace (made once, reused), a full-access
// API key that stays the same across restarts, and a fresh sign-in link for the web app.
//
// The key is kept in <data>/development.json (mode 0600) so a developer's scripts keep working
// after a restart; it is development mode only, where the store is marked and never served by a
// production node (src/devmode/mode.ts). A key removed through the API is replaced by a new one.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { authenticateApiKey, createApiKey } from '../accounts/api-keys.ts';
import { createSignInLink } from '../accounts/magic-links.ts';
import { setup } from './setup.ts';
import { cliActor, type Core } from '../core/core.ts';

export const DEV_EMAIL = 'developer@example.com';
export const DEV_WORKSPACE = 'Development';

export interface ReadyWorkspace {
  email: string;
  workspaceId: string;
  userId: string;
  apiKey: string;
  signInLink: string;
}

function stateFile(core: Core): string {
  return path.join(core.settings.dataDir, 'development.json');
}

function readKey(core: Core): string | null {
  try {
    const saved = JSON.parse(readFileSync(stateFile(core), 'utf8')) as { apiKey?: unknown };
    return typeof saved.apiKey === 'string' ? saved.apiKey : null;
  } catch {
    return null;
  }
}

export async function readyWorkspace(core: Core): Promise<ReadyWorkspace> {
  if (core.settings.mode !== 'development') throw new Error('the ready workspace is made only in development mode');
  const saved = readKey(core);
  const key = saved ? await authenticateApiKey(core, saved) : null;
  let apiKey: string;
  let workspaceId: string;
  let userId: string;
  if (key) {
    apiKey = saved!;
    workspaceId = key.workspace_id;
    const owner = await core.db.selectFrom('memberships').select('user_id').where('workspace_id', '=', workspaceId).where('role', '=', 'owner').orderBy('user_id').executeTakeFirstOrThrow();
    userId = owner.user_id;
  } else {
    const s = await setup(core, { email: DEV_EMAIL, workspace: DEV_WORKSPACE });
    // setup names its key "setup"; this one is the development key, kept across restarts.
    await core.db.deleteFrom('api_keys').where('id', '=', s.apiKeyId).execute();
    const k = await createApiKey(core, cliActor, s.workspaceId, { name: 'mailstack dev', permission: 'full_access' });
    apiKey = k.token;
    workspaceId = s.workspaceId;
    userId = s.userId;
    writeFileSync(stateFile(core), JSON.stringify({ apiKey, workspaceId }) + '\n', { mode: 0o600 });
  }
  const user = await core.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow();
  return { email: user.email, workspaceId, userId, apiKey, signInLink: await createSignInLink(core, userId, null) };
}
