// Resend's usage.get for one workspace: messages sent and received this UTC day and month, and
// the storage its mail takes. A self-hosted node sets no quotas of its own: limits are null, except
// the API rate limit (MAILSTACK_API_RATE_LIMIT).
import type { Core } from '../core/core.ts';

function startOfDay(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

function startOfMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export async function workspaceUsage(core: Core, workspaceId: string) {
  const now = core.clock.now();
  const count = async (table: 'email_recipients' | 'messages', since: number) => {
    let q = core.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).where('created_at', '>=', since);
    if (table === 'messages') q = q.where('direction', '=', 'inbound');
    return Number((await q.executeTakeFirstOrThrow()).n);
  };
  const period = async (since: number, resets: number) => {
    // Resend counts each recipient of a sent email.
    const sent = await count('email_recipients', since);
    const received = await count('messages', since);
    return { used: sent, limit: null, sent, received, resets_at: new Date(resets).toISOString() };
  };
  const mailbox = await core.db.selectFrom('mailboxes').select((eb) => eb.fn.sum<number>('used_bytes').as('b')).where('workspace_id', '=', workspaceId).executeTakeFirst();
  const sentBytes = await core.db.selectFrom('emails').select((eb) => eb.fn.sum<number>('size').as('b')).where('workspace_id', '=', workspaceId).where('body_purged_at', 'is', null).executeTakeFirst();
  const domains = await core.db.selectFrom('domains').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  const rate = core.settings.apiRateLimit;
  const mailboxBytes = Number(mailbox?.b ?? 0);
  const outboundBytes = Number(sentBytes?.b ?? 0);
  return {
    object: 'usage' as const,
    emails: { daily: await period(startOfDay(now), startOfDay(now) + 86_400_000), monthly: await period(startOfMonth(now), nextMonth(now)) },
    contacts: { used: 0, limit: null },
    segments: { used: 0, limit: null },
    broadcasts: { used: 0, limit: null },
    ai_credits: { used: 0, limit: null, next_increase_at: null },
    automation_runs: { used: 0, limit: null, resets_at: new Date(nextMonth(now)).toISOString() },
    domains: { used: Number(domains.n), limit: null },
    rate_limit: rate ? { limit: rate.limit, duration: `${rate.windowMs / 1000}s` } : { limit: null, duration: null },
    // Mailstack's own: bytes held for this workspace (hosted mailboxes, and sent messages not yet purged).
    storage: { used_bytes: mailboxBytes + outboundBytes, mailboxes_bytes: mailboxBytes, sent_bytes: outboundBytes },
  };
}
