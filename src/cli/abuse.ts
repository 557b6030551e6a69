// Operator commands of the abuse controls (src/abuse/sending.ts), under `mailstack workspace`:
// limits, resume-sending, release-held. Output is one JSON value per command.
import type { Command } from 'commander';
import { cliActor, invalid } from '../core/core.ts';
import { describeLimits, releaseHeld, resumeSending, setLimits } from '../abuse/sending.ts';
import { audit } from '../audit/audit-log.ts';
import { printJson, withCore } from './context.ts';

/** `N`, or `default` (back to the node's setting); 0 is no limit. */
function limitValue(raw: string | undefined, name: string): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'default') return null;
  if (!/^\d{1,10}$/.test(raw)) throw invalid(`--${name} must be a whole number of recipients (0: no limit) or \`default\``);
  return Number(raw);
}

function onOff(raw: string | undefined, name: string, allowDefault: boolean): boolean | null | undefined {
  if (raw === undefined) return undefined;
  if (allowDefault && raw === 'default') return null;
  if (raw === 'on' || raw === 'off') return raw === 'on';
  throw invalid(`--${name} must be on or off${allowDefault ? ' or default' : ''}`);
}

export function abuseCommands(program: Command): void {
  const ws = program.commands.find((c) => c.name() === 'workspace') ?? program.command('workspace').description('manage workspaces');

  ws.command('limits <workspace>')
    .description("show or set a workspace's sending limits (recipients per hour/day; warm-up; executable attachments)")
    .option('--hourly <n>', 'recipients per hour, 0 for no limit, `default` for MAILSTACK_WORKSPACE_HOURLY_LIMIT')
    .option('--daily <n>', 'recipients per 24 hours, 0 for no limit, `default` for MAILSTACK_WORKSPACE_DAILY_LIMIT')
    .option('--warmup <on|off|default>', 'the warm-up limit of a new workspace')
    .option('--refuse-executables <on|off>', 'refuse inbound mail with executable attachments (550 5.7.1)')
    .action((workspace: string, opts: { hourly?: string; daily?: string; warmup?: string; refuseExecutables?: string }) =>
      withCore(async (core) => {
        const change = {
          hourly: limitValue(opts.hourly, 'hourly'),
          daily: limitValue(opts.daily, 'daily'),
          warmup: onOff(opts.warmup, 'warmup', true),
          refuseExecutables: onOff(opts.refuseExecutables, 'refuse-executables', false) ?? undefined,
        };
        const any = Object.values(change).some((v) => v !== undefined);
        printJson(any ? await setLimits(core, cliActor, workspace, change) : await describeLimits(core, workspace));
      }),
    );

  ws.command('resume-sending <workspace>')
    .description('resume a paused workspace: new sends are accepted and held mail is sent')
    .action((workspace: string) =>
      withCore(async (core) => {
        printJson({ workspace_id: workspace, ...(await resumeSending(core, cliActor, workspace)) });
      }),
    );

  ws.command('release-held <workspace>')
    .description('send mail held for review because its content scored as spam (all, or one --email)')
    .option('--email <id>', 'only this email')
    .action((workspace: string, opts: { email?: string }) =>
      withCore(async (core) => {
        const released = await core.store.transaction(async (tx) => {
          const n = await releaseHeld(core, tx, workspace, 'content', opts.email);
          await audit(core, cliActor, { workspaceId: workspace, action: 'emails.held_released', targetType: 'workspace', targetId: workspace, data: { released: n, email_id: opts.email ?? null } }, tx);
          return n;
        });
        printJson({ workspace_id: workspace, released });
      }),
    );
}
