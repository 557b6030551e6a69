// Allow and block lists of senders, per workspace and per mailbox: an address (`bob@example.com`)
// or a domain (`example.com`, which also covers its subdomains). The most specific entry wins:
// a mailbox's own entries before the workspace's, an address before a domain, a longer domain
// before a shorter one. An allowed sender never goes to Junk; a blocked one goes to Junk or is
// refused (the entry's action).
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { SenderListsTable } from '../db/schema.ts';

export const MAX_LIST_ENTRIES = 5000;

export function normalizePattern(raw: unknown): string {
  if (typeof raw !== 'string' || !raw.trim()) throw invalid('`pattern` must be an address (bob@example.com) or a domain (example.com).');
  const p = raw.trim().toLowerCase().replace(/^@/, '');
  if (p.length > 320) throw invalid('`pattern` is longer than an address may be (320 characters).');
  const at = p.lastIndexOf('@');
  const domain = at >= 0 ? p.slice(at + 1) : p;
  const local = at >= 0 ? p.slice(0, at) : null;
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) || (local !== null && (!local || /[\s<>]/.test(local)))) {
    throw invalid(`${JSON.stringify(raw.slice(0, 100))} is neither an address (bob@example.com) nor a domain (example.com).`);
  }
  return p;
}

export function entryJson(e: SenderListsTable) {
  return { object: 'sender_list_entry' as const, id: e.id, list: e.kind, pattern: e.pattern, action: e.kind === 'block' ? e.action : null, inbox_id: e.mailbox_id, created_at: new Date(e.created_at).toISOString() };
}

export async function addEntry(core: Core, workspaceId: string, input: { mailboxId: string | null; kind: unknown; pattern: unknown; action?: unknown }) {
  if (input.kind !== 'allow' && input.kind !== 'block') throw invalid('`list` must be `allow` or `block`.');
  const pattern = normalizePattern(input.pattern);
  const action = input.kind === 'allow' ? 'none' : (input.action ?? 'junk');
  if (action !== 'none' && action !== 'junk' && action !== 'reject') throw invalid('`action` of a block entry must be `junk` or `reject`.');
  if (input.mailboxId) {
    const m = await core.db.selectFrom('mailboxes').select('id').where('id', '=', input.mailboxId).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!m) throw notFound('Inbox');
  }
  const count = await core.db.selectFrom('sender_lists').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
  if (Number(count.n) >= MAX_LIST_ENTRIES) throw new CoreError(422, 'validation_error', `A workspace may hold at most ${MAX_LIST_ENTRIES} allow and block entries.`);
  let q = core.db.selectFrom('sender_lists').selectAll().where('workspace_id', '=', workspaceId).where('pattern', '=', pattern);
  q = input.mailboxId ? q.where('mailbox_id', '=', input.mailboxId) : q.where('mailbox_id', 'is', null);
  const existing = await q.executeTakeFirst();
  const now = core.clock.now();
  if (existing) {
    await core.db.updateTable('sender_lists').set({ kind: input.kind, action: action as SenderListsTable['action'] }).where('id', '=', existing.id).execute();
    return entryJson({ ...existing, kind: input.kind, action: action as SenderListsTable['action'] });
  }
  const row: SenderListsTable = { id: newId(now), workspace_id: workspaceId, mailbox_id: input.mailboxId, kind: input.kind, pattern, action: action as SenderListsTable['action'], created_at: now };
  await core.db.insertInto('sender_lists').values(row).execute();
  return entryJson(row);
}

export async function listEntries(core: Core, workspaceId: string, mailboxId: string | null) {
  let q = core.db.selectFrom('sender_lists').selectAll().where('workspace_id', '=', workspaceId);
  q = mailboxId ? q.where('mailbox_id', '=', mailboxId) : q.where('mailbox_id', 'is', null);
  const rows = await q.orderBy('id').execute();
  return { object: 'list' as const, has_more: false, data: rows.map(entryJson) };
}

export async function removeEntry(core: Core, workspaceId: string, id: string) {
  const r = await core.db.deleteFrom('sender_lists').where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!Number(r.numDeletedRows)) throw notFound('Sender list entry');
  return { object: 'sender_list_entry' as const, id, deleted: true };
}

/** How specific an entry is for `sender` (higher wins), or -1 when it does not match. */
function specificity(pattern: string, sender: string): number {
  if (pattern.includes('@')) return pattern === sender ? 10_000 : -1;
  const domain = sender.slice(sender.lastIndexOf('@') + 1);
  return domain === pattern || domain.endsWith(`.${pattern}`) ? pattern.length : -1;
}

/** The deciding entry for this mailbox and these senders (envelope and From), or null. */
export async function listDecision(db: Db, workspaceId: string, mailboxId: string, senders: string[]): Promise<SenderListsTable | null> {
  const wanted = senders.map((s) => s.trim().toLowerCase()).filter((s) => s.includes('@'));
  if (!wanted.length) return null;
  const rows = await db
    .selectFrom('sender_lists')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('mailbox_id', '=', mailboxId), eb('mailbox_id', 'is', null)]))
    .execute();
  let best: { row: SenderListsTable; rank: number } | null = null;
  for (const row of rows) {
    for (const s of wanted) {
      const spec = specificity(row.pattern, s);
      if (spec < 0) continue;
      const rank = (row.mailbox_id ? 100_000 : 0) + spec;
      if (!best || rank > best.rank) best = { row, rank };
    }
  }
  return best?.row ?? null;
}
