// Outbound content scoring: before a workspace's message leaves, the spam engine scores it; one that
// scores as spam is held for review (`emails.get` shows `held`) instead of being sent. This is what
// catches a compromised API key or mailbox sending spam in a workspace's name.
//
// Implementation notes (invariants a newcomer must not break):
// - Scored once per email (outbound_content_checks), at its first delivery attempt, by the same
//   engine as inbound mail: rspamd's /checkv2 (with `User` set to the workspace, rspamd's mark of
//   authenticated outbound mail) when MAILSTACK_RSPAMD_URL is set, else the built-in filter, which
//   looks only at content here (GTUBE): blocklists and SPF say nothing about our own outbound.
// - Spam: rspamd's action is reject, add header or rewrite subject, or the score reaches
//   MAILSTACK_SPAM_JUNK_SCORE. Each recipient is then held (held_recipients reason 'content') and
//   waits for `mailstack workspace release-held`, which marks the check released so the message
//   is not held a second time.
// - Forwards of received mail and bounces passed on are not scored here: the inbound filter judged
//   them (junk is not forwarded, src/inbound/deliver.ts). Failing open: an unreachable rspamd
//   falls back to the built-in check, it never stops mail.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { EmailsTable, RecipientStatus } from '../db/schema.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { hasGtube } from '../spam/gtube.ts';
import { RspamdError, rspamdCheck } from '../spam/rspamd.ts';

const JUNK_ACTIONS = new Set(['reject', 'add header', 'rewrite subject']);
const round = (n: number) => Math.round(n * 100) / 100;

async function score(core: Core, email: EmailsTable, raw: Buffer, to: string): Promise<{ engine: string; score: number; action: string; symbols: Record<string, number>; spam: boolean }> {
  if (core.settings.spam.rspamdUrl) {
    try {
      const r = await rspamdCheck(core, raw, { from: email.from_address, rcpt: [to], user: `workspace:${email.workspace_id}` });
      const symbols = Object.fromEntries(Object.entries(r.symbols).filter(([, v]) => v !== 0).map(([k, v]) => [k, round(v)]));
      return { engine: 'rspamd', score: round(r.score), action: r.action, symbols, spam: JUNK_ACTIONS.has(r.action) || r.score >= core.settings.spam.junkScore };
    } catch (err) {
      if (!(err instanceof RspamdError)) throw err;
      core.log.warn({ err: err.message }, 'rspamd unavailable: the built-in check scores this outbound message');
    }
  }
  let gtube = false;
  try {
    const p = await parseMessage(raw);
    gtube = hasGtube(p.subject, p.text, p.html);
  } catch {
    gtube = false; // our own composer made it; a message the parser refuses has no text to judge
  }
  return gtube ? { engine: 'builtin', score: 1000, action: 'reject', symbols: { GTUBE: 1000 }, spam: true } : { engine: 'builtin', score: 0, action: 'no action', symbols: {}, spam: false };
}

/**
 * The delivery job's check (delivery/deliver.ts), after the pause check: true when the recipient
 * was held because its message scored as spam.
 */
export async function holdIfSpam(core: Core, r: { id: string; workspace_id: string; email_id: string; address: string }, email: EmailsTable, raw: Buffer, setStatus: (tx: Db, id: string, status: RecipientStatus) => Promise<boolean>): Promise<boolean> {
  if (email.source === 'forward' || email.source === 'system' || email.envelope_from === '') return false;
  let check = await core.db.selectFrom('outbound_content_checks').select(['spam', 'released_at']).where('email_id', '=', email.id).executeTakeFirst();
  if (!check) {
    const v = await score(core, email, raw, r.address);
    await core.db
      .insertInto('outbound_content_checks')
      .values({ email_id: email.id, workspace_id: email.workspace_id, engine: v.engine, score: v.score, action: v.action, symbols_json: JSON.stringify(v.symbols), spam: v.spam ? 1 : 0, released_at: null, created_at: core.clock.now() })
      .onConflict((oc) => oc.column('email_id').doNothing())
      .execute();
    check = await core.db.selectFrom('outbound_content_checks').select(['spam', 'released_at']).where('email_id', '=', email.id).executeTakeFirstOrThrow();
    if (v.spam) core.log.warn({ emailId: email.id, workspaceId: email.workspace_id, score: v.score, engine: v.engine }, 'outbound message scored as spam: held for review');
  }
  if (Number(check.spam) !== 1 || check.released_at) return false;
  await core.store.transaction(async (tx) => {
    if (!(await setStatus(tx, r.id, 'held'))) return;
    await tx
      .insertInto('held_recipients')
      .values({ recipient_id: r.id, workspace_id: r.workspace_id, email_id: r.email_id, reason: 'content', created_at: core.clock.now() })
      .onConflict((oc) => oc.column('recipient_id').doNothing())
      .execute();
  });
  return true;
}

/** Marks the content checks of released emails, so they are sent rather than held again. */
export async function markReleased(core: Core, tx: Db, emailIds: string[]): Promise<void> {
  if (!emailIds.length) return;
  await tx.updateTable('outbound_content_checks').set({ released_at: core.clock.now() }).where('email_id', 'in', emailIds).execute();
}

/** The content verdict of a sent email, for emails.get (`content_check`), or null before it was scored. */
export async function contentCheckOf(db: Db, emailId: string) {
  const c = await db.selectFrom('outbound_content_checks').selectAll().where('email_id', '=', emailId).executeTakeFirst();
  if (!c) return null;
  return { engine: c.engine, score: Number(c.score), action: c.action, symbols: JSON.parse(c.symbols_json) as Record<string, number>, held: Number(c.spam) === 1 && !c.released_at, released_at: c.released_at ? new Date(Number(c.released_at)).toISOString() : null };
}
