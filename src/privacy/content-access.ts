// Access to mail content is audited: every read of a message's content (body, raw message,
// attachments, a thread's emails, an export) by anyone other than the inbox's owner
// (mailboxes.owner_user_id) writes a `content.read` audit record: actor, inbox, message, reason.
//
// Implementation notes (invariants a newcomer must not break):
// - Call recordContentRead *before* the content is handed out: a refusal must leave nothing read.
// - A signed-in person (actor type `user`) reading an inbox they do not own must give a reason
//   (HTTP: the X-Mailstack-Access-Reason header or the `access_reason` query field); without one
//   the read is refused with 403 `access_reason_required`. API keys act as the workspace's own
//   software and need none, but are recorded. The CLI's break-glass read always carries one.
// - Reads by one API key of the same message within FOLD_MS are folded into one record whose
//   `count` and `last_read_at` grow, so an agent polling its inbox does not flood the log.
// - The record's target is the mailbox (target_type `mailbox`), so an inbox's owner can list who
//   read their mail (contentReadsOfOwner) without the audit:read permission.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, notFound } from '../core/core.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';

export const CONTENT_READ = 'content.read';
export const ACCESS_REASON_HEADER = 'x-mailstack-access-reason';
/** Reads of one message by one API key within this window are one record. */
export const FOLD_MS = 10 * 60_000;

export interface ContentReader {
  workspaceId: string;
  actor: Actor;
  /** The signed-in user, if any (an owner reading their own inbox is not recorded). */
  userId: string | null;
  reason: string | null;
}

export interface ContentRead {
  mailboxId: string;
  /** What was read: a message's body, its raw form, its attachments, a thread's emails, an export. */
  what: 'message' | 'raw' | 'attachments' | 'thread' | 'export' | 'cli';
  messageId?: string | null;
  threadId?: string | null;
  /** Exports by owners and admins are recorded but not refused without a reason (false). */
  requireReason?: boolean;
}

/** The reason as given, cleaned to one bounded line, or null when absent or blank. */
export function cleanReason(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const r = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 500);
  return r || null;
}

/**
 * Records (or refuses) one read of content. Returns without a record when the reader is the
 * inbox's owner. Throws 403 `access_reason_required` for a person without a reason.
 */
export async function recordContentRead(core: Core, reader: ContentReader, read: ContentRead): Promise<void> {
  const mailbox = await core.db.selectFrom('mailboxes').select(['id', 'workspace_id', 'address', 'owner_user_id']).where('id', '=', read.mailboxId).executeTakeFirst();
  if (!mailbox || mailbox.workspace_id !== reader.workspaceId) throw notFound('Inbox');
  if (reader.userId !== null && mailbox.owner_user_id === reader.userId) return;
  const reason = cleanReason(reader.reason);
  if (!reason && reader.actor.type !== 'api_key' && reader.actor.type !== 'system' && read.requireReason !== false) {
    throw new CoreError(
      403,
      'access_reason_required',
      `${mailbox.address} is not your inbox: reading its mail needs a reason, given in the X-Mailstack-Access-Reason header (or the access_reason field). The read and the reason are recorded in the audit log.`,
    );
  }
  const now = core.clock.now();
  const messageId = read.messageId ?? null;
  if (reader.actor.type === 'api_key' && reader.actor.id) {
    const recent = await core.db
      .selectFrom('audit_log')
      .select(['id', 'data'])
      .where('target_id', '=', mailbox.id)
      .where('actor_id', '=', reader.actor.id)
      .where('created_at', '>', now - FOLD_MS)
      .where('action', '=', CONTENT_READ)
      .orderBy('created_at', 'desc')
      .limit(50)
      .execute();
    for (const r of recent) {
      const data = JSON.parse(r.data ?? '{}');
      if (data.message_id !== messageId || data.thread_id !== (read.threadId ?? null) || data.what !== read.what) continue;
      data.count = (Number(data.count) || 1) + 1;
      data.last_read_at = new Date(now).toISOString();
      await core.db.updateTable('audit_log').set({ data: JSON.stringify(data) }).where('id', '=', r.id).execute();
      return;
    }
  }
  await audit(core, reader.actor, {
    workspaceId: mailbox.workspace_id,
    action: CONTENT_READ,
    targetType: 'mailbox',
    targetId: mailbox.id,
    data: { inbox: mailbox.address, inbox_id: mailbox.id, message_id: messageId, thread_id: read.threadId ?? null, what: read.what, reason, count: 1, last_read_at: new Date(now).toISOString() },
  });
}

/** For the export engineer: one record per inbox an export reads (recorded, never refused). */
export async function recordExportRead(core: Core, actor: Actor, workspaceId: string, mailboxIds: string[], opts: { userId?: string | null; reason?: string | null; exportId?: string } = {}): Promise<void> {
  for (const mailboxId of mailboxIds) {
    await recordContentRead(core, { workspaceId, actor, userId: opts.userId ?? null, reason: opts.reason ?? (opts.exportId ? `export ${opts.exportId}` : 'export') }, { mailboxId, what: 'export', requireReason: false });
  }
}

/** The content reads of the inboxes this user owns in this workspace, newest first. */
export async function contentReadsOfOwner(core: Core, workspaceId: string, userId: string, page: PageRequest) {
  const owned = (await core.db.selectFrom('mailboxes').select('id').where('workspace_id', '=', workspaceId).where('owner_user_id', '=', userId).execute()).map((m) => m.id);
  const q = core.db
    .selectFrom('audit_log')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('action', '=', CONTENT_READ)
    .where('target_id', 'in', owned.length ? owned : ['-']);
  const { rows, has_more } = await paginate(q, 'id', page);
  return {
    object: 'list' as const,
    has_more,
    data: rows.map((r) => ({
      id: r.id,
      object: 'content_read' as const,
      actor: { type: r.actor_type, id: r.actor_id, label: r.actor_label },
      ...JSON.parse(r.data ?? '{}'),
      created_at: new Date(Number(r.created_at)).toISOString(),
    })),
  };
}
