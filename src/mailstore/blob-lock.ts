// The per-blob lock that keeps a blob release from racing a new reference to the same content
// (see blobs.ts). Its own module so the release (src/outbound/retention.ts) and the writers can
// both use it without an import cycle.
import { sql } from 'kysely';
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';

/** Takes the per-blob lock for the rest of transaction `tx` (no-op on SQLite, whose write transaction already serialises: see blobs.ts). */
export async function lockBlob(core: Core, tx: Db, id: string, mode: 'shared' | 'exclusive'): Promise<void> {
  if (core.store.dialect !== 'postgres') return;
  if (mode === 'shared') await sql`select pg_advisory_xact_lock_shared(hashtextextended(${'blob:' + id}, 0))`.execute(tx);
  else await sql`select pg_advisory_xact_lock(hashtextextended(${'blob:' + id}, 0))`.execute(tx);
}

