// What suspension, revocation and closing mean at each door, in one place: the checks the HTTP
// API, the SMTP relay, the IMAP and POP3 logins and the MX make before letting anything through.
// This module only reads; src/privacy/suspension.ts and closing.ts change the state.
//
// Implementation notes:
// - A suspended workspace suspends all of its inboxes; an inbox may be suspended on its own.
// - Each door says so in its own terms: HTTP 403 `suspended`, SMTP 550 5.7.1, IMAP NO
//   [UNAVAILABLE], POP3 -ERR [SYS/PERM]; inbound mail 450 4.2.1 or held (MAILSTACK_SUSPENDED_INBOUND).
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import type { Db } from '../db/database.ts';

export interface Suspension {
  scope: 'workspace' | 'inbox';
  reason: string | null;
}

export function suspensionText(s: Suspension): string {
  return `${s.scope === 'workspace' ? 'This workspace' : 'This inbox'} is suspended by the operator${s.reason ? `: ${s.reason.replace(/[\r\n]+/g, ' ').slice(0, 200)}` : ''}`;
}

export async function workspaceSuspension(db: Db, workspaceId: string): Promise<Suspension | null> {
  const ws = await db.selectFrom('workspaces').select(['suspended_at', 'suspended_reason']).where('id', '=', workspaceId).executeTakeFirst();
  return ws?.suspended_at ? { scope: 'workspace', reason: ws.suspended_reason ?? null } : null;
}

/** The suspension that holds an inbox (its workspace's first), or null. */
export async function inboxSuspension(db: Db, mailboxId: string): Promise<Suspension | null> {
  const row = await db
    .selectFrom('mailboxes')
    .innerJoin('workspaces', 'workspaces.id', 'mailboxes.workspace_id')
    .select(['mailboxes.suspended_at as m_at', 'mailboxes.suspended_reason as m_reason', 'workspaces.suspended_at as w_at', 'workspaces.suspended_reason as w_reason'])
    .where('mailboxes.id', '=', mailboxId)
    .executeTakeFirst();
  if (!row) return null;
  if (row.w_at) return { scope: 'workspace', reason: row.w_reason ?? null };
  if (row.m_at) return { scope: 'inbox', reason: row.m_reason ?? null };
  return null;
}

/** For the API: 403 `suspended` when the caller's workspace is suspended. */
export async function assertWorkspaceNotSuspended(core: Core, workspaceId: string): Promise<void> {
  const s = await workspaceSuspension(core.db, workspaceId);
  if (s) throw new CoreError(403, 'suspended', `${suspensionText(s)}. API calls are refused until it is lifted.`);
}

/** For the API: 403 `suspended` when this inbox (or its workspace) is suspended. */
export function assertInboxNotSuspended(inbox: { suspended_at?: number | null; suspended_reason?: string | null }): void {
  if (inbox.suspended_at) throw new CoreError(403, 'suspended', `${suspensionText({ scope: 'inbox', reason: inbox.suspended_reason ?? null })}. Calls about it are refused until it is lifted.`);
}

export type InboundGate = { ok: true } | { ok: false; code: 550 | 450; enhanced: '5.2.1' | '4.2.1'; message: string };

/** What the MX answers for mail to these mailboxes of this workspace (RFC 3463 codes). */
export async function inboundGate(core: Core, workspaceId: string, mailboxIds: string[]): Promise<InboundGate> {
  const ws = await core.db.selectFrom('workspaces').select(['closed_at', 'suspended_at', 'suspended_reason']).where('id', '=', workspaceId).executeTakeFirst();
  if (!ws || ws.closed_at !== null) return { ok: false, code: 550, enhanced: '5.2.1', message: 'Mailbox disabled: this account is closed' };
  let suspension: Suspension | null = ws.suspended_at ? { scope: 'workspace', reason: null } : null;
  if (!suspension) {
    for (const id of mailboxIds) {
      const m = await core.db.selectFrom('mailboxes').select('suspended_at').where('id', '=', id).executeTakeFirst();
      if (m?.suspended_at) suspension = { scope: 'inbox', reason: null };
    }
  }
  // The reason is for the owner, not for strangers sending mail: it is not given here.
  if (suspension && core.settings.suspendedInbound === 'refuse') {
    return { ok: false, code: 450, enhanced: '4.2.1', message: 'Mailbox temporarily disabled (suspended); try again later' };
  }
  return { ok: true };
}
