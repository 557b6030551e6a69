// The workspace's campaign send rate: one token bucket per workspace that every scheduled sender
// (broadcasts, automations) takes from, so two of them running at once share
// MAILSTACK_BROADCAST_RATE messages per second instead of each getting it.
//
// Implementation notes:
// - The bucket lives in the store (workspace_send_rate), so every node of a cluster takes from the
//   same one. It holds at most one second's worth of tokens (the rate) and refills continuously;
//   a taker gets what is there (possibly fewer than asked, possibly none) and waits `waitMs`
//   before asking again. The row is read and written in one transaction, locked on PostgreSQL.
// - A rate of 0 means no limit: every request is granted, nothing is stored.
import type { Core } from '../core/core.ts';

export interface SendTokens {
  /** How many messages the caller may hand over now (0..want). */
  granted: number;
  /** When nothing (or not all) was granted: how long until the next token, in ms. */
  waitMs: number;
}

/** Takes up to `want` send tokens of the workspace's bucket. */
export async function takeSendTokens(core: Core, workspaceId: string, want: number): Promise<SendTokens> {
  const rate = core.settings.broadcastRate;
  if (rate <= 0 || want <= 0) return { granted: Math.max(0, want), waitMs: 0 };
  return core.store.transaction(async (tx) => {
    const now = core.clock.now();
    await tx.insertInto('workspace_send_rate').values({ workspace_id: workspaceId, tokens: rate, updated_at: now }).onConflict((oc) => oc.column('workspace_id').doNothing()).execute();
    let q = tx.selectFrom('workspace_send_rate').selectAll().where('workspace_id', '=', workspaceId);
    if (core.store.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirstOrThrow();
    const elapsed = Math.max(0, now - Number(row.updated_at));
    const tokens = Math.min(rate, Number(row.tokens) + (elapsed * rate) / 1000);
    const granted = Math.min(want, Math.floor(tokens));
    const left = tokens - granted;
    await tx.updateTable('workspace_send_rate').set({ tokens: left, updated_at: now }).where('workspace_id', '=', workspaceId).execute();
    const missing = granted < want ? Math.min(want - granted, rate) - left : 0;
    return { granted, waitMs: missing > 0 ? Math.ceil((missing * 1000) / rate) : 0 };
  });
}
