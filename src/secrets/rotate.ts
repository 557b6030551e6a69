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

export interface ResealOptions {
  /** Told how many secrets need re-sealing, before the first is touched. */
  onPlan?: (total: number) => void;
  /** Once aborted, re-sealing stops after the secret in hand; what was done is committed. */
  signal?: AbortSignal;
}

/**
 * Re-seals every secret not sealed with the current key; returns how many were changed. Stopping
 * early (opts.signal) is safe: each secret is sealed with either key, and the vault holds both.
 */
export async function resealAll(core: Core, onProgress?: (done: number, table: string) => void, opts: ResealOptions = {}): Promise<number> {
  let changed = 0;
  const stale = await Promise.all(
    SEALED_COLUMNS.map(async (col) => {
      const rows: Record<string, any>[] = await (core.db as any).selectFrom(col.table).selectAll().execute();
      return { col, rows: rows.filter((row) => row[col.column] !== null && !core.vault.isCurrent(row[col.column])) };
    }),
  );
  const jobs = await Promise.all(
    SEALED_JOB_FIELDS.map(async (f) => {
      const rows = await core.db.selectFrom('jobs').select(['id', 'payload']).where('kind', '=', f.kind).where('status', 'in', ['queued', 'running']).execute();
      return {
        f,
        rows: rows.filter((job) => {
          const sealed = JSON.parse(job.payload)?.[f.field];
          return typeof sealed === 'string' && !core.vault.isCurrent(sealed);
        }),
      };
    }),
  );
  opts.onPlan?.(stale.reduce((n, t) => n + t.rows.length, 0) + jobs.reduce((n, t) => n + t.rows.length, 0));
  for (const { col, rows } of stale) {
    if (opts.signal?.aborted) return changed;
    await core.store.transaction(async (tx) => {
      for (const row of rows) {
        if (opts.signal?.aborted) return;
        const sealed = row[col.column];
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
  for (const { f, rows } of jobs) {
    for (const job of rows) {
      if (opts.signal?.aborted) return changed;
      const payload = JSON.parse(job.payload);
      payload[f.field] = core.vault.encrypt(core.vault.decrypt(payload[f.field], f.context), f.context);
      await core.db.updateTable('jobs').set({ payload: JSON.stringify(payload) }).where('id', '=', job.id).where('payload', '=', job.payload).execute();
      changed++;
      onProgress?.(changed, 'jobs');
    }
  }
  return changed;
}
