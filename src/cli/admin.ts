// User and workspace administration from the command line. Output is one JSON value per command.
import type { Command } from 'commander';
import { removeMember, changeRole, listMembers } from '../accounts/members.ts';
import { ensureUser, findUserByEmail, normalizeEmail, setPassword } from '../accounts/users.ts';
import { createWorkspace, getWorkspace } from '../accounts/workspaces.ts';
import { isRole } from '../accounts/roles.ts';
import { audit } from '../audit/audit-log.ts';
import { CoreError, cliActor, notFound } from '../core/core.ts';
import { printJson, withCore } from './context.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function adminCommands(program: Command): void {
  const user = program.command('user').description('manage users');

  user
    .command('list')
    .description('list users')
    .action(() =>
      withCore(async (core) => {
        const rows = await core.db.selectFrom('users').selectAll().orderBy('id').execute();
        printJson(rows.map((u) => ({ id: u.id, email: u.email, name: u.name, has_password: u.password_hash !== null, created_at: iso(u.created_at), disabled_at: iso(u.disabled_at) })));
      }),
    );

  user
    .command('create')
    .description('create a user')
    .requiredOption('--email <email>')
    .option('--password <password>')
    .option('--name <name>')
    .action((opts: { email: string; password?: string; name?: string }) =>
      withCore(async (core) => {
        const { user: u, created } = await core.store.transaction(async (tx) => {
          const r = await ensureUser(core, tx, opts.email, opts.name ?? null);
          if (!r.created) throw new CoreError(409, 'validation_error', `a user with email ${r.user.email} already exists`);
          if (opts.password !== undefined) await setPassword(core, tx, r.user.id, opts.password);
          return r;
        });
        await audit(core, cliActor, { workspaceId: null, action: 'user.created', targetType: 'user', targetId: u.id, data: { email: u.email } });
        printJson({ id: u.id, email: u.email, created });
      }),
    );

  user
    .command('set-password')
    .description("set a user's password")
    .requiredOption('--email <email>')
    .requiredOption('--password <password>')
    .action((opts: { email: string; password: string }) =>
      withCore(async (core) => {
        const u = await findUserByEmail(core.db, normalizeEmail(opts.email));
        if (!u) throw notFound('User');
        await setPassword(core, core.db, u.id, opts.password);
        await audit(core, cliActor, { workspaceId: null, action: 'user.password_set', targetType: 'user', targetId: u.id });
        printJson({ id: u.id, email: u.email, has_password: true });
      }),
    );

  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(name)
      .description(`${name} a user (a disabled user cannot sign in and their sessions end)`)
      .requiredOption('--email <email>')
      .action((opts: { email: string }) =>
        withCore(async (core) => {
          const u = await findUserByEmail(core.db, normalizeEmail(opts.email));
          if (!u) throw notFound('User');
          const now = core.clock.now();
          await core.store.transaction(async (tx) => {
            await tx.updateTable('users').set({ disabled_at: disabled ? now : null, updated_at: now }).where('id', '=', u.id).execute();
            if (disabled) await tx.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', u.id).where('revoked_at', 'is', null).execute();
            await audit(core, cliActor, { workspaceId: null, action: disabled ? 'user.disabled' : 'user.enabled', targetType: 'user', targetId: u.id }, tx);
          });
          printJson({ id: u.id, email: u.email, disabled });
        }),
      );
  }

  const ws = program.command('workspace').description('manage workspaces');

  ws.command('list')
    .description('list workspaces')
    .action(() =>
      withCore(async (core) => {
        const rows = await core.db.selectFrom('workspaces').selectAll().orderBy('id').execute();
        printJson(rows.map((w) => ({ id: w.id, name: w.name, created_at: iso(w.created_at), closed_at: iso(w.closed_at) })));
      }),
    );

  ws.command('create')
    .description('create a workspace owned by a user (created if new)')
    .requiredOption('--name <name>')
    .requiredOption('--owner <email>')
    .action((opts: { name: string; owner: string }) =>
      withCore(async (core) => {
        const w = await core.store.transaction(async (tx) => {
          const { user: u } = await ensureUser(core, tx, opts.owner);
          return createWorkspace(core, tx, cliActor, opts.name, u.id);
        });
        printJson({ id: w.id, name: w.name });
      }),
    );

  ws.command('members')
    .description('list the members of a workspace')
    .requiredOption('--workspace <id>')
    .action((opts: { workspace: string }) =>
      withCore(async (core) => {
        await getWorkspace(core.db, opts.workspace);
        printJson(await listMembers(core.db, opts.workspace));
      }),
    );

  ws.command('add-member')
    .description('add a user (created if new) to a workspace with a role')
    .requiredOption('--workspace <id>')
    .requiredOption('--email <email>')
    .requiredOption('--role <role>', 'owner, admin, developer or viewer')
    .action((opts: { workspace: string; email: string; role: string }) =>
      withCore(async (core) => {
        if (!isRole(opts.role)) throw new CoreError(422, 'validation_error', 'role must be one of owner, admin, developer, viewer');
        await getWorkspace(core.db, opts.workspace);
        const added = await core.store.transaction(async (tx) => {
          const { user: u } = await ensureUser(core, tx, opts.email);
          const existing = await tx.selectFrom('memberships').select('role').where('workspace_id', '=', opts.workspace).where('user_id', '=', u.id).executeTakeFirst();
          if (existing) return { id: u.id, email: u.email, role: existing.role, added: false };
          await tx.insertInto('memberships').values({ workspace_id: opts.workspace, user_id: u.id, role: opts.role, created_at: core.clock.now() }).execute();
          await audit(core, cliActor, { workspaceId: opts.workspace, action: 'member.added', targetType: 'user', targetId: u.id, data: { email: u.email, role: opts.role } }, tx);
          return { id: u.id, email: u.email, role: opts.role, added: true };
        });
        if (!added.added && added.role !== opts.role) {
          printJson(await changeRole(core, cliActor, 'owner', opts.workspace, added.id, opts.role));
          return;
        }
        printJson(added);
      }),
    );

  ws.command('remove-member')
    .description('remove a user from a workspace')
    .requiredOption('--workspace <id>')
    .requiredOption('--email <email>')
    .action((opts: { workspace: string; email: string }) =>
      withCore(async (core) => {
        const u = await findUserByEmail(core.db, normalizeEmail(opts.email));
        if (!u) throw notFound('User');
        printJson(await removeMember(core, cliActor, 'owner', opts.workspace, u.id));
      }),
    );
}
