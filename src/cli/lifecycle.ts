// The CLI of the data lifecycle: retention status and run, closing, reopening, suspending and
// revoking, and the operator's audited break-glass read of an inbox. Output is one JSON value a command.
import type { Command } from 'commander';
import { findUserByEmail, normalizeEmail } from '../accounts/users.ts';
import { CoreError, cliActor, notFound } from '../core/core.ts';
import { readRaw } from '../mailstore/read.ts';
import { closeUser, closeWorkspace, findWorkspace, reopenUser, reopenWorkspace } from '../privacy/closing.ts';
import { cleanReason, recordContentRead } from '../privacy/content-access.ts';
import { retentionStatus, runRetentionKinds } from '../privacy/retention.ts';
import { revokeInbox, setInboxSuspended, setWorkspaceSuspended } from '../privacy/suspension.ts';
import { printJson, withCore } from './context.ts';

function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

export function lifecycleCommands(program: Command): void {
  const retention = program.command('retention').description('retention of data, kind by kind');
  retention
    .command('status')
    .description('the table of windows, with the oldest item of each kind and how many are due')
    .action(() => withCore(async (core) => printJson(await retentionStatus(core))));
  retention
    .command('run')
    .description('run every purge now and print what it removed')
    .action(() => withCore(async (core) => printJson({ removed: await runRetentionKinds(core, { all: true, actor: cliActor }) })));

  const ws = group(program, 'workspace', 'manage workspaces');
  ws.command('close <workspace>')
    .description('close a workspace (id or name): access ends now, data deleted after MAILSTACK_CLOSED_ACCOUNT_DAYS')
    .action((w: string) => withCore(async (core) => printJson(await closeWorkspace(core, cliActor, (await findWorkspace(core.db, w)).id))));
  ws.command('reopen <workspace>')
    .description('reopen a closed workspace before its data is deleted')
    .action((w: string) => withCore(async (core) => printJson(await reopenWorkspace(core, cliActor, (await findWorkspace(core.db, w)).id))));
  ws.command('suspend <workspace>')
    .description('suspend a workspace: API 403, sending 5.7.1, logins refused, inbound refused (4xx) or held')
    .requiredOption('--reason <reason>', 'told to the owners and recorded in the audit log')
    .action((w: string, o: { reason: string }) => withCore(async (core) => printJson(await setWorkspaceSuspended(core, cliActor, w, true, o.reason))));
  ws.command('unsuspend <workspace>')
    .description('lift the suspension of a workspace')
    .action((w: string) => withCore(async (core) => printJson(await setWorkspaceSuspended(core, cliActor, w, false))));

  const user = group(program, 'user', 'manage users');
  const byEmail = async (core: Parameters<Parameters<typeof withCore>[0]>[0], email: string) => {
    const u = await findUserByEmail(core.db, normalizeEmail(email));
    if (!u) throw notFound('User');
    return u;
  };
  user
    .command('close <email>')
    .description("close a user's account (and the workspaces they alone own)")
    .action((e: string) => withCore(async (core) => printJson(await closeUser(core, cliActor, (await byEmail(core, e)).id))));
  user
    .command('reopen <email>')
    .description('reopen a closed account before its data is deleted')
    .action((e: string) => withCore(async (core) => printJson(await reopenUser(core, cliActor, (await byEmail(core, e)).id))));

  const inbox = group(program, 'inbox', 'manage hosted inboxes');
  inbox
    .command('suspend <address>')
    .description('suspend an inbox: logins and sending refused, API 403, inbound refused (4xx) or held')
    .requiredOption('--reason <reason>', 'told to the owner and recorded in the audit log')
    .action((a: string, o: { reason: string }) => withCore(async (core) => printJson(await setInboxSuspended(core, cliActor, a, true, o.reason))));
  inbox
    .command('unsuspend <address>')
    .description('lift the suspension of an inbox')
    .action((a: string) => withCore(async (core) => printJson(await setInboxSuspended(core, cliActor, a, false))));
  inbox
    .command('revoke <address>')
    .description('revoke an inbox name: it stops receiving now; its mail is kept for export until MAILSTACK_CLOSED_ACCOUNT_DAYS, then the name is free')
    .option('--reason <reason>')
    .action((a: string, o: { reason?: string }) => withCore(async (core) => printJson(await revokeInbox(core, cliActor, a, o.reason))));
  inbox
    .command('read <address>')
    .description("the operator's break-glass read of an inbox's mail (audited as content.read with the reason)")
    .requiredOption('--reason <reason>', 'why the mail is read; recorded in the audit log')
    .option('--message <id>', 'print this message in full (raw RFC 5322); without it, list the newest messages')
    .option('--limit <n>', 'how many messages to list', '20')
    .action((a: string, o: { reason: string; message?: string; limit: string }) =>
      withCore(async (core) => {
        const reason = cleanReason(o.reason);
        if (!reason) throw new CoreError(422, 'validation_error', 'Give a reason (--reason "…"): it is recorded in the audit log.');
        const m = await core.db.selectFrom('mailboxes').selectAll().where('address', '=', a.trim().toLowerCase()).executeTakeFirst();
        if (!m) throw notFound('Inbox');
        const reader = { workspaceId: m.workspace_id, actor: cliActor, userId: null, reason };
        if (o.message) {
          const msg = await core.db.selectFrom('messages').selectAll().where('mailbox_id', '=', m.id).where('id', '=', o.message).executeTakeFirst();
          if (!msg) throw notFound('Message');
          await recordContentRead(core, reader, { mailboxId: m.id, what: 'cli', messageId: msg.id, threadId: msg.thread_id });
          printJson({ id: msg.id, subject: msg.subject, from: msg.from_header, raw: (await readRaw(core, msg)).toString('utf8') });
          return;
        }
        const limit = Math.max(1, Math.min(500, Number(o.limit) || 20));
        const rows = await core.db.selectFrom('messages').select(['id', 'subject', 'from_header', 'internal_date', 'snippet']).where('mailbox_id', '=', m.id).orderBy('internal_date', 'desc').limit(limit).execute();
        await recordContentRead(core, reader, { mailboxId: m.id, what: 'cli' });
        printJson(rows.map((r) => ({ id: r.id, subject: r.subject, from: r.from_header, date: new Date(Number(r.internal_date)).toISOString(), snippet: r.snippet })));
      }),
    );
}
