// The audit log: every administrative action, every login attempt and (later) every read of mail
// content by an operator. Records are append-only; the retention scheduler is what removes them.
import type { Actor, Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';

export interface AuditEntry {
  workspaceId: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  data?: Record<string, unknown> | null;
}

/** Writes one record. Pass `db` to write it in the same transaction as the action. */
export async function audit(core: Core, actor: Actor, entry: AuditEntry, db: Db = core.db): Promise<void> {
  const now = core.clock.now();
  await db
    .insertInto('audit_log')
    .values({
      id: newId(now),
      workspace_id: entry.workspaceId,
      actor_type: actor.type,
      actor_id: actor.id,
      actor_label: actor.label,
      ip: actor.ip,
      user_agent: actor.userAgent?.slice(0, 512) ?? null,
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      data: entry.data ? JSON.stringify(entry.data) : null,
      created_at: now,
    })
    .execute();
}

export interface AuditPage {
  data: {
    id: string;
    object: 'audit_log_entry';
    action: string;
    actor: { type: string; id: string | null; label: string | null; ip: string | null; user_agent: string | null };
    target: { type: string | null; id: string | null };
    data: unknown;
    created_at: string;
  }[];
  has_more: boolean;
}

/** Newest first, Resend-style cursors: `after` pages to older entries, `before` to newer ones. */
export async function listAudit(core: Core, workspaceId: string, page: PageRequest & { action?: string }): Promise<AuditPage> {
  let q = core.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', workspaceId);
  if (page.action) q = q.where('action', '=', page.action);
  const { rows, has_more } = await paginate(q, 'id', page);
  return {
    has_more,
    data: rows.map((r) => ({
      id: r.id,
      object: 'audit_log_entry',
      action: r.action,
      actor: { type: r.actor_type, id: r.actor_id, label: r.actor_label, ip: r.ip, user_agent: r.user_agent },
      target: { type: r.target_type, id: r.target_id },
      data: r.data ? JSON.parse(r.data) : null,
      created_at: new Date(r.created_at).toISOString(),
    })),
  };
}
