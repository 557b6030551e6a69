// Messages in folders: append, flags, copy, move, expunge — every write the doors make.
// CONTRACT (filled by the mail store helper). Every write takes the transaction and the `emit` of
// `mailTransaction` (changes.ts) so changes are published only after commit.
//
// Invariants: UIDs in a folder strictly increase and are never reused (uid_next only grows);
// every change to a message (new, flags, expunge) takes the folder's next MODSEQ and raises
// highest_modseq (RFC 7162 §3); an expunged UID is remembered in expunged_messages with its MODSEQ.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { MessagesTable, SpecialUse } from '../db/schema.ts';
import type { Emit } from './changes.ts';
import type { Mailbox } from './mailboxes.ts';
import type { ParsedMessage } from './parse.ts';

export type MessageRow = MessagesTable;

/** IMAP system flags as stored: '\\Seen' '\\Answered' '\\Flagged' '\\Deleted' '\\Draft'; others are keywords. */
export type Flag = string;

export interface AppendInput {
  mailbox: Mailbox;
  /** Where to: a folder id, or the folder with this special use. */
  folderId?: string;
  specialUse?: SpecialUse;
  /** The raw message is already in the blob store (put() fsynced it). */
  blobId: string;
  size: number;
  parsed: ParsedMessage;
  internalDate?: number;
  flags?: Flag[];
  direction?: 'inbound' | 'outbound';
  /** The MX's SPF/DKIM/DMARC/ARC verdicts, as JSON-able object. */
  auth?: unknown;
  envelopeFrom?: string | null;
  receivedFor?: string[];
  /** For a Sent copy: the outbound emails row. */
  emailId?: string | null;
  /** Put it in this thread instead of finding one (a reply sent from the API). */
  threadId?: string;
}

export interface AppendedMessage {
  id: string;
  folderId: string;
  uid: number;
  modseq: number;
  uidValidity: number;
  threadId: string;
}

/**
 * Appends a message: UID and MODSEQ from the folder, thread found (References, In-Reply-To, then
 * normalised subject), search text indexed, attachments listed, mailbox used_bytes raised.
 * Does not check the quota (callers decide: the MX refuses with 452, IMAP APPEND with NO [OVERQUOTA]).
 */
export async function appendMessage(_core: Core, _tx: Db, _emit: Emit, _input: AppendInput): Promise<AppendedMessage> {
  throw new Error('not implemented yet');
}

export interface StoreFlagsInput {
  folderId: string;
  uids: number[];
  mode: 'add' | 'remove' | 'replace';
  flags: Flag[];
  /** CONDSTORE UNCHANGEDSINCE (RFC 7162 §3.1.3): messages with a higher MODSEQ are left and reported. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags changed (new MODSEQ) or were asked about, with their flags now. */
  updated: { uid: number; modseq: number; flags: Flag[] }[];
  /** UIDs that failed the UNCHANGEDSINCE test. */
  modified: number[];
}

export async function storeFlags(_core: Core, _tx: Db, _emit: Emit, _input: StoreFlagsInput): Promise<StoreFlagsResult> {
  throw new Error('not implemented yet');
}

export interface CopyResult {
  uidValidity: number;
  /** [source uid, destination uid] in source order (UIDPLUS COPYUID, RFC 4315). */
  mapping: [number, number][];
}

export async function copyMessages(_core: Core, _tx: Db, _emit: Emit, _input: { fromFolderId: string; uids: number[]; toFolderId: string }): Promise<CopyResult> {
  throw new Error('not implemented yet');
}

/** Copy then expunge from the source (RFC 6851 MOVE). */
export async function moveMessages(_core: Core, _tx: Db, _emit: Emit, _input: { fromFolderId: string; uids: number[]; toFolderId: string }): Promise<CopyResult> {
  throw new Error('not implemented yet');
}

/**
 * Removes messages for good: those with \\Deleted (EXPUNGE), limited to `uids` when given (UID EXPUNGE),
 * or exactly `uids` regardless of flags when `force` (API delete, purge). Returns the UIDs removed.
 */
export async function expungeMessages(_core: Core, _tx: Db, _emit: Emit, _input: { folderId: string; uids?: number[]; force?: boolean }): Promise<number[]> {
  throw new Error('not implemented yet');
}

/** The IMAP flags of a row, system flags first. */
export function flagsOf(_row: Pick<MessageRow, 'seen' | 'answered' | 'flagged' | 'deleted' | 'draft' | 'keywords'>): Flag[] {
  throw new Error('not implemented yet');
}
