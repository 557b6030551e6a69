// A fresh, isolated database for one test file: a temporary SQLite file, or a new schema in the
// PostgreSQL named by MAILSTACK_TEST_DATABASE_URL (chosen by MAILSTACK_TEST_STORE).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { randomToken } from '../core/ids.ts';

export type TestStore = 'sqlite' | 'postgres';

export function testStoreKind(): TestStore {
  return process.env.MAILSTACK_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
}

export interface TestDatabase {
  url: string;
  dataDir: string;
  drop(): Promise<void>;
}

/** Makes an empty database (and a data folder) for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mailstack-test-'));
  if (testStoreKind() === 'sqlite') {
    return { url: `sqlite:${path.join(dataDir, 'mailstack.db')}`, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const base = process.env.MAILSTACK_TEST_DATABASE_URL;
  if (!base) throw new Error('MAILSTACK_TEST_STORE=postgres needs MAILSTACK_TEST_DATABASE_URL');
  const schema = `t_${randomToken(12).toLowerCase()}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    dataDir,
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA "${schema}" CASCADE`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
