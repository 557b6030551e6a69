// `mailstack contacts import FILE --workspace W`: the CSV import of the API, run here with a
// progress bar (or JSON lines); Ctrl-C stops between two chunks and the import can be resumed.
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { createImport, importJson, importOptionsOf, receiveFile, runImport } from '../campaigns/imports.ts';
import { INTERRUPTED_EXIT_CODE, startProgress } from './progress.ts';
import { printJson, withCore } from './context.ts';

export function contactCommands(program: Command): void {
  const contacts = program.command('contacts').description('campaign contacts');
  contacts
    .command('import')
    .description('import contacts from a CSV file (header row with an email column); prints the import as JSON')
    .argument('<file>', 'the CSV file')
    .requiredOption('--workspace <id or name>', 'the workspace to import into')
    .option('--column-map <json>', 'Resend column map, e.g. {"email":"E-Mail","first_name":"Name"}')
    .option('--on-conflict <mode>', 'upsert (default) or skip an address that is already a contact', 'upsert')
    .option('--resume <import id>', 'go on with an import that was stopped')
    .action((file: string, opts: { workspace: string; columnMap?: string; onConflict: string; resume?: string }) =>
      withCore(async (core) => {
        const ws = await core.db.selectFrom('workspaces').select('id').where((eb) => eb.or([eb('id', '=', opts.workspace), eb('name', '=', opts.workspace)])).execute();
        if (ws.length !== 1) throw new Error(ws.length ? `several workspaces are named ${JSON.stringify(opts.workspace)}: give its id` : `no workspace ${JSON.stringify(opts.workspace)}`);
        let id = opts.resume;
        if (!id) {
          const options = importOptionsOf({ column_map: opts.columnMap, on_conflict: opts.onConflict });
          const stored = await receiveFile(core, createReadStream(file));
          id = await createImport(core, ws[0].id, stored, options, false);
        }
        const progress = startProgress('contacts import', { unit: 'rows' });
        let shown = 0;
        const r = await runImport(core, id, {
          signal: progress.signal,
          onProgress: (row) => {
            if (row.total) progress.setTotal(row.total);
            if (row.processed > shown) progress.step(`${row.created} created, ${row.updated} updated, ${row.failed} failed`, row.processed - shown);
            shown = row.processed;
          },
        });
        if (r.status === 'in_progress') {
          progress.interrupted(`${r.processed} of ${r.total} rows applied: run \`mailstack contacts import ${file} --workspace ${opts.workspace} --resume ${id}\` to go on`);
          process.exitCode = INTERRUPTED_EXIT_CODE;
        } else {
          progress.finish(`${r.status}: ${r.created} created, ${r.updated} updated, ${r.skipped} skipped, ${r.failed} failed`);
          if (r.status === 'failed') process.exitCode = 1;
        }
        printJson(importJson(r));
      }),
    );
}
