// Folders of a mailbox: the special-use set every mailbox has, user folders, names.
// CONTRACT (filled by the mail store helper).
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { FoldersTable, SpecialUse } from '../db/schema.ts';
import type { Emit } from './changes.ts';

export type Folder = FoldersTable;

/** Special use → the folder name a new mailbox gets. INBOX is always 'INBOX' (RFC 9051 §5.1). */
export const DEFAULT_FOLDERS: Record<SpecialUse, string> = {
  inbox: 'INBOX',
  sent: 'Sent',
  drafts: 'Drafts',
  trash: 'Trash',
  junk: 'Junk',
  archive: 'Archive',
};

/** Resend's folder words (inbox, archive, spam, sent, trash) ↔ special use. */
export const RESEND_FOLDERS = { inbox: 'inbox', archive: 'archive', spam: 'junk', sent: 'sent', trash: 'trash' } as const satisfies Record<string, SpecialUse>;

export async function listFolders(_db: Db, _mailboxId: string): Promise<Folder[]> {
  throw new Error('not implemented yet');
}

export async function folderBySpecialUse(_db: Db, _mailboxId: string, _use: SpecialUse): Promise<Folder> {
  throw new Error('not implemented yet');
}

/** By IMAP name; 'INBOX' matches case-insensitively (RFC 9051 §5.1). */
export async function folderByName(_db: Db, _mailboxId: string, _name: string): Promise<Folder | undefined> {
  throw new Error('not implemented yet');
}

/** A user folder; a new UIDVALIDITY. CoreError 409 when the name exists. */
export async function createFolder(_core: Core, _tx: Db, _emit: Emit, _mailboxId: string, _name: string): Promise<Folder> {
  throw new Error('not implemented yet');
}

/** Renames a folder and its children; renaming INBOX moves its messages to a new folder (RFC 9051 §6.3.6). */
export async function renameFolder(_core: Core, _tx: Db, _emit: Emit, _mailboxId: string, _from: string, _to: string): Promise<void> {
  throw new Error('not implemented yet');
}

/** Deletes a user folder and its messages; special-use folders cannot be deleted (CoreError 422). */
export async function deleteFolder(_core: Core, _tx: Db, _emit: Emit, _mailboxId: string, _name: string): Promise<void> {
  throw new Error('not implemented yet');
}

export async function setSubscribed(_core: Core, _tx: Db, _emit: Emit, _mailboxId: string, _name: string, _subscribed: boolean): Promise<void> {
  throw new Error('not implemented yet');
}
