// Re-encrypts every stored secret under the vault's current key. Each kind of secret registers its
// column here; a secret stored anywhere else would be left behind by a rotation, so add it here.
import type { Core } from '../core/core.ts';
import { SYSTEM_MAIL_JOB } from '../outbound/system-mail.ts';

export interface SealedColumn {
  table: string;
  key: string;
  column: string;
  /** The associated-data context the secret was sealed with, from its row. */
  context: (row: Record<string, any>) => string;
}

export const SEALED_COLUMNS: SealedColumn[] = [
  { table: 'instance_secrets', key: 'name', column: 'value_enc', context: (r) => `instance:${r.name}` },
  { table: 'domains', key: 'id', column: 'dkim_private_key_enc', context: (r) => `dkim:${r.id}` },
  { table: 'webhooks', key: 'id', column: 'secret_enc', context: (r) => `webhook:${r.id}` },
];

/** Sealed fields inside queued jobs' JSON payloads (a queued sign-in link, say). */
export const SEALED_JOB_FIELDS: { kind: string; field: string; context: string }[] = [
  { kind: SYSTEM_MAIL_JOB, field: 'text_sealed', context: 'system_mail' },
];

/** Re-seals every secret not sealed with the current key; returns how many were changed. */
export async function resealAll(core: Core, onProgress?: (done: number, table: string) => void): Promise<number> {
  let changed = 0;
  for (const col of SEALED_COLUMNS) {
    const rows: Record<string, any>[] = await (core.db as any).selectFrom(col.table).selectAll().execute();
    await core.store.transaction(async (tx) => {
      for (const row of rows) {
        const sealed = row[col.column];
        if (sealed === null || core.vault.isCurrent(sealed)) continue;
        const plain = core.vault.decrypt(sealed, col.context(row));
        await (tx as any)
          .updateTable(col.table)
          .set({ [col.column]: core.vault.encrypt(plain, col.context(row)) })
          .where(col.key, '=', row[col.key])
          .where(col.column, '=', sealed)
          .execute();
        changed++;
        onProgress?.(changed, col.table);
      }
    });
  }
  for (const f of SEALED_JOB_FIELDS) {
    const jobs = await core.db.selectFrom('jobs').select(['id', 'payload']).where('kind', '=', f.kind).where('status', 'in', ['queued', 'running']).execute();
    for (const job of jobs) {
      const payload = JSON.parse(job.payload);
      const sealed = payload?.[f.field];
      if (typeof sealed !== 'string' || core.vault.isCurrent(sealed)) continue;
      payload[f.field] = core.vault.encrypt(core.vault.decrypt(sealed, f.context), f.context);
      await core.db.updateTable('jobs').set({ payload: JSON.stringify(payload) }).where('id', '=', job.id).where('payload', '=', job.payload).execute();
      changed++;
      onProgress?.(changed, 'jobs');
    }
  }
  return changed;
}
