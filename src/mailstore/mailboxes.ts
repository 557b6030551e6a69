// Hosted mailboxes (a Resend "inbox" is one): creation with the default folders, look-ups.
// CONTRACT (filled by the mail store helper).
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { MailboxesTable } from '../db/schema.ts';
import type { Emit } from './changes.ts';

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

/** Creates the mailbox and its folders INBOX, Sent, Drafts, Trash, Junk, Archive (special use set). */
export async function createMailbox(_core: Core, _tx: Db, _emit: Emit, _input: CreateMailboxInput): Promise<Mailbox> {
  throw new Error('not implemented yet');
}

/** The mailbox with this address (any workspace; the MX routes by it), or undefined. */
export async function mailboxByAddress(_db: Db, _address: string): Promise<Mailbox | undefined> {
  throw new Error('not implemented yet');
}

/** Deletes a mailbox with its folders and messages, and releases blobs nothing else refers to. */
export async function deleteMailbox(_core: Core, _workspaceId: string, _mailboxId: string): Promise<void> {
  throw new Error('not implemented yet');
}

/** The quota that applies (own or MAILSTACK_MAILBOX_QUOTA_BYTES) and whether `extra` bytes fit. */
export function quotaAllows(_core: Core, _mailbox: Mailbox, _extra: number): boolean {
  throw new Error('not implemented yet');
}
