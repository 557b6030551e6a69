// `mailstack backup`, `mailstack backup verify` and `mailstack restore` (src/backup/backup.ts).
// The backup runs beside a live node on the same data; restore needs no node and an empty target.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadSettings } from '../config/settings.ts';
import { BackupError, type BackupKeys, createBackup, readBackup, restoreBackup } from '../backup/backup.ts';
import { printJson, withCore } from './context.ts';
import { startProgress } from './progress.ts';

/** The key to open a backup: --key, --master-key-file, MAILSTACK_MASTER_KEY, or <data>/master.key. */
function keysFor(opts: { key?: string; masterKeyFile?: string }): BackupKeys {
  if (opts.key !== undefined) return { passphrase: opts.key };
  if (opts.masterKeyFile) return { master: Buffer.from(readFileSync(opts.masterKeyFile, 'utf8').trim(), 'base64') };
  const s = loadSettings();
  if (s.masterKey) return { master: s.masterKey };
  const file = path.join(s.dataDir, 'master.key');
  if (existsSync(file)) return { master: Buffer.from(readFileSync(file, 'utf8').trim(), 'base64') };
  return {};
}

function fail(err: unknown): never {
  if (err instanceof BackupError) {
    process.stderr.write(`mailstack: backup refused: ${err.message}\n`);
    process.exit(3);
  }
  throw err;
}

export function backupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description('make a consistent, compressed, encrypted backup of this node while it runs')
    .option('--out <file>', 'where to write the backup')
    .option('--key <passphrase>', 'encrypt with this passphrase instead of the master key')
    .option('--base <file>', 'an earlier backup (same key): blobs it holds are not copied again (incremental)')
    .action((opts: { out?: string; key?: string; base?: string }) => {
      if (!opts.out) throw new Error('give --out FILE');
      return withCore(async (core) => {
        const progress = startProgress('backup', { unit: 'files' });
        const made = await createBackup(core, { out: opts.out!, passphrase: opts.key, base: opts.base, progress }).catch(fail);
        progress.finish(`${made.blobs.length} blobs (${made.from_base.length} from the base), ${made.size} bytes written to ${made.file}`);
        printJson({ file: made.file, size: made.size, sha256: made.sha256, store: made.store, blobs: made.blobs.length, from_base: made.from_base.length, missing: made.missing.length, files: made.files.length, tables: made.tables });
      });
    });

  backup
    .command('verify <file>')
    .description('check a backup: checksum, decryption, every blob against its hash, the manifest')
    .option('--key <passphrase>')
    .option('--master-key-file <file>')
    .action(async (file: string, opts: { key?: string; masterKeyFile?: string }) => {
      const checked = await readBackup(file, keysFor(opts)).catch(fail);
      printJson({ ok: true, file, created_at: checked.header.created_at, store: checked.header.store, sha256: checked.sha256, entries: checked.entries, blobs: checked.manifest.blobs.length, from_base: checked.manifest.from_base.length, missing: checked.manifest.missing.length });
    });

  program
    .command('restore <file>')
    .description('restore a backup into an empty data folder (and, for PostgreSQL, the empty database of MAILSTACK_DATABASE_URL)')
    .requiredOption('--data-dir <dir>', 'the new data folder (must not exist or be empty)')
    .option('--key <passphrase>')
    .option('--master-key-file <file>')
    .action(async (file: string, opts: { dataDir: string; key?: string; masterKeyFile?: string }) => {
      const url = process.env.MAILSTACK_DATABASE_URL;
      const progress = startProgress('restore', { unit: 'entries' });
      const done = await restoreBackup({ file, dataDir: path.resolve(opts.dataDir), databaseUrl: url && /^postgres/i.test(url) ? url : undefined, keys: keysFor(opts), progress }).catch(fail);
      progress.finish(`restored into ${opts.dataDir}`);
      printJson({ ok: true, data_dir: path.resolve(opts.dataDir), database_url: done.databaseUrl.replace(/\/\/[^@/]*@/, '//'), blobs: done.manifest.blobs.length + done.manifest.from_base.length });
    });
}
