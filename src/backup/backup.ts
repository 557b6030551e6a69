// Backups and restore: one encrypted, checksummed file holding a consistent snapshot of the
// database, the data folder's own files (master key, TLS material) and every blob.
//
// File format (version 1):
//   "MSBACKUP1\n"                     magic, 10 bytes
//   <header JSON>\n                   plain: version, created_at, store, migrations, key kind, salt, iv
//   <ciphertext>                      AES-256-GCM (header bytes as associated data) of gzip(tar)
//   <16 bytes>                        the GCM tag
//   <32 bytes>                        SHA-256 of everything before (a quick corruption check)
// The tar holds db/mailstack.db (SQLite) or db/<table>.jsonl (PostgreSQL), files/<path>,
// blobs/<sha256>, and manifest.json last (what it holds, with each blob's hash and size).
//
// Implementation notes (invariants a newcomer must not break):
// - Consistent while the node runs: SQLite through `VACUUM INTO` (one read transaction, writers go
//   on), PostgreSQL through one REPEATABLE READ READ ONLY transaction that reads every table by
//   cursor. Blobs are copied after the snapshot: a message's blob is fsynced before its row
//   commits, so every blob the snapshot names exists then (one deleted by retention in between is
//   listed as missing in the manifest, never silently).
// - Incremental: with a base backup, blobs the base already holds are named in the manifest
//   (`from_base`) but not copied; restore takes them from the base, which it checks first.
// - The key: HKDF-SHA256 of the master key, or scrypt of --key, with a random salt per file.
//   Verify and restore check the checksum, then decrypt everything and check the tag, each blob's
//   hash and the manifest before anything is written; restore writes only into an empty target.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import BetterSqlite3 from 'better-sqlite3';
import { Migrator, PostgresAdapter, sql } from 'kysely';
import pg from 'pg';
import tar from 'tar-stream';
import { sqlitePath } from '../config/settings.ts';
import type { Core } from '../core/core.ts';
import { openStore } from '../db/database.ts';
import { migrationNames, migrationProvider } from '../db/migrate.ts';
import { registerRetentionKind } from '../privacy/retention.ts';

const MAGIC = Buffer.from('MSBACKUP1\n');
const TAG = 16;
const SUM = 32;
const BLOB = /^[0-9a-f]{64}$/;
/** Top-level names of the data folder that are not copied as plain files. */
const SKIP = new Set(['blobs', 'exports', 'backups']);

export interface BackupHeader {
  version: 1;
  created_at: string;
  store: 'sqlite' | 'postgres';
  migrations: string[];
  key: { kind: 'master'; key_id: string; salt: string } | { kind: 'passphrase'; salt: string };
  iv: string;
  /** File name and checksum of the base backup, when incremental. */
  base: { file: string; sha256: string } | null;
}

export interface Manifest {
  created_at: string;
  store: 'sqlite' | 'postgres';
  tables: Record<string, number> | null;
  files: string[];
  blobs: { id: string; size: number }[];
  from_base: string[];
  missing: string[];
}

export interface Progress {
  setTotal(n: number): void;
  tick(n?: number, label?: string): void;
}

export class BackupError extends Error {}

/** The key of one file: from the master key (HKDF) or a passphrase (scrypt). */
function fileKey(key: { master?: Buffer; passphrase?: string }, salt: Buffer): Buffer {
  if (key.passphrase !== undefined) return scryptSync(key.passphrase, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  if (!key.master) throw new BackupError('no key: give --key or make the master key available');
  return Buffer.from(hkdfSync('sha256', key.master, salt, 'mailstack backup v1', 32));
}

export function keyIdOf(master: Buffer): string {
  return createHash('sha256').update(master).digest('hex').slice(0, 12);
}

function listBlobs(root: string): string[] {
  const out: string[] = [];
  if (!existsSync(root)) return out;
  for (const a of readdirSync(root)) {
    const pa = path.join(root, a);
    if (!statSync(pa).isDirectory()) continue;
    for (const b of readdirSync(pa)) {
      const pb = path.join(pa, b);
      if (!statSync(pb).isDirectory()) continue;
      for (const f of readdirSync(pb)) if (BLOB.test(f)) out.push(f);
    }
  }
  return out.sort();
}

function listFiles(dataDir: string, dbFile: string | null): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (!rel && SKIP.has(name)) continue;
      if (dbFile && (p === dbFile || p === `${dbFile}-wal` || p === `${dbFile}-shm` || p === `${dbFile}-journal`)) continue;
      if (name.endsWith('.tmp')) continue;
      const s = statSync(p);
      if (s.isDirectory()) walk(p, r);
      else if (s.isFile()) out.push(r);
    }
  };
  if (existsSync(dataDir)) walk(dataDir, '');
  return out.sort();
}

const blobPath = (root: string, id: string) => path.join(root, id.slice(0, 2), id.slice(2, 4), id);

async function addFile(pack: tar.Pack, name: string, file: string): Promise<void> {
  const size = (await stat(file)).size;
  await new Promise<void>((resolve, reject) => {
    const entry = pack.entry({ name, size, mode: 0o600 }, (err) => (err ? reject(err) : resolve()));
    createReadStream(file).on('error', reject).pipe(entry);
  });
}

function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o600 }, data, (err) => (err ? reject(err) : resolve())));
}

/** Every table of the PostgreSQL schema, as JSON Lines files in `dir`, from one snapshot. */
async function snapshotPostgres(url: string, dir: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const counts: Record<string, number> = {};
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables = (await client.query(`select table_name as t from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`)).rows.map((r) => r.t as string);
    for (const t of tables) {
      const quoted = `"${t.replace(/"/g, '""')}"`;
      await client.query(`DECLARE backup_cursor NO SCROLL CURSOR FOR SELECT row_to_json(x)::text AS j FROM ${quoted} x`);
      const out = createWriteStream(path.join(dir, `${t}.jsonl`), { mode: 0o600 });
      let n = 0;
      for (;;) {
        const { rows } = await client.query('FETCH 1000 FROM backup_cursor');
        if (!rows.length) break;
        n += rows.length;
        if (!out.write(rows.map((r) => r.j).join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await client.query('CLOSE backup_cursor');
      counts[t] = n;
    }
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return counts;
}

async function appliedMigrations(core: Core): Promise<string[]> {
  const schema = core.db.getExecutor().adapter instanceof PostgresAdapter ? (await sql<{ s: string }>`select current_schema() as s`.execute(core.db)).rows[0]?.s : undefined;
  const migrator = new Migrator({ db: core.db, migrationTableSchema: schema, provider: migrationProvider });
  return (await migrator.getMigrations()).filter((m) => m.executedAt).map((m) => m.name);
}

export interface BackupOptions {
  out: string;
  /** A passphrase instead of the master key. */
  passphrase?: string;
  /** A previous backup (made with the same key): its blobs are not copied again. */
  base?: string;
  progress?: Progress;
}

/** Makes a backup of the node `core` runs on; returns its manifest. */
export async function createBackup(core: Core, opts: BackupOptions): Promise<Manifest & { file: string; size: number; sha256: string }> {
  const settings = core.settings;
  const work = await mkdtemp(path.join(tmpdir(), 'mailstack-backup-'));
  const tmpOut = `${opts.out}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const store = settings.store;
    const migrations = await appliedMigrations(core);
    // 1. The database snapshot.
    let dbFile: string | null = null;
    let tables: Record<string, number> | null = null;
    const dbEntries: { name: string; file: string }[] = [];
    if (store === 'sqlite') {
      dbFile = sqlitePath(settings.databaseUrl);
      const snap = path.join(work, 'mailstack.db');
      const conn = new BetterSqlite3(dbFile, { readonly: true, fileMustExist: true });
      try {
        conn.pragma('busy_timeout = 10000');
        conn.prepare('VACUUM INTO ?').run(snap);
      } finally {
        conn.close();
      }
      dbEntries.push({ name: 'db/mailstack.db', file: snap });
    } else {
      const dir = path.join(work, 'db');
      mkdirSync(dir);
      tables = await snapshotPostgres(settings.databaseUrl, dir);
      for (const t of Object.keys(tables)) dbEntries.push({ name: `db/${t}.jsonl`, file: path.join(dir, `${t}.jsonl`) });
    }
    // 2. What the base already holds.
    let baseBlobs = new Set<string>();
    let base: BackupHeader['base'] = null;
    if (opts.base) {
      const checked = await readBackup(opts.base, { master: core.vault.current.key, passphrase: opts.passphrase });
      baseBlobs = new Set([...checked.manifest.blobs.map((b) => b.id), ...checked.manifest.from_base]);
      base = { file: path.basename(opts.base), sha256: checked.sha256 };
    }
    const blobRoot = path.join(settings.dataDir, 'blobs');
    const blobs = listBlobs(blobRoot);
    const files = listFiles(settings.dataDir, dbFile);
    opts.progress?.setTotal(dbEntries.length + files.length + blobs.length);

    // 3. The file: header, then tar → gzip → AES-GCM → (hash) → disk.
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const header: BackupHeader = {
      version: 1,
      created_at: new Date(core.clock.now()).toISOString(),
      store,
      migrations,
      key: opts.passphrase !== undefined ? { kind: 'passphrase', salt: salt.toString('base64') } : { kind: 'master', key_id: keyIdOf(core.vault.current.key), salt: salt.toString('base64') },
      iv: iv.toString('base64'),
      base,
    };
    const headerBytes = Buffer.concat([MAGIC, Buffer.from(JSON.stringify(header) + '\n')]);
    const cipher = createCipheriv('aes-256-gcm', fileKey({ master: core.vault.current.key, passphrase: opts.passphrase }, salt), iv);
    cipher.setAAD(headerBytes);
    const sum = createHash('sha256').update(headerBytes);
    const out = createWriteStream(tmpOut, { mode: 0o600 });
    out.write(headerBytes);
    const hashing = new Transform({
      transform(chunk, _enc, cb) {
        sum.update(chunk);
        cb(null, chunk);
      },
    });
    const pack = tar.pack();
    const writing = pipeline(pack, createGzip({ level: 6 }), cipher, hashing, out as Writable, { end: false } as any);

    const manifest: Manifest = { created_at: header.created_at, store, tables, files, blobs: [], from_base: [], missing: [] };
    for (const e of dbEntries) {
      await addFile(pack, e.name, e.file);
      opts.progress?.tick(1, e.name);
    }
    for (const f of files) {
      await addFile(pack, `files/${f}`, path.join(settings.dataDir, f));
      opts.progress?.tick(1, f);
    }
    for (const id of blobs) {
      if (baseBlobs.has(id)) {
        manifest.from_base.push(id);
      } else {
        const p = blobPath(blobRoot, id);
        try {
          const size = (await stat(p)).size;
          await addFile(pack, `blobs/${id}`, p);
          manifest.blobs.push({ id, size });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          manifest.missing.push(id);
        }
      }
      opts.progress?.tick(1, 'blobs');
    }
    await addBuffer(pack, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
    pack.finalize();
    await writing;
    const tag = cipher.getAuthTag();
    sum.update(tag);
    const digest = sum.digest();
    await new Promise<void>((resolve, reject) => out.end(Buffer.concat([tag, digest]), (err?: Error | null) => (err ? reject(err) : resolve())));
    const fh = await open(tmpOut, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmpOut, opts.out);
    return { ...manifest, file: opts.out, size: (await stat(opts.out)).size, sha256: digest.toString('hex') };
  } catch (err) {
    await rm(tmpOut, { force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---- reading ----

export interface BackupKeys {
  master?: Buffer;
  passphrase?: string;
}

async function readHeader(file: string): Promise<{ header: BackupHeader; headerBytes: Buffer; size: number }> {
  const size = (await stat(file)).size;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 64 * 1024));
    await fh.read(head, 0, head.length, 0);
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupError(`${file} is not a Mailstack backup (no MSBACKUP1 header)`);
    const nl = head.indexOf(10, MAGIC.length);
    if (nl < 0) throw new BackupError(`${file}: the header is damaged`);
    let header: BackupHeader;
    try {
      header = JSON.parse(head.subarray(MAGIC.length, nl).toString('utf8'));
    } catch {
      throw new BackupError(`${file}: the header is damaged`);
    }
    if (header.version !== 1) throw new BackupError(`${file}: backup format version ${header.version} is not known to this version of Mailstack`);
    const headerBytes = head.subarray(0, nl + 1);
    if (size < headerBytes.length + TAG + SUM) throw new BackupError(`${file} is truncated`);
    return { header, headerBytes: Buffer.from(headerBytes), size };
  } finally {
    await fh.close();
  }
}

/** The checksum over everything but the last 32 bytes, against those bytes. */
async function checkSum(file: string, size: number): Promise<string> {
  const sum = createHash('sha256');
  await pipeline(createReadStream(file, { start: 0, end: size - SUM - 1 }), async function* (src) {
    for await (const c of src) sum.update(c);
  });
  const fh = await open(file, 'r');
  const stored = Buffer.alloc(SUM);
  await fh.read(stored, 0, SUM, size - SUM);
  await fh.close();
  const actual = sum.digest();
  if (!actual.equals(stored)) throw new BackupError(`${path.basename(file)}: checksum mismatch: the file is damaged or was changed`);
  return actual.toString('hex');
}

export interface Entry {
  name: string;
  size: number;
  stream: Readable;
}

/**
 * Decrypts and unpacks the backup, handing every entry to `onEntry` (which must consume or
 * drain its stream). Throws BackupError when anything does not check out; the tag is checked at
 * the end, so a caller must treat what it received as untrusted until this resolves.
 */
async function unpack(file: string, keys: BackupKeys, onEntry: (e: Entry) => Promise<void>): Promise<{ header: BackupHeader; sha256: string }> {
  const { header, headerBytes, size } = await readHeader(file);
  const sha256 = await checkSum(file, size);
  if (header.key.kind === 'master' && keys.master && keyIdOf(keys.master) !== header.key.key_id && keys.passphrase === undefined) {
    throw new BackupError(`this backup was sealed with master key ${header.key.key_id}; the key given is ${keyIdOf(keys.master)} (set MAILSTACK_MASTER_KEY or --master-key-file)`);
  }
  if (header.key.kind === 'passphrase' && keys.passphrase === undefined) throw new BackupError('this backup was sealed with a passphrase: give it with --key');
  const key = fileKey(header.key.kind === 'passphrase' ? { passphrase: keys.passphrase } : { master: keys.master }, Buffer.from(header.key.salt, 'base64'));
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64'));
  decipher.setAAD(headerBytes);
  const fh = await open(file, 'r');
  const tag = Buffer.alloc(TAG);
  await fh.read(tag, 0, TAG, size - SUM - TAG);
  await fh.close();
  decipher.setAuthTag(tag);
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    onEntry({ name: h.name, size: h.size ?? 0, stream: stream as unknown as Readable }).then(
      () => next(),
      (err) => next(err),
    );
  });
  try {
    await pipeline(createReadStream(file, { start: headerBytes.length, end: size - SUM - TAG - 1 }), decipher, createGunzip(), extract);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${path.basename(file)} does not decrypt and unpack (${(err as Error).message}): wrong key, or the file was changed`);
  }
  return { header, sha256 };
}

export interface CheckedBackup {
  header: BackupHeader;
  manifest: Manifest;
  sha256: string;
  entries: number;
}

/** Verifies a backup end to end without writing anything. */
export async function readBackup(file: string, keys: BackupKeys): Promise<CheckedBackup> {
  let manifest: Manifest | null = null;
  const blobs = new Map<string, number>();
  let entries = 0;
  const { header, sha256 } = await unpack(file, keys, async (e) => {
    entries++;
    if (e.name === 'manifest.json') {
      const chunks: Buffer[] = [];
      for await (const c of e.stream) chunks.push(c);
      manifest = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      return;
    }
    const h = createHash('sha256');
    let n = 0;
    for await (const c of e.stream) {
      h.update(c);
      n += c.length;
    }
    if (e.name.startsWith('blobs/')) {
      const id = e.name.slice(6);
      if (h.digest('hex') !== id) throw new BackupError(`blob ${id} does not match its hash`);
      blobs.set(id, n);
    }
  });
  const m = manifest as Manifest | null;
  if (!m) throw new BackupError(`${path.basename(file)} has no manifest`);
  for (const b of m.blobs) if (blobs.get(b.id) !== b.size) throw new BackupError(`blob ${b.id} listed in the manifest is missing or of the wrong size`);
  if (blobs.size !== m.blobs.length) throw new BackupError('the backup holds blobs its manifest does not list');
  return { header, manifest: m, sha256, entries };
}

export interface RestoreOptions {
  file: string;
  dataDir: string;
  /** Where the database goes: sqlite:<dataDir>/mailstack.db unless a postgres:// URL is given. */
  databaseUrl?: string;
  keys: BackupKeys;
  progress?: Progress;
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).length === 0);
}

/** Restores into an empty data folder (and empty database): verifies first, then writes. */
export async function restoreBackup(opts: RestoreOptions): Promise<{ manifest: Manifest; databaseUrl: string }> {
  if (!isEmptyDir(opts.dataDir)) throw new BackupError(`${opts.dataDir} is not empty: restore only into an empty folder`);
  const checked = await readBackup(opts.file, opts.keys);
  const { header, manifest } = checked;
  const postgres = !!opts.databaseUrl && /^postgres(ql)?:/i.test(opts.databaseUrl);
  if ((header.store === 'postgres') !== postgres) {
    throw new BackupError(`this is a ${header.store} backup: restore it into ${header.store === 'postgres' ? 'a PostgreSQL database (MAILSTACK_DATABASE_URL=postgres://…)' : 'SQLite (no postgres:// MAILSTACK_DATABASE_URL)'}`);
  }
  const databaseUrl = postgres ? opts.databaseUrl! : `sqlite:${path.join(opts.dataDir, 'mailstack.db')}`;
  if (postgres) await assertEmptyPostgres(databaseUrl);
  // Blobs held by the base chain: checked and taken from there.
  const chain: string[] = [];
  let h = header;
  let dir = path.dirname(opts.file);
  while (h.base) {
    const baseFile = path.join(dir, h.base.file);
    if (!existsSync(baseFile)) throw new BackupError(`this backup is incremental: its base ${h.base.file} must be beside it`);
    const b = await readBackup(baseFile, opts.keys);
    if (b.sha256 !== h.base.sha256) throw new BackupError(`the base ${h.base.file} is not the one this backup was made against`);
    chain.push(baseFile);
    h = b.header;
    dir = path.dirname(baseFile);
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  opts.progress?.setTotal(checked.entries);
  const blobRoot = path.join(opts.dataDir, 'blobs');
  const work = await mkdtemp(path.join(tmpdir(), 'mailstack-restore-'));
  try {
    const writeTo = async (e: Entry, target: string) => {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      await pipeline(e.stream, createWriteStream(target, { mode: 0o600 }));
    };
    const jsonl: string[] = [];
    const wanted = new Set(manifest.from_base);
    await unpack(opts.file, opts.keys, async (e) => {
      if (e.name === 'db/mailstack.db' && !postgres) await writeTo(e, path.join(opts.dataDir, 'mailstack.db'));
      else if (e.name.startsWith('db/') && e.name.endsWith('.jsonl') && postgres) {
        const t = e.name.slice(3, -6);
        jsonl.push(t);
        await writeTo(e, path.join(work, `${t}.jsonl`));
      } else if (e.name.startsWith('files/')) {
        const rel = e.name.slice(6);
        const target = path.resolve(opts.dataDir, rel);
        if (!target.startsWith(path.resolve(opts.dataDir) + path.sep)) throw new BackupError(`unsafe path in backup: ${rel}`);
        await writeTo(e, target);
      } else if (e.name.startsWith('blobs/') && BLOB.test(e.name.slice(6))) await writeTo(e, blobPath(blobRoot, e.name.slice(6)));
      else e.stream.resume();
      opts.progress?.tick(1, e.name.split('/')[0]);
    });
    for (const baseFile of chain) {
      if (!wanted.size) break;
      await unpack(baseFile, opts.keys, async (e) => {
        const id = e.name.slice(6);
        if (e.name.startsWith('blobs/') && wanted.has(id)) {
          wanted.delete(id);
          await writeTo(e, blobPath(blobRoot, id));
        } else e.stream.resume();
      });
    }
    if (wanted.size) throw new BackupError(`${wanted.size} blobs named by the backup are in none of its bases`);
    if (postgres) await loadPostgres(databaseUrl, header.migrations, work, jsonl);
  } catch (err) {
    await rm(opts.dataDir, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { manifest, databaseUrl };
}

async function assertEmptyPostgres(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(`select count(*)::int as n from information_schema.tables where table_schema = current_schema()`);
    if (r.rows[0].n > 0) throw new BackupError('the target database is not empty: restore only into an empty database (schema)');
  } finally {
    await c.end();
  }
}

/** Builds the schema as it was (the backup's migrations), then loads every table's rows. */
async function loadPostgres(url: string, migrations: string[], dir: string, tables: string[]): Promise<void> {
  const store = openStore(url);
  try {
    const known = new Set(migrationNames());
    const unknown = migrations.filter((m) => !known.has(m));
    if (unknown.length) throw new BackupError(`the backup needs migrations this version does not have (${unknown.join(', ')}): restore with a newer Mailstack`);
    const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(store.db)).rows[0]?.s;
    const migrator = new Migrator({ db: store.db, migrationTableSchema: schema, provider: migrationProvider });
    const last = migrations.at(-1);
    if (last) {
      const { error } = await migrator.migrateTo(last);
      if (error) throw error;
    }
  } finally {
    await store.close();
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    // Rows go in table by table; foreign keys are checked by the snapshot's consistency, not per row.
    await c.query("SET LOCAL session_replication_role = 'replica'");
    for (const t of tables) {
      if (t.startsWith('kysely_migration')) continue;
      const q = `"${t.replace(/"/g, '""')}"`;
      const cols = (await c.query(`select column_name as c from information_schema.columns where table_schema = current_schema() and table_name = $1 and is_generated = 'NEVER' order by ordinal_position`, [t])).rows.map((r) => `"${r.c}"`);
      const list = cols.join(', ');
      let batch: string[] = [];
      const flush = async () => {
        if (!batch.length) return;
        await c.query(`insert into ${q} (${list}) select ${list} from json_populate_recordset(null::${q}, $1::json)`, [`[${batch.join(',')}]`]);
        batch = [];
      };
      const text = createReadStream(path.join(dir, `${t}.jsonl`), { encoding: 'utf8' });
      let rest = '';
      for await (const chunk of text) {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const l of lines) {
          if (!l) continue;
          batch.push(l);
          if (batch.length >= 500) await flush();
        }
      }
      if (rest) batch.push(rest);
      await flush();
      // Serial columns continue after the restored rows.
      const serials = (await c.query(`select column_name as c from information_schema.columns where table_schema = current_schema() and table_name = $1 and column_default like 'nextval(%'`, [t])).rows;
      for (const s of serials) {
        await c.query(`select setval(pg_get_serial_sequence($1, $2), greatest(coalesce((select max("${s.c}") from ${q}), 0), 1))`, [t, s.c]);
      }
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await c.end();
  }
}

// ---- scheduled backups ----

/** The scheduled backups in `dir` beyond the newest `count`, or older than `days`, oldest first. */
export function dueBackups(dir: string, keep: { count: number } | { days: number }, now = Date.now()): string[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).filter((f) => /^mailstack-.*\.msbk$/.test(f)).sort();
  // Scheduled backups are full (no base), so any of them can go.
  return 'count' in keep ? files.slice(0, Math.max(0, files.length - keep.count)) : files.filter((f) => statSync(path.join(dir, f)).mtimeMs < now - keep.days * 86_400_000);
}

/** Keeps the newest `count` backups in `dir`, or those younger than `days`; returns those removed. */
export async function pruneBackups(dir: string, keep: { count: number } | { days: number }, now = Date.now()): Promise<string[]> {
  const gone = dueBackups(dir, keep, now);
  for (const f of gone) await rm(path.join(dir, f), { force: true });
  return gone;
}

// Backups in the retention table: MAILSTACK_BACKUP_KEEP, a count or days, over MAILSTACK_BACKUP_DIR.
registerRetentionKind({
  name: 'backups',
  description: 'scheduled backup files in MAILSTACK_BACKUP_DIR (a count kept, or days)',
  setting: 'MAILSTACK_BACKUP_KEEP',
  perWorkspace: false,
  window: (core) => core.settings.backupKeep,
  async oldest(core) {
    const dir = core.settings.backupDir;
    if (!existsSync(dir)) return null;
    const times = readdirSync(dir).filter((f) => /^mailstack-.*\.msbk$/.test(f)).map((f) => statSync(path.join(dir, f)).mtimeMs);
    return times.length ? Math.min(...times) : null;
  },
  due: async (core) => dueBackups(core.settings.backupDir, core.settings.backupKeep, core.clock.now()).length,
  purge: async (core) => new Map([[null, { backups: (await pruneBackups(core.settings.backupDir, core.settings.backupKeep, core.clock.now())).length }]]),
});

export function backupFileName(ms: number): string {
  return `mailstack-${new Date(ms).toISOString().replace(/[:.]/g, '-')}.msbk`;
}

export const BACKUP_JOB = 'backup.scheduled';

/** With MAILSTACK_BACKUP_SCHEDULE set: a full backup into MAILSTACK_BACKUP_DIR, then the old ones pruned. */
export function registerScheduledBackups(core: Core, worker: { handle(kind: string, fn: () => Promise<void>): unknown }, scheduler: { every(name: string, ms: number): unknown }): void {
  const every = core.settings.backupScheduleMs;
  if (every === null) return;
  scheduler.every(BACKUP_JOB, every);
  worker.handle(BACKUP_JOB, async () => {
    mkdirSync(core.settings.backupDir, { recursive: true, mode: 0o700 });
    const made = await createBackup(core, { out: path.join(core.settings.backupDir, backupFileName(core.clock.now())) });
    const pruned = await pruneBackups(core.settings.backupDir, core.settings.backupKeep, core.clock.now());
    core.log.info({ file: made.file, size: made.size, blobs: made.blobs.length, pruned }, 'scheduled backup made');
  });
}
