// Operators' suspension of a workspace or an inbox, and the revocation of an inbox name. The
// doors' checks are in gates.ts; this module changes the state, audits it and tells the owner.
//
// Implementation notes:
// - Suspension keeps everything and refuses access; lifting it restores access as it was.
// - A revoked inbox stops receiving and cannot be logged in to at once; its mail stays for the
//   owner's export until MAILSTACK_CLOSED_ACCOUNT_DAYS have passed, then the retention kind
//   `revoked_inboxes` deletes it, and only then is the address free for another inbox.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { ownerEmails } from '../accounts/members.ts';
import { queueSystemMail } from '../outbound/system-mail.ts';
import { findWorkspace } from './closing.ts';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || !reason.trim()) throw invalid('Give a reason (--reason "…"): the owner is told it.');
  if (reason.length > 500 || /[\u0000-\u001f]/.test(reason)) throw invalid('The reason must be one line of at most 500 characters.');
  return reason.trim();
}

/** The owners' addresses of a workspace, or the inbox's owner when it has one. */
async function ownersOf(db: Db, workspaceId: string, ownerUserId: string | null = null): Promise<string[]> {
  if (ownerUserId) {
    const u = await db.selectFrom('users').select('email').where('id', '=', ownerUserId).executeTakeFirst();
    if (u) return [u.email];
  }
  return ownerEmails(db, workspaceId);
}

export async function setWorkspaceSuspended(core: Core, actor: Actor, idOrName: string, suspend: boolean, rawReason?: string) {
  const reason = suspend ? checkReason(rawReason) : null;
  const ws = await findWorkspace(core.db, idOrName);
  const now = core.clock.now();
  if (suspend === !!ws.suspended_at) throw new CoreError(409, 'validation_error', `The workspace is ${suspend ? 'already' : 'not'} suspended.`);
  await core.store.transaction(async (tx) => {
    await tx.updateTable('workspaces').set({ suspended_at: suspend ? now : null, suspended_reason: reason, updated_at: now }).where('id', '=', ws.id).execute();
    await audit(core, actor, { workspaceId: ws.id, action: suspend ? 'workspace.suspended' : 'workspace.unsuspended', targetType: 'workspace', targetId: ws.id, data: reason ? { reason } : null }, tx);
    for (const to of await ownersOf(tx, ws.id)) {
      await queueSystemMail(
        core,
        suspend
          ? { to, subject: `Your Mailstack workspace "${ws.name}" is suspended`, text: `The operator suspended the workspace "${ws.name}" (${ws.id}) on ${iso(now)}.\n\nReason: ${reason}\n\nWhile it is suspended, API calls, SMTP sending and mailbox logins are refused, and mail to it is ${core.settings.suspendedInbound === 'hold' ? 'held' : 'refused temporarily'}. Nothing is deleted.\n` }
          : { to, subject: `Your Mailstack workspace "${ws.name}" is no longer suspended`, text: `The suspension of the workspace "${ws.name}" (${ws.id}) was lifted on ${iso(now)}.\n` },
        tx,
      );
    }
  });
  return { object: 'workspace', id: ws.id, name: ws.name, suspended: suspend, reason };
}

async function mailboxByAddress(db: Db, address: string) {
  const m = await db.selectFrom('mailboxes').selectAll().where('address', '=', String(address ?? '').trim().toLowerCase()).executeTakeFirst();
  if (!m) throw notFound('Inbox');
  return m;
}

export async function setInboxSuspended(core: Core, actor: Actor, address: string, suspend: boolean, rawReason?: string) {
  const reason = suspend ? checkReason(rawReason) : null;
  const m = await mailboxByAddress(core.db, address);
  const now = core.clock.now();
  if (suspend === !!m.suspended_at) throw new CoreError(409, 'validation_error', `The inbox is ${suspend ? 'already' : 'not'} suspended.`);
  await core.store.transaction(async (tx) => {
    await tx.updateTable('mailboxes').set({ suspended_at: suspend ? now : null, suspended_reason: reason, updated_at: now }).where('id', '=', m.id).execute();
    await audit(core, actor, { workspaceId: m.workspace_id, action: suspend ? 'inbox.suspended' : 'inbox.unsuspended', targetType: 'mailbox', targetId: m.id, data: { address: m.address, ...(reason ? { reason } : {}) } }, tx);
    for (const to of await ownersOf(tx, m.workspace_id, m.owner_user_id)) {
      await queueSystemMail(
        core,
        suspend
          ? { to, subject: `Your inbox ${m.address} is suspended`, text: `The operator suspended the inbox ${m.address} on ${iso(now)}.\n\nReason: ${reason}\n\nWhile it is suspended, it cannot be logged in to or send, API calls about it are refused, and mail to it is ${core.settings.suspendedInbound === 'hold' ? 'held' : 'refused temporarily'}. Nothing is deleted.\n` }
          : { to, subject: `Your inbox ${m.address} is no longer suspended`, text: `The suspension of the inbox ${m.address} was lifted on ${iso(now)}.\n` },
        tx,
      );
    }
  });
  return { object: 'inbox', id: m.id, address: m.address, suspended: suspend, reason };
}

export async function revokeInbox(core: Core, actor: Actor, address: string, rawReason?: string) {
  const reason = rawReason === undefined ? null : checkReason(rawReason);
  const m = await mailboxByAddress(core.db, address);
  if (m.revoked_at) throw new CoreError(409, 'validation_error', `The inbox name was already revoked on ${iso(m.revoked_at)}.`);
  const now = core.clock.now();
  const freeAt = now + core.settings.closedAccountDays * DAY;
  await core.store.transaction(async (tx) => {
    await tx.updateTable('mailboxes').set({ revoked_at: now, updated_at: now }).where('id', '=', m.id).execute();
    await audit(core, actor, { workspaceId: m.workspace_id, action: 'inbox.revoked', targetType: 'mailbox', targetId: m.id, data: { address: m.address, reason, mail_deleted_at: iso(freeAt) } }, tx);
    for (const to of await ownersOf(tx, m.workspace_id, m.owner_user_id)) {
      await queueSystemMail(
        core,
        {
          to,
          subject: `The inbox name ${m.address} was revoked`,
          text:
            `The operator revoked the inbox name ${m.address} on ${iso(now)}${reason ? ` (reason: ${reason})` : ''}.\n\n` +
            `It no longer receives mail and cannot be logged in to. Its mail is kept for you to export (POST /v1/exports with { "scope": "inbox" }) until ${iso(freeAt)}, then deleted.\n`,
        },
        tx,
      );
    }
  });
  return { object: 'inbox', id: m.id, address: m.address, revoked: true, mail_deleted_at: iso(freeAt) };
}
