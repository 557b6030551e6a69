// The `mailstack` command. Every administrative task has a command here; each opens the same core
// the server uses, so they work beside a running server on the same data folder or database.
import { Command } from 'commander';
import { SettingsError, loadSettings, type Settings } from '../config/settings.ts';
import { printJson, withCore } from './context.ts';
import { adminCommands } from './admin.ts';
import { privacyCommands } from './privacy.ts';
import { lifecycleCommands } from './lifecycle.ts';
import { backupCommands } from './backup.ts';
import { contactCommands } from './contacts.ts';
import { abuseCommands } from './abuse.ts';
import { rotateKeys } from './rotate-keys.ts';
import { setup } from './setup.ts';
import { serve } from './serve.ts';
import { INTERRUPTED_EXIT_CODE, startProgress } from './progress.ts';

const program = new Command('mailstack')
  .description('Mailstack: a self-hostable email platform')
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str) });

function settings(): Settings {
  return loadSettings();
}

program
  .command('start')
  .description('start every service on this node')
  .action(async () => {
    await serve(settings());
  });

program
  .command('dev')
  .description('start a development node: a ready workspace, mail captured instead of sent, domains verified without DNS')
  .action(async () => {
    const s = loadSettings(process.env, process.cwd(), { MAILSTACK_MODE: 'development' });
    await serve(s);
  });

program
  .command('setup')
  .description('create (or reuse) a user and workspace and print a new full-access API key as JSON')
  .requiredOption('--email <email>', 'the owner\'s email address')
  .requiredOption('--workspace <name>', 'the workspace name')
  .option('--password <password>', 'set this password for the user')
  .action(async (opts: { email: string; workspace: string; password?: string }) => {
    const out = await withCore((core) => setup(core, opts));
    printJson(out);
  });

program
  .command('migrate')
  .description('apply database migrations and exit (progress on stderr; Ctrl-C stops between two migrations)')
  .action(async () => {
    const s = settings();
    const { openStore } = await import('../db/database.ts');
    const { migrateToLatest } = await import('../db/migrate.ts');
    const store = openStore(s.databaseUrl);
    const progress = startProgress('migrate', { unit: 'migrations' });
    try {
      const report = await migrateToLatest(store.db, {
        onPending: (names) => progress.setTotal(names.length),
        onStep: (name) => progress.step(name),
        signal: progress.signal,
      });
      if (report.remaining) {
        progress.interrupted(`${report.remaining.length} still to apply (${report.remaining[0]} first): run \`mailstack migrate\` again`);
        printJson({ store: s.store, applied: report.applied, current: report.current, remaining: report.remaining });
        process.exitCode = INTERRUPTED_EXIT_CODE;
        return;
      }
      progress.finish(report.applied.length ? `${report.applied.length} applied, now at ${report.current}` : `nothing to apply, at ${report.current}`);
      printJson({ store: s.store, applied: report.applied, current: report.current });
    } finally {
      await store.close();
    }
  });

program
  .command('keys')
  .description('master key tasks')
  .command('rotate')
  .description('generate a new master key and re-encrypt every stored secret under it')
  .action(async () => {
    await rotateKeys(settings());
  });

adminCommands(program);
privacyCommands(program);
lifecycleCommands(program);
backupCommands(program);
contactCommands(program);
abuseCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof SettingsError) {
    process.stderr.write(`mailstack: invalid setting: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`mailstack: ${oneLine(err)}\n`);
  if (process.env.MAILSTACK_LOG_LEVEL === 'debug' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});

/**
 * An error as one line: messages can quote input holding line breaks, and a connection refused on
 * every address of a host name is an AggregateError whose own message is empty.
 */
function oneLine(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  if (!message && err instanceof AggregateError) message = err.errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
  if (!message) message = (err as NodeJS.ErrnoException)?.code ?? (err instanceof Error ? err.name : 'unknown error');
  return message.replace(/\s*[\r\n]+\s*/g, ' ');
}
