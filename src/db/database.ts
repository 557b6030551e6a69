// The store: one Kysely query layer over SQLite (the embedded default) or PostgreSQL.
//
// Implementation notes:
// - SQLite runs in WAL mode with foreign keys on, synchronous=FULL (a committed row survives power
//   loss) and a busy timeout, so several processes (server, CLI) can share one file. Writes that read
//   first go through `transaction`, which on SQLite takes the write lock up front (BEGIN IMMEDIATE):
//   a deferred transaction that upgrades later can fail with SQLITE_BUSY without waiting.
//   Transactions that queue up behind the write lock share one commit (`groupCommit`); each is still
//   acknowledged only after the COMMIT that holds it.
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
    transaction: groupCommit(db, () => conn.inTransaction),
    close: () => db.destroy(),
  };
}

/** At most this many transactions share one commit... */
const GROUP_MAX = 64;
/** ...and the first one's acknowledgement waits at most about this long for the others (ms). */
const GROUP_WINDOW_MS = 10;

interface Member {
  fn: (tx: Db) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit on SQLite: transactions asked for while another holds the write lock run one after
 * the other inside a single BEGIN IMMEDIATE ... COMMIT, each in its own savepoint, so a group costs
 * one WAL fsync instead of one each. Nothing is waited for to form a group (a lone transaction
 * commits at once); it is what queued up behind the lock. Each member still runs alone and in order
 * (it sees what the earlier ones wrote, as if they had committed), a member that throws is rolled
 * back to its savepoint and rejected alone, and no member is resolved before the COMMIT that holds
 * it: a caller's acknowledgement (250, OK, 200) still means its rows are on disk. If the COMMIT fails,
 * or an error ends the whole transaction (SQLITE_FULL, SQLITE_IOERR), every member of the group that
 * had not already failed is rejected with that error.
 *
 * Kysely's SQLite driver hands out its one connection under a mutex; holding it for the group keeps
 * this process's other queries out, and BEGIN IMMEDIATE keeps other processes (the CLI) out.
 */
function groupCommit(db: Db, inTransaction: () => boolean): Store['transaction'] {
  const queue: Member[] = [];
  let draining = false;

  const runGroup = async (c: Db): Promise<void> => {
    const first = queue.shift()!;
    try {
      await sql`begin immediate`.execute(c);
    } catch (err) {
      first.reject(err);
      return;
    }
    const ran: Array<{ member: Member; value: unknown }> = [];
    let started = 0;
    let next: Member | undefined = first;
    try {
      while (next) {
        await sql`savepoint group_member`.execute(c);
        try {
          const value = await next.fn(c);
          await sql`release group_member`.execute(c);
          ran.push({ member: next, value });
          if (!started) started = Date.now();
        } catch (err) {
          if (!inTransaction()) {
            next.reject(err);
            throw err;
          }
          await sql`rollback to group_member`.execute(c);
          await sql`release group_member`.execute(c);
          next.reject(err);
        }
        next = ran.length < GROUP_MAX && (!started || Date.now() - started < GROUP_WINDOW_MS) ? queue.shift() : undefined;
      }
      await sql`commit`.execute(c);
    } catch (err) {
      if (inTransaction()) await sql`rollback`.execute(c).catch(() => {});
      for (const r of ran) r.member.reject(err);
      return;
    }
    for (const r of ran) r.member.resolve(r.value);
  };

  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (queue.length) await db.connection().execute(runGroup);
    } catch (err) {
      // The connection itself is gone (the store closed): nothing queued can run.
      for (const m of queue.splice(0)) m.reject(err);
    } finally {
      draining = false;
    }
  };

  return <T>(fn: (tx: Db) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!draining) void drain();
    });
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
