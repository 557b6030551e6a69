// `mailstack export` and `mailstack erase`: the same core services as /v1/exports and /v1/erasures,
// run in this process (an export with a progress bar), as the CLI actor.
import { copyFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { type Core, cliActor, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import { eraseAddress, erasureJson } from '../privacy/erasure.ts';
import { exportJson, requestExport, runExport } from '../privacy/export.ts';
import { printJson, withCore } from './context.ts';
import { startProgress } from './progress.ts';

/** A workspace by id or by name (names need not be unique: an ambiguous name is refused). */
export async function resolveWorkspace(core: Core, idOrName: string): Promise<string> {
  if (isUuid(idOrName)) {
    const w = await core.db.selectFrom('workspaces').select('id').where('id', '=', idOrName).executeTakeFirst();
    if (w) return w.id;
  }
  const rows = await core.db.selectFrom('workspaces').select('id').where('name', '=', idOrName).limit(2).execute();
  if (rows.length > 1) throw new Error(`more than one workspace is named ${JSON.stringify(idOrName)}: give its id`);
  if (!rows.length) throw notFound('Workspace');
  return rows[0].id;
}

export function privacyCommands(program: Command): void {
  program
    .command('export')
    .description("export a workspace's data (or a person's, or one inbox's) to a zip of JSON Lines and mbox files")
    .requiredOption('--workspace <id-or-name>')
    .option('--person <email>', "only the records that name this address")
    .option('--inbox <address-or-id>', 'only this inbox')
    .requiredOption('--out <file>', 'where to write the zip')
    .action((opts: { workspace: string; person?: string; inbox?: string; out: string }) =>
      withCore(async (core) => {
        if (opts.person && opts.inbox) throw new Error('give --person or --inbox, not both');
        const workspaceId = await resolveWorkspace(core, opts.workspace);
        const body = opts.person ? { scope: 'person', email: opts.person } : opts.inbox ? { scope: 'inbox', inbox_id: opts.inbox } : { scope: 'workspace' };
        const row = await requestExport(core, cliActor, workspaceId, body, { enqueue: false });
        const progress = startProgress('export', { unit: 'items' });
        let shown = 0;
        const done = await runExport(core, row.id, (d, total) => {
          if (shown === 0) progress.setTotal(total);
          progress.tick(d - shown, 'writing');
          shown = d;
        });
        if (done.status !== 'completed' || !done.file) throw new Error(`export ${row.id} ${done.status}: ${done.error ?? 'no file'}`);
        await copyFile(done.file, opts.out);
        progress.finish(`${shown} items, ${done.size} bytes written to ${opts.out}`);
        printJson({ ...exportJson(core, done), file: opts.out, size: done.size });
      }),
    );

  program
    .command('erase')
    .description('erase every trace of an address from a workspace (only a keyed hash stays, so it is never contacted again)')
    .requiredOption('--workspace <id-or-name>')
    .requiredOption('--email <email>')
    .option('--include-mailbox-content', 'also remove hosted-inbox mail from, to or naming the address')
    .action((opts: { workspace: string; email: string; includeMailboxContent?: boolean }) =>
      withCore(async (core) => {
        const workspaceId = await resolveWorkspace(core, opts.workspace);
        const row = await eraseAddress(core, cliActor, workspaceId, { email: opts.email, include_mailbox_content: !!opts.includeMailboxContent });
        printJson(erasureJson(row));
      }),
    );
}
