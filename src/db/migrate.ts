// Versioned migrations, applied in name order at start and by `mailstack migrate`. A migration is
// never edited once released: a change to the schema is a new file listed here.
import { type Migration, Migrator, PostgresAdapter, sql } from 'kysely';
import type { Db } from './database.ts';
import * as m0001 from './migrations/0001_foundation.ts';
import * as m0002 from './migrations/0002_domains.ts';
import * as m0003 from './migrations/0003_events.ts';
import * as m0004 from './migrations/0004_outbound.ts';
import * as m0005 from './migrations/0005_suppressions.ts';
import * as m0006 from './migrations/0006_api_requests.ts';
import * as m0007 from './migrations/0007_mailstore.ts';
import * as m0008 from './migrations/0008_mailstore_counters.ts';
import * as m0009 from './migrations/0009_inbound_routing.ts';
import * as m0010 from './migrations/0010_imap_cache.ts';
import * as m0015 from './migrations/0015_postmaster.ts';
import * as m0016 from './migrations/0016_mta_sts.ts';
import * as m0050 from './migrations/0050_privacy_lifecycle.ts';
import * as m0030 from './migrations/0030_webmail_counts.ts';
import * as m0055 from './migrations/0055_exports_erasures.ts';
import * as m0040 from './migrations/0040_campaigns.ts';
import * as m0041 from './migrations/0041_campaign_tracking_optin.ts';
import * as m0020 from './migrations/0020_imap_recent.ts';
import * as m0021 from './migrations/0021_imap_subscriptions.ts';
import * as m0070 from './migrations/0070_spam_abuse.ts';
import * as m0071 from './migrations/0071_outbound_content.ts';
import * as m0011 from './migrations/0011_domain_ownership.ts';
import * as m0012 from './migrations/0012_invitations.ts';
import * as m0080 from './migrations/0080_development.ts';

const MIGRATIONS: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_domains': m0002,
  '0003_events': m0003,
  '0004_outbound': m0004,
  '0005_suppressions': m0005,
  '0006_api_requests': m0006,
  '0007_mailstore': m0007,
  '0008_mailstore_counters': m0008,
  '0009_inbound_routing': m0009,
  '0010_imap_cache': m0010,
  '0015_postmaster': m0015,
  '0016_mta_sts': m0016,
  '0050_privacy_lifecycle': m0050,
  '0030_webmail_counts': m0030,
  '0055_exports_erasures': m0055,
  '0040_campaigns': m0040,
  '0041_campaign_tracking_optin': m0041,
  '0020_imap_recent': m0020,
  '0021_imap_subscriptions': m0021,
  '0070_spam_abuse': m0070,
  '0071_outbound_content': m0071,
  '0011_domain_ownership': m0011,
  '0012_invitations': m0012,
  '0080_development': m0080,
};

/** The migrations this version knows, for tools that migrate to a given point (restore). */
export const migrationProvider = { getMigrations: async () => MIGRATIONS };
export const migrationNames = (): string[] => Object.keys(MIGRATIONS).sort();

export interface MigrationReport {
  applied: string[];
  current: string | null;
}

export interface MigrateOptions {
  /** Told when migrations are known to be pending, before the first runs. */
  onPending?: (names: string[]) => void;
  /** Told after each migration is applied (each commits on its own). */
  onStep?: (name: string) => void;
  /** Once aborted, no further migration starts (the one running finishes): `interrupted` is set. */
  signal?: AbortSignal;
  /** Only these migrations (by name) are known: lets a test build an older database. */
  only?: string[];
}

export interface MigrationRun extends MigrationReport {
  /** Migrations still pending because the signal stopped the run (absent when none). */
  remaining?: string[];
}

export async function migrateToLatest(db: Db, opts: MigrateOptions = {}): Promise<MigrationRun> {
  // On PostgreSQL, name the schema of Kysely's bookkeeping tables: left unnamed, Kysely looks for
  // `kysely_migration_lock` in every schema of the database, finds another schema's (a second
  // install, or a parallel test run, in the same database) and then fails because ours was never made.
  const migrationTableSchema =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s
      : undefined;
  const known = opts.only ? Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => opts.only!.includes(name))) : MIGRATIONS;
  // Each area of the code owns a range of numbers (0011–0019 hardening, 0080s development, …), so a
  // release can bring a migration that sorts before one an install already applied: apply it then,
  // instead of refusing the database as out of order.
  const migrator = new Migrator({ db, migrationTableSchema, allowUnorderedMigrations: true, provider: { getMigrations: async () => known } });
  const applied: string[] = [];
  // One migration at a time, so progress can be shown and a stop falls between two of them.
  const pending = (await catalogRetry(() => migrator.getMigrations(), migrationTableSchema)).filter((m) => !m.executedAt).map((m) => m.name);
  opts.onPending?.(pending);
  let remaining: string[] = [];
  for (let i = 0; i < pending.length; i++) {
    if (opts.signal?.aborted) {
      remaining = pending.slice(i);
      break;
    }
    const { error, results } = await catalogRetry(async () => {
      const r = await migrator.migrateUp();
      if (r.error && isOtherSchemaGone(r.error, migrationTableSchema)) throw r.error;
      return r;
    }, migrationTableSchema);
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new Error(`migration ${failed ?? '(unknown)'} failed: ${(error as Error).message ?? error}`);
    }
    for (const r of results ?? []) {
      if (r.status !== 'Success') continue;
      applied.push(r.migrationName);
      opts.onStep?.(r.migrationName);
    }
    // Another process applied the rest meanwhile: nothing left for us.
    if (!results?.length) break;
  }
  const all = await catalogRetry(() => migrator.getMigrations(), migrationTableSchema);
  const done = all.filter((m) => m.executedAt);
  return { applied, current: done.at(-1)?.name ?? null, ...(remaining.length ? { remaining } : {}) };
}

/**
 * Kysely looks for its bookkeeping tables through the catalog of every schema of the database
 * (`has_schema_privilege` on each name), which fails with "schema … does not exist" when another
 * schema of the same database is dropped at that moment (a second install, or a parallel test
 * file). That race says nothing about ours: try again, a few times.
 */
function isOtherSchemaGone(err: unknown, ours: string | undefined): boolean {
  const m = /schema "([^"]+)" does not exist/.exec((err as Error)?.message ?? '');
  return !!m && m[1] !== ours;
}

async function catalogRetry<T>(fn: () => Promise<T>, ours: string | undefined): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 5 || !isOtherSchemaGone(err, ours)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
