// App passwords: per-mailbox secrets a mail client (IMAP, POP3, submission) logs in with, the
// inbox address being the user name. Shown once at creation, stored as SHA-256 like API keys.
//
// Implementation notes:
// - A password is 200 random bits as 40 base32 letters (RFC 4648 §6 alphabet, lower case) in
//   groups of four joined by '-', e.g. `abcd-efgh-…`. What a user types is canonicalised before
//   hashing (spaces and dashes removed, lower-cased), so it works with or without the dashes.
// - `{id}` in the routes is the inbox id or its address, always within the caller's workspace:
//   another workspace's inbox is "not found", never "forbidden".
// - The workspace setting `mailbox_account_passwords` (JSON in workspaces.settings, default false)
//   lets a mailbox's owner_user_id log in with their account password as well.
import { workspaceSettings } from './workspaces.ts';
import { randomBytes } from 'node:crypto';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid, newId, sha256 } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { AppPasswordsTable, MailboxesTable } from '../db/schema.ts';

export type AppPassword = AppPasswordsTable;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A new app password as shown to the user: 40 base32 letters in groups of four. */
export function generateAppPassword(): string {
  const bytes = randomBytes(25); // 200 bits = exactly 40 base32 letters
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out.match(/.{4}/g)!.join('-');
}

/** The stored form of a typed app password: SHA-256 hex of its canonical form. */
export function appPasswordHash(typed: string): string {
  return sha256(typed.replace(/[\s-]+/g, '').toLowerCase());
}

/** Whether the workspace lets mailbox owners log in with their account password (default no). */
export function mailboxAccountPasswordsAllowed(settingsJson: string): boolean {
  return workspaceSettings(settingsJson).mailbox_account_passwords === true;
}

export async function setMailboxAccountPasswords(core: Core, actor: Actor, workspaceId: string, allowed: boolean): Promise<boolean> {
  if (typeof allowed !== 'boolean') throw invalid('The `mailbox_account_passwords` field must be true or false.');
  return core.store.transaction(async (tx) => {
    const ws = await tx.selectFrom('workspaces').select('settings').where('id', '=', workspaceId).executeTakeFirst();
    if (!ws) throw notFound('Workspace');
    const settings = workspaceSettings(ws.settings);
    const before = settings.mailbox_account_passwords === true;
    settings.mailbox_account_passwords = allowed;
    await tx.updateTable('workspaces').set({ settings: JSON.stringify(settings), updated_at: core.clock.now() }).where('id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'workspace.updated', targetType: 'workspace', targetId: workspaceId, data: { mailbox_account_passwords: { from: before, to: allowed } } }, tx);
    return allowed;
  });
}

/** The caller's inbox named by id or address (case-insensitive), or 404. */
export async function resolveInbox(db: Db, workspaceId: string, ref: string): Promise<MailboxesTable> {
  const q = db.selectFrom('mailboxes').selectAll().where('workspace_id', '=', workspaceId);
  const mailbox = isUuid(ref) ? await q.where('id', '=', ref.toLowerCase()).executeTakeFirst() : ref.includes('@') ? await q.where('address', '=', ref.trim().toLowerCase()).executeTakeFirst() : undefined;
  if (!mailbox) throw notFound('Inbox');
  return mailbox;
}

function checkName(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim().length === 0) throw invalid('The `name` field must be a non-empty string.');
  if ([...raw].length > 50) throw invalid('The `name` field must be at most 50 characters.');
  return raw.trim();
}

export function appPasswordJson(p: AppPassword, inboxId: string) {
  return {
    object: 'app_password' as const,
    id: p.id,
    inbox_id: inboxId,
    name: p.name,
    created_at: new Date(p.created_at).toISOString(),
    last_used_at: p.last_used_at === null ? null : new Date(p.last_used_at).toISOString(),
  };
}

export async function createAppPassword(core: Core, actor: Actor, workspaceId: string, inboxRef: string, input: { name: unknown }) {
  const name = checkName(input.name);
  const now = core.clock.now();
  const password = generateAppPassword();
  const id = newId(now);
  const inbox = await core.store.transaction(async (tx) => {
    const mailbox = await resolveInbox(tx, workspaceId, inboxRef);
    await tx
      .insertInto('app_passwords')
      .values({ id, workspace_id: workspaceId, mailbox_id: mailbox.id, name, password_hash: appPasswordHash(password), created_at: now, last_used_at: null })
      .execute();
    await audit(core, actor, { workspaceId, action: 'app_password.created', targetType: 'app_password', targetId: id, data: { inbox_id: mailbox.id, address: mailbox.address, name } }, tx);
    return mailbox;
  });
  return { object: 'app_password' as const, id, inbox_id: inbox.id, name, password, created_at: new Date(now).toISOString() };
}

export async function listAppPasswords(core: Core, workspaceId: string, inboxRef: string, page: PageRequest) {
  const mailbox = await resolveInbox(core.db, workspaceId, inboxRef);
  const q = core.db.selectFrom('app_passwords').selectAll().where('workspace_id', '=', workspaceId).where('mailbox_id', '=', mailbox.id);
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map((r) => appPasswordJson(r, mailbox.id)) };
}

export async function revokeAppPassword(core: Core, actor: Actor, workspaceId: string, inboxRef: string, id: string) {
  return core.store.transaction(async (tx) => {
    const mailbox = await resolveInbox(tx, workspaceId, inboxRef);
    const row = isUuid(id)
      ? await tx.selectFrom('app_passwords').select(['id', 'name']).where('id', '=', id.toLowerCase()).where('workspace_id', '=', workspaceId).where('mailbox_id', '=', mailbox.id).executeTakeFirst()
      : undefined;
    if (!row) throw notFound('App password');
    await tx.deleteFrom('app_passwords').where('id', '=', row.id).execute();
    await audit(core, actor, { workspaceId, action: 'app_password.revoked', targetType: 'app_password', targetId: row.id, data: { inbox_id: mailbox.id, address: mailbox.address, name: row.name } }, tx);
    return { object: 'app_password' as const, id: row.id, deleted: true };
  });
}

/** Whether an app password still exists (sessions re-check before acting on a revoked one). */
export async function appPasswordAlive(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom('app_passwords').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}
