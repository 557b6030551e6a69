// The store: one Kysely query layer over SQLite (the embedded default) or PostgreSQL.
//
// Implementation notes:
// - SQLite runs in WAL mode with foreign keys on, synchronous=FULL (a committed row survives power
//   loss) and a busy timeout, so several processes (server, CLI) can share one file. Writes that read
//   first go through `transaction`, which on SQLite takes the write lock up front (BEGIN IMMEDIATE):
//   a deferred transaction that upgrades later can fail with SQLITE_BUSY without waiting.
// - secure_delete is on: deleted rows are zeroed in the file, not left in free space.
// - PostgreSQL int8 values are parsed to JS numbers: we store epoch milliseconds, well within 2^53.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type LogEvent, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { sqlitePath } from '../config/settings.ts';
import type { Schema } from './schema.ts';

pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Kysely<Schema>;

export interface Store {
  db: Db;
  dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction that holds the write lock from its start. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Told every query's duration in seconds and whether it succeeded (metrics). */
  onQuery?: (seconds: number, ok: boolean) => void;
}

export function openStore(databaseUrl: string, opts: StoreOptions = {}): Store {
  // Kysely's log hook times each query where it runs, on both dialects.
  const log = opts.onQuery ? (e: LogEvent) => opts.onQuery!(e.queryDurationMillis / 1000, e.level === 'query') : undefined;
  return /^postgres(ql)?:/i.test(databaseUrl) ? openPostgres(databaseUrl, log) : openSqlite(sqlitePath(databaseUrl), log);
}

function openSqlite(file: string, log?: (e: LogEvent) => void): Store {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const conn = new BetterSqlite3(file);
  conn.pragma('journal_mode = WAL');
  conn.pragma('foreign_keys = ON');
  conn.pragma('busy_timeout = 10000');
  conn.pragma('synchronous = FULL');
  // Deleted content is overwritten with zeros, so an erasure (src/privacy/erasure.ts) leaves no
  // copy in free pages or freed cells of the file.
  conn.pragma('secure_delete = ON');
  // Kysely prepares every query afresh; compiling SQL was a visible share of the CPU per message.
  // Statements are reusable (each run is synchronous), so keep the recent ones.
  const statements = new Map<string, BetterSqlite3.Statement>();
  const database = {
    close: () => conn.close(),
    prepare(text: string) {
      let stmt = statements.get(text);
      if (!stmt) {
        stmt = conn.prepare(text);
        if (statements.size >= 1000) statements.delete(statements.keys().next().value!);
        statements.set(text, stmt);
      }
      return stmt;
    },
  };
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database }), log });
  return {
    db,
    dialect: 'sqlite',
    // Kysely's SQLite driver hands out its one connection under a mutex, so holding it here
    // serialises this process's transactions; BEGIN IMMEDIATE serialises them with other processes.
    transaction: (fn) =>
      db.connection().execute(async (c) => {
        await sql`begin immediate`.execute(c);
        try {
          const result = await fn(c);
          await sql`commit`.execute(c);
          return result;
        } catch (err) {
          await sql`rollback`.execute(c).catch(() => {});
          throw err;
        }
      }),
    close: () => db.destroy(),
  };
}

function openPostgres(url: string, log?: (e: LogEvent) => void): Store {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client's error (the server restarting, say) must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }), log });
  return {
    db,
    dialect: 'postgres',
    transaction: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  };
}
