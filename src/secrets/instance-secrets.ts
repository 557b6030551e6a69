// Secrets of the installation itself (the CSRF key, for one), generated on first use and stored
// encrypted like every other secret.
import { randomBytes } from 'node:crypto';
import type { Core } from '../core/core.ts';

const cache = new WeakMap<Core, Map<string, string>>();

export async function instanceSecret(core: Core, name: string): Promise<string> {
  let byName = cache.get(core);
  if (!byName) cache.set(core, (byName = new Map()));
  const hit = byName.get(name);
  if (hit) return hit;
  const context = `instance:${name}`;
  await core.db
    .insertInto('instance_secrets')
    .values({ name, value_enc: core.vault.encrypt(randomBytes(32).toString('base64url'), context), created_at: core.clock.now() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await core.db.selectFrom('instance_secrets').select('value_enc').where('name', '=', name).executeTakeFirstOrThrow();
  const value = core.vault.decrypt(row.value_enc, context);
  byName.set(name, value);
  return value;
}
