// `mailstack keys rotate`: a new master key, and every stored secret re-encrypted under it.
// With the key in the data folder, the files are switched for you. With MAILSTACK_MASTER_KEY set,
// the new key is printed: set it as MAILSTACK_MASTER_KEY and the old one as
// MAILSTACK_MASTER_KEY_PREVIOUS on every node, restart, then drop the previous key.
import { randomBytes } from 'node:crypto';
import type { Settings } from '../config/settings.ts';
import type { Core } from '../core/core.ts';
import { cliActor } from '../core/core.ts';
import { openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { JobQueue } from '../jobs/queue.ts';
import { systemClock } from '../core/clock.ts';
import { resealAll } from '../secrets/rotate.ts';
import { Vault, beginKeyFileRotation, finishKeyFileRotation, keyId, loadVault } from '../secrets/vault.ts';
import { audit } from '../audit/audit-log.ts';
import { cliLog } from './context.ts';
import { INTERRUPTED_EXIT_CODE, startProgress } from './progress.ts';

export async function rotateKeys(settings: Settings): Promise<void> {
  const newKey = randomBytes(32);
  const fromEnv = settings.masterKey !== null;
  let vault: Vault;
  let oldId: string;
  if (fromEnv) {
    oldId = keyId(settings.masterKey!);
    vault = new Vault(newKey, [settings.masterKey!, ...settings.masterKeysPrevious]);
  } else {
    oldId = loadVault(settings.dataDir, null).current.id;
    beginKeyFileRotation(settings.dataDir, newKey);
    vault = loadVault(settings.dataDir, null, settings.masterKeysPrevious);
  }
  const store = openStore(settings.databaseUrl);
  try {
    await migrateToLatest(store.db);
    const core: Core = { settings, store, db: store.db, vault, jobs: new JobQueue(store, systemClock), clock: systemClock, log: cliLog() };
    const progress = startProgress('keys rotate', { unit: 'secrets' });
    let table = '';
    let changed = await resealAll(
      core,
      (_done, t) => {
        // A step per table of secrets; a tick per secret.
        if (table && t !== table) progress.step(table, 0);
        table = t;
        progress.tick(1, t);
      },
      { onPlan: (total) => progress.setTotal(total), signal: progress.signal },
    );
    if (table) progress.step(table, 0);
    if (progress.signal.aborted) {
      // Both keys stay (the old one in the data folder, or in MAILSTACK_MASTER_KEY_PREVIOUS), so every secret opens.
      progress.interrupted(
        fromEnv
          ? 'some secrets are already sealed with newMasterKey: set MAILSTACK_MASTER_KEY to newMasterKey and MAILSTACK_MASTER_KEY_PREVIOUS to the old key on every node (together they open every secret), then run `mailstack keys rotate` again'
          : 'every secret still opens (both keys are kept in the data folder): run `mailstack keys rotate` again to finish',
      );
      await audit(core, cliActor, { workspaceId: null, action: 'master_key.rotation_interrupted', data: { from: oldId, to: vault.current.id, secrets: changed } });
      process.stdout.write(JSON.stringify({ interrupted: true, rotated: changed, keyId: vault.current.id, previousKeyId: oldId, ...(fromEnv ? { newMasterKey: newKey.toString('base64') } : {}) }) + '\n');
      process.exitCode = INTERRUPTED_EXIT_CODE;
      return;
    }
    // A running node switches to the new key file at its next encryption; a secret it sealed just
    // before noticing is caught by a second pass before the old key is forgotten.
    await new Promise((resolve) => setTimeout(resolve, 500));
    changed += await resealAll(core);
    await audit(core, cliActor, { workspaceId: null, action: 'master_key.rotated', data: { from: oldId, to: vault.current.id, secrets: changed } });
    if (!fromEnv) finishKeyFileRotation(settings.dataDir);
    progress.finish(`re-encrypted ${changed} secrets under master key ${vault.current.id}`);
    process.stdout.write(
      JSON.stringify({
        rotated: changed,
        keyId: vault.current.id,
        previousKeyId: oldId,
        ...(fromEnv
          ? {
              newMasterKey: newKey.toString('base64'),
              next: 'Set MAILSTACK_MASTER_KEY to newMasterKey and MAILSTACK_MASTER_KEY_PREVIOUS to the old key on every node, restart them, then remove MAILSTACK_MASTER_KEY_PREVIOUS.',
            }
          : { keyFile: `${settings.dataDir}/master.key` }),
      }) + '\n',
    );
  } finally {
    await store.close();
  }
}
