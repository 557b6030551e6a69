// Group commit on SQLite (database.ts): transactions queued behind the write lock share one COMMIT,
// each still acknowledged only after it, and one member's failure is its own. A second connection
// on the same file shows what is committed.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Store, openStore } from './database.ts';

let dir: string;
let store: Store;
let observer: BetterSqlite3.Database;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'group-commit-'));
  store = openStore(`sqlite://${path.join(dir, 'db.sqlite')}`);
  await sql`create table parent (id integer primary key)`.execute(store.db);
  await sql`create table item (id text primary key, parent integer references parent(id) deferrable initially deferred)`.execute(store.db);
  observer = new BetterSqlite3(path.join(dir, 'db.sqlite'), { readonly: true });
});

afterEach(async () => {
  observer.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const committed = () => (observer.prepare('select id from item order by id').all() as Array<{ id: string }>).map((r) => r.id);
const insert = (id: string, parent: number | null = null) => (tx: Store['db']) => sql`insert into item (id, parent) values (${id}, ${parent})`.execute(tx);

// PostgreSQL groups commits itself (commit_delay); this is the SQLite store's own.
describe.skipIf(process.env.MAILSTACK_TEST_STORE === 'postgres')('group commit', () => {
  it('transactions that queue behind one in progress share its commit, and none is acknowledged before it', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const seenByLast: string[][] = [];
    const first = store.transaction(async (tx) => {
      await insert('a')(tx);
      await gate;
      return 'a';
    });
    const second = store.transaction(async (tx) => {
      await insert('b')(tx);
      return 'b';
    });
    const third = store.transaction(async (tx) => {
      // Runs after the first two, in the same transaction: it sees their rows, another connection does not.
      seenByLast.push((await sql<{ id: string }>`select id from item order by id`.execute(tx)).rows.map((r) => r.id), committed());
      await insert('c')(tx);
      return 'c';
    });
    const settled: string[] = [];
    for (const p of [first, second, third]) void p.then((v) => settled.push(v));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toEqual([]);
    expect(committed()).toEqual([]);
    open();
    expect(await Promise.all([first, second, third])).toEqual(['a', 'b', 'c']);
    expect(seenByLast).toEqual([['a', 'b'], []]);
    expect(committed()).toEqual(['a', 'b', 'c']);
  });

  it('a member that throws is rolled back alone and rejected with its own error', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const first = store.transaction(async (tx) => {
      await insert('a')(tx);
      await gate;
    });
    const failing = store.transaction(async (tx) => {
      await insert('b')(tx);
      await insert('b2')(tx);
      throw new Error('the second member changed its mind');
    });
    const constraint = store.transaction(async (tx) => {
      await insert('c')(tx);
      await insert('c')(tx); // primary key: this statement fails, and the member with it
    });
    const last = store.transaction(insert('d'));
    open();
    await first;
    await expect(failing).rejects.toThrow('the second member changed its mind');
    await expect(constraint).rejects.toThrow(/UNIQUE constraint failed/);
    await last;
    expect(committed()).toEqual(['a', 'd']);
  });

  it('a COMMIT that fails rejects every member of the group and keeps none of their rows', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const innocent = store.transaction(async (tx) => {
      await insert('a')(tx);
      await gate;
    });
    // A deferred foreign key is checked at COMMIT, so the group's COMMIT is what fails.
    const orphan = store.transaction(insert('orphan', 42));
    open();
    await expect(innocent).rejects.toThrow(/FOREIGN KEY constraint failed/);
    await expect(orphan).rejects.toThrow(/FOREIGN KEY constraint failed/);
    expect(committed()).toEqual([]);
    // The store goes on: the next transaction commits on its own.
    await store.transaction(insert('after'));
    expect(committed()).toEqual(['after']);
  });

  it('a lone transaction commits at once, and many concurrent ones all land', async () => {
    await store.transaction(insert('solo'));
    expect(committed()).toEqual(['solo']);
    const ids = Array.from({ length: 300 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    await Promise.all(ids.map((id) => store.transaction(insert(id))));
    expect(committed()).toEqual([...ids, 'solo']);
  });
});
