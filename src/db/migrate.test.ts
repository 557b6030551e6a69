// Migrations from an empty database on the store under test (SQLite or a fresh PostgreSQL schema):
// every table the code knows exists, a second run applies nothing, and `mailstack migrate` reports
// what it applied as JSON.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { type Store, openStore } from './database.ts';
import { migrateToLatest } from './migrate.ts';
import { runCli } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase, testStoreKind } from '../testkit/store.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Every migration file in the folder, in name order: a file that is not registered in migrate.ts
// would be missing from what gets applied.
const MIGRATION_FILES = readdirSync(path.join(HERE, 'migrations'))
  .filter((f) => /^\d{4}_.*\.ts$/.test(f))
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();

// Every table the code's row types name: the keys of each `interface <Concern>Schema` in
// schema/*.ts, read from the source so that a table added there without a migration fails this
// test; and every such file must be part of `Schema` in schema.ts.
const SCHEMA_TABLES = (() => {
  const index = readFileSync(path.join(HERE, 'schema.ts'), 'utf8');
  const tables: string[] = [];
  for (const f of readdirSync(path.join(HERE, 'schema')).filter((f) => f.endsWith('.ts')).sort()) {
    const src = readFileSync(path.join(HERE, 'schema', f), 'utf8');
    for (const m of src.matchAll(/export interface (\w+Schema) \{([^}]*)\}/g)) {
      if (!new RegExp(`\\b${m[1]}\\b`).test(/export interface Schema extends([^{]*)\{/.exec(index)?.[1] ?? '')) throw new Error(`${m[1]} (schema/${f}) is not in Schema`);
      tables.push(...[...m[2].matchAll(/^\s*(\w+)\s*:/gm)].map((t) => t[1]));
    }
  }
  return tables;
})();

/** The names of the tables in this store's own database (on PostgreSQL: its own schema only). */
async function tableNames(store: Store): Promise<string[]> {
  const tables = await store.db.introspection.getTables();
  if (store.dialect === 'sqlite') return tables.map((t) => t.name);
  const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(store.db);
  return tables.filter((t) => t.schema === rows[0].s).map((t) => t.name);
}

const dbs: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const d = await createTestDatabase();
  dbs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

describe('migrations', () => {
  it('migrate from empty creates every table; a second run applies nothing', async () => {
    const tdb = await freshDatabase();
    const store = openStore(tdb.url);
    try {
      expect(store.dialect).toBe(testStoreKind());
      expect(await tableNames(store)).toEqual([]);

      const first = await migrateToLatest(store.db);
      expect(first.applied).toEqual(MIGRATION_FILES);
      expect(first.current).toBe(MIGRATION_FILES.at(-1));

      const tables = new Set(await tableNames(store));
      expect(SCHEMA_TABLES).toEqual(expect.arrayContaining(['users', 'workspaces', 'api_keys', 'audit_log', 'jobs', 'schedules']));
      for (const name of SCHEMA_TABLES) expect(tables, `table ${name}`).toContain(name);

      const second = await migrateToLatest(store.db);
      expect(second).toEqual({ applied: [], current: MIGRATION_FILES.at(-1) });

      // The migrated schema takes real rows: a job and a schedule round-trip with epoch-ms times.
      const now = Date.now();
      await store.db
        .insertInto('jobs')
        .values({ id: 'j1', kind: 'k', payload: '{}', status: 'queued', run_at: now, attempts: 0, max_attempts: 3, lease_owner: null, lease_expires_at: null, last_error: null, unique_key: 'u', created_at: now, updated_at: now })
        .execute();
      const job = await store.db.selectFrom('jobs').selectAll().executeTakeFirstOrThrow();
      expect(job.run_at).toBe(now);
      expect(typeof job.run_at).toBe('number');
      // unique_key is unique.
      await expect(
        store.db
          .insertInto('jobs')
          .values({ ...job, id: 'j2' })
          .execute(),
      ).rejects.toThrow();
    } finally {
      await store.close();
    }
  });

  it('two databases side by side in one server migrate independently', async () => {
    // On PostgreSQL these are two schemas of one database (as parallel test files, or two installs,
    // would be); each must get its own migration bookkeeping.
    const [d1, d2] = [await freshDatabase(), await freshDatabase()];
    const [s1, s2] = [openStore(d1.url), openStore(d2.url)];
    try {
      expect((await migrateToLatest(s1.db)).applied).toEqual(MIGRATION_FILES);
      expect((await migrateToLatest(s2.db)).applied).toEqual(MIGRATION_FILES);
      expect((await migrateToLatest(s1.db)).applied).toEqual([]);
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('a migration numbered before one already applied is applied on upgrade', async () => {
    // Areas of the code own number ranges, so a release can add 0011 to a database that has 0080.
    const tdb = await freshDatabase();
    const store = openStore(tdb.url);
    try {
      const skipped = MIGRATION_FILES.at(-2)!;
      const older = MIGRATION_FILES.filter((m) => m !== skipped);
      expect((await migrateToLatest(store.db, { only: older })).applied).toEqual(older);
      const upgrade = await migrateToLatest(store.db);
      expect(upgrade).toEqual({ applied: [skipped], current: MIGRATION_FILES.at(-1) });
      const tables = await tableNames(store);
      for (const name of SCHEMA_TABLES) expect(tables, `table ${name}`).toContain(name);
    } finally {
      await store.close();
    }
  });

  it('`mailstack migrate` prints JSON with the applied list', async () => {
    const tdb = await freshDatabase();
    const env = { MAILSTACK_DATA_DIR: tdb.dataDir, MAILSTACK_DATABASE_URL: tdb.url, MAILSTACK_LOG_LEVEL: 'silent' };

    const first = runCli(['migrate'], env);
    expect(first.code).toBe(0);
    // Off a terminal, progress is one JSON line per migration on stderr, then a last line.
    const progress = first.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(progress.slice(0, -1).map((p) => p.step)).toEqual(MIGRATION_FILES);
    expect(progress.slice(0, -1).map((p) => p.done)).toEqual(MIGRATION_FILES.map((_, i) => i + 1));
    expect(progress.every((p) => p.task === 'migrate' && p.total === MIGRATION_FILES.length)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ finished: true, done: MIGRATION_FILES.length });
    expect(JSON.parse(first.stdout)).toEqual({ store: testStoreKind(), applied: MIGRATION_FILES, current: MIGRATION_FILES.at(-1) });

    // What the command applied is recorded: the next run (here in-process, to keep the test quick)
    // has nothing left to do, and the tables are there.
    const store = openStore(tdb.url);
    try {
      expect(await migrateToLatest(store.db)).toEqual({ applied: [], current: MIGRATION_FILES.at(-1) });
      expect(await store.db.selectFrom('jobs').select('id').execute()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
