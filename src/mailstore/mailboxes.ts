// Hosted mailboxes (a Resend "inbox" is one): creation with the default folders, look-ups.
//
// Implementation notes:
// - The address is stored lower-cased and is unique on the node (the MX routes by it); it must
//   not also be an alias. Its domain must be the given domain of the same workspace.
// - Deleting a mailbox deletes its rows (folders, messages, threads, labels … cascade from the
//   mailbox row) in one transaction, clears a catch-all pointing at it, and only then, after
//   commit, deletes the bodies no other row refers to (blobs.ts).
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { MailboxesTable, SpecialUse } from '../db/schema.ts';
import { releaseBlobs } from './blobs.ts';
import { type Emit, mailTransaction } from './changes.ts';
import { DEFAULT_FOLDERS, insertFolder } from './folders.ts';

export type Mailbox = MailboxesTable;

export interface CreateMailboxInput {
  workspaceId: string;
  domainId: string;
  /** Full address; lower-cased and checked by the caller's domain rules here. */
  address: string;
  name?: string | null;
  fromName?: string | null;
  mode?: 'mailbox' | 'agent';
  forwarding?: boolean;
  quotaBytes?: number | null;
  ownerUserId?: string | null;
}

/** A local part as RFC 5321 §4.1.2 dot-atom (no quoted local parts for hosted mailboxes), at most 64 octets. */
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** Lower-cases and trims an address and checks its local part; throws 422 when it is not usable. */
export function normalizeMailboxAddress(raw: unknown): { address: string; local: string; domain: string } {
  if (typeof raw !== 'string') throw invalid('The address must be a string.');
  const address = raw.trim().toLowerCase();
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (at < 1 || !domain || local.length > 64 || address.length > 254 || !LOCAL.test(local)) throw invalid(`The address ${raw.slice(0, 300)} is not a valid mailbox address.`);
  return { address, local, domain };
}

const taken = (address: string) => new CoreError(409, 'conflict', `The address ${address} is already in use.`);

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/i.test(e?.message ?? '');
}

/** Creates the mailbox and its folders INBOX, Sent, Drafts, Trash, Junk, Archive (special use set). */
export async function createMailbox(core: Core, tx: Db, emit: Emit, input: CreateMailboxInput): Promise<Mailbox> {
  const { address, domain } = normalizeMailboxAddress(input.address);
  const dom = await tx.selectFrom('domains').select(['id', 'name']).where('id', '=', input.domainId).where('workspace_id', '=', input.workspaceId).executeTakeFirst();
  if (!dom) throw notFound('Domain');
  if (dom.name !== domain) throw invalid(`The address ${address} is not in the domain ${dom.name}.`);
  if (input.quotaBytes !== undefined && input.quotaBytes !== null && (!Number.isSafeInteger(input.quotaBytes) || input.quotaBytes < 0)) throw invalid('The quota must be a whole number of bytes.');
  if (await tx.selectFrom('mailboxes').select('id').where('address', '=', address).executeTakeFirst()) throw taken(address);
  if (await tx.selectFrom('aliases').select('id').where('address', '=', address).executeTakeFirst()) throw taken(address);
  const now = core.clock.now();
  const row: Mailbox = {
    id: newId(now),
    workspace_id: input.workspaceId,
    domain_id: dom.id,
    address,
    name: input.name ?? null,
    from_name: input.fromName ?? null,
    quota_bytes: input.quotaBytes ?? null,
    used_bytes: 0,
    mode: input.mode ?? 'mailbox',
    forwarding: input.forwarding ? 1 : 0,
    agent_json: '{}',
    owner_user_id: input.ownerUserId ?? null,
    created_at: now,
    updated_at: now,
  };
  try {
    await tx.insertInto('mailboxes').values(row).execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw taken(address);
    throw err;
  }
  for (const [use, name] of Object.entries(DEFAULT_FOLDERS) as [SpecialUse, string][]) {
    const f = await insertFolder(core, tx, row, name, use);
    emit({ type: 'folder', mailboxId: row.id, folderId: f.id, action: 'created' });
  }
  return row;
}

/** The mailbox with this address (any workspace; the MX routes by it), or undefined. */
export async function mailboxByAddress(db: Db, address: string): Promise<Mailbox | undefined> {
  if (typeof address !== 'string' || address.length > 320) return undefined;
  return db.selectFrom('mailboxes').selectAll().where('address', '=', address.trim().toLowerCase()).executeTakeFirst();
}

/** The mailbox with this id in the workspace, or undefined (another workspace's is not found). */
export async function mailboxById(db: Db, workspaceId: string, mailboxId: string): Promise<Mailbox | undefined> {
  return db.selectFrom('mailboxes').selectAll().where('id', '=', mailboxId).where('workspace_id', '=', workspaceId).executeTakeFirst();
}

/** Deletes a mailbox with its folders and messages, and releases blobs nothing else refers to. */
export async function deleteMailbox(core: Core, workspaceId: string, mailboxId: string, alsoInTransaction?: (tx: Db, mailbox: Mailbox) => Promise<void>): Promise<void> {
  const blobs = await mailTransaction(core, async (tx, emit) => {
    const mb = await mailboxById(tx, workspaceId, mailboxId);
    if (!mb) throw notFound('Mailbox');
    // The caller's own rows (audit record, webhook event) commit with the deletion or not at all.
    await alsoInTransaction?.(tx, mb);
    const ids = await tx.selectFrom('messages').select('blob_id').distinct().where('mailbox_id', '=', mb.id).execute();
    const folders = await tx.selectFrom('folders').select('id').where('mailbox_id', '=', mb.id).execute();
    // The search rows explicitly, so SQLite's FTS5 delete trigger runs for each.
    await tx.deleteFrom('message_search').where('mailbox_id', '=', mb.id).execute();
    await tx.updateTable('domains').set({ catch_all_mailbox_id: null }).where('catch_all_mailbox_id', '=', mb.id).execute();
    await tx.updateTable('domains').set({ postmaster_mailbox_id: null }).where('postmaster_mailbox_id', '=', mb.id).execute();
    await tx.deleteFrom('mailboxes').where('id', '=', mb.id).execute();
    for (const f of folders) emit({ type: 'folder', mailboxId: mb.id, folderId: f.id, action: 'deleted' });
    return ids.map((r) => r.blob_id);
  });
  await releaseBlobs(core, blobs);
}

/** The quota that applies (own or MAILSTACK_MAILBOX_QUOTA_BYTES). */
export function quotaOf(core: Core, mailbox: Pick<Mailbox, 'quota_bytes'>): number {
  return mailbox.quota_bytes ?? core.settings.mailboxQuotaBytes;
}

/** The quota that applies (own or MAILSTACK_MAILBOX_QUOTA_BYTES) and whether `extra` bytes fit. */
export function quotaAllows(core: Core, mailbox: Mailbox, extra: number): boolean {
  return Number(mailbox.used_bytes) + Math.max(0, extra) <= quotaOf(core, mailbox);
}
