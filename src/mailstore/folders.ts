// Folders of a mailbox: the special-use set every mailbox has, user folders, names.
//
// Implementation notes:
// - Names are full IMAP names in UTF-8 with '/' as the hierarchy delimiter (the IMAP door converts
//   modified UTF-7). 'INBOX' is always spelled so and matched case-insensitively (RFC 9051 §5.1);
//   other names are case-sensitive.
// - UIDVALIDITY comes from the mailbox's counter (mailbox_counters, migration 0008): max(now in
//   seconds, last + 1), so it fits in 32 bits until 2106 and a folder deleted and created again
//   under the same name never gets a value it had before (RFC 9051 §2.3.1.1), however fast.
// - Every look-up takes the mailbox id, so a caller cannot reach another mailbox's folder by id.
// - Deleting a folder deletes its messages through expungeMessages (changes, used_bytes, blobs).
// - Subscriptions (RFC 9051 §6.3.7): a folder's own is folders.subscribed; deleting a subscribed
//   folder keeps its name subscribed in folder_subscriptions (the server must not drop it), and a
//   folder created again under that name takes the subscription back. Folders made by IMAP CREATE
//   start unsubscribed (CREATE does not subscribe); the default set and webmail's are subscribed.
import type { Core } from '../core/core.ts';
import { CoreError, invalid, notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { FoldersTable, SpecialUse } from '../db/schema.ts';
import type { Emit } from './changes.ts';
import { expungeMessages, moveMessages } from './messages.ts';

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

export const DELIMITER = '/';
const MAX_NAME = 1000;
const MAX_DEPTH = 32;

const isInbox = (name: string) => name.toUpperCase() === 'INBOX';

/** The stored spelling of a name: INBOX in any case is 'INBOX', and so is an 'inbox/' prefix. */
export function canonicalFolderName(name: string): string {
  if (isInbox(name)) return 'INBOX';
  if (name.length > 6 && isInbox(name.slice(0, 5)) && name[5] === DELIMITER) return `INBOX${name.slice(5)}`;
  return name;
}

/** Checks a folder name: non-empty parts, no control characters, bounded length and depth. */
export function checkFolderName(raw: string): string {
  const name = canonicalFolderName(raw);
  if (!name || name.length > MAX_NAME) throw invalid('A folder name must be 1 to 1000 characters.');
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid('A folder name may not contain control characters.');
  if (/[*%]/.test(name)) throw invalid('A folder name may not contain the IMAP wildcards * and %.');
  const parts = name.split(DELIMITER);
  if (parts.length > MAX_DEPTH) throw invalid('A folder name may have at most 32 levels.');
  if (parts.some((p) => p === '')) throw invalid('A folder name may not have an empty level.');
  return name;
}

/** The next UIDVALIDITY of the mailbox (in the caller's transaction; the counter row serialises). */
export async function nextUidValidity(core: Core, tx: Db, mailboxId: string): Promise<number> {
  const nowSec = Math.floor(core.clock.now() / 1000);
  const row = await tx
    .updateTable('mailbox_counters')
    .set((eb) => ({
      uid_validity_last: eb
        .case()
        .when('uid_validity_last', '<', nowSec)
        .then(nowSec)
        .else(eb('uid_validity_last', '+', 1))
        .end(),
    }))
    .where('mailbox_id', '=', mailboxId)
    .returning('uid_validity_last')
    .executeTakeFirst();
  if (row) return Number(row.uid_validity_last);
  await tx.insertInto('mailbox_counters').values({ mailbox_id: mailboxId, uid_validity_last: nowSec }).execute();
  return nowSec;
}

/**
 * IMAP \Recent (RFC 3501 §2.3.2): claims the folder's messages up to UID `upTo` for one session
 * and returns the mark before the claim — the UIDs in (returned, upTo] are recent in that session
 * and in no other. A compare-and-set, so two sessions selecting at once never both claim a UID.
 */
export async function claimRecent(db: Db, folderId: string, upTo: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const f = await db.selectFrom('folders').select('recent_uid').where('id', '=', folderId).executeTakeFirst();
    if (!f) return upTo;
    const mark = Number(f.recent_uid);
    if (mark >= upTo) return upTo;
    const r = await db.updateTable('folders').set({ recent_uid: upTo }).where('id', '=', folderId).where('recent_uid', '=', mark).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return mark;
  }
  return upTo;
}

/** Inserts a folder row (no checks; callers check the name and existence). */
export async function insertFolder(core: Core, tx: Db, mailbox: { id: string; workspace_id: string }, name: string, specialUse: SpecialUse | null, subscribed = true): Promise<Folder> {
  const now = core.clock.now();
  // A name still subscribed from a deleted folder is subscribed again (RFC 9051 §6.3.7).
  const kept = await tx.deleteFrom('folder_subscriptions').where('mailbox_id', '=', mailbox.id).where('name', '=', name).executeTakeFirst();
  if (Number(kept.numDeletedRows) > 0) subscribed = true;
  const row: Folder = {
    id: newId(now),
    workspace_id: mailbox.workspace_id,
    mailbox_id: mailbox.id,
    name,
    special_use: specialUse,
    uid_validity: await nextUidValidity(core, tx, mailbox.id),
    uid_next: 1,
    highest_modseq: 1,
    recent_uid: 0,
    subscribed: subscribed ? 1 : 0,
    created_at: now,
  };
  await tx.insertInto('folders').values(row).execute();
  return row;
}

export async function listFolders(db: Db, mailboxId: string): Promise<Folder[]> {
  const rows = await db.selectFrom('folders').selectAll().where('mailbox_id', '=', mailboxId).execute();
  // INBOX first, then by name (code-point order, the same on both stores).
  return rows.sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function folderBySpecialUse(db: Db, mailboxId: string, use: SpecialUse): Promise<Folder> {
  const row = await db.selectFrom('folders').selectAll().where('mailbox_id', '=', mailboxId).where('special_use', '=', use).orderBy('created_at').executeTakeFirst();
  if (!row) throw notFound('Folder');
  return row;
}

/** By IMAP name; 'INBOX' matches case-insensitively (RFC 9051 §5.1). */
export async function folderByName(db: Db, mailboxId: string, name: string): Promise<Folder | undefined> {
  return db.selectFrom('folders').selectAll().where('mailbox_id', '=', mailboxId).where('name', '=', canonicalFolderName(name)).executeTakeFirst();
}

/** By id, within the mailbox (undefined for another mailbox's folder). */
export async function folderById(db: Db, mailboxId: string, folderId: string): Promise<Folder | undefined> {
  return db.selectFrom('folders').selectAll().where('mailbox_id', '=', mailboxId).where('id', '=', folderId).executeTakeFirst();
}

async function mailboxRow(tx: Db, mailboxId: string) {
  const mb = await tx.selectFrom('mailboxes').select(['id', 'workspace_id']).where('id', '=', mailboxId).executeTakeFirst();
  if (!mb) throw notFound('Mailbox');
  return mb;
}

const exists = (name: string) => new CoreError(409, 'conflict', `The folder ${name} already exists.`);

/** A user folder (and any missing parents); a new UIDVALIDITY. CoreError 409 when the name exists. */
export async function createFolder(core: Core, tx: Db, emit: Emit, mailboxId: string, rawName: string, opts: { subscribed?: boolean } = {}): Promise<Folder> {
  const subscribed = opts.subscribed ?? true;
  const name = checkFolderName(rawName);
  const mb = await mailboxRow(tx, mailboxId);
  if (await folderByName(tx, mailboxId, name)) throw exists(name);
  const parts = name.split(DELIMITER);
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join(DELIMITER);
    if (!(await folderByName(tx, mailboxId, parent))) {
      const p = await insertFolder(core, tx, mb, parent, null, subscribed);
      emit({ type: 'folder', mailboxId, folderId: p.id, action: 'created' });
    }
  }
  const row = await insertFolder(core, tx, mb, name, null, subscribed);
  emit({ type: 'folder', mailboxId, folderId: row.id, action: 'created' });
  return row;
}

/** Renames a folder and its children; renaming INBOX moves its messages to a new folder (RFC 9051 §6.3.6). */
export async function renameFolder(core: Core, tx: Db, emit: Emit, mailboxId: string, rawFrom: string, rawTo: string, opts: { subscribed?: boolean } = {}): Promise<void> {
  const from = canonicalFolderName(rawFrom);
  const to = checkFolderName(rawTo);
  const mb = await mailboxRow(tx, mailboxId);
  const source = await folderByName(tx, mailboxId, from);
  if (!source) throw notFound('Folder');
  if (to === 'INBOX') throw invalid('A folder cannot be renamed to INBOX.');
  if (await folderByName(tx, mailboxId, to)) throw exists(to);
  if (from !== 'INBOX' && to.startsWith(from + DELIMITER)) throw invalid('A folder cannot be moved under itself.');

  if (from === 'INBOX') {
    // RFC 9051 §6.3.6: the messages move to a new folder of that name; INBOX stays, empty. Its
    // children (if any) are not renamed.
    const target = await createFolder(core, tx, emit, mailboxId, to, opts);
    const uids = await tx.selectFrom('messages').select('uid').where('folder_id', '=', source.id).orderBy('uid').execute();
    if (uids.length) await moveMessages(core, tx, emit, { mailboxId, fromFolderId: source.id, toFolderId: target.id, uids: uids.map((u) => Number(u.uid)) });
    return;
  }

  const all = await listFolders(tx, mailboxId);
  const affected = all.filter((f) => f.name === from || f.name.startsWith(from + DELIMITER));
  for (const f of affected) {
    const newName = to + f.name.slice(from.length);
    if (all.some((o) => o.name === newName && !affected.includes(o))) throw exists(newName);
  }
  // Missing parents of the new name are created, as CREATE does.
  const parts = to.split(DELIMITER);
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join(DELIMITER);
    if (!(await folderByName(tx, mailboxId, parent))) {
      const p = await insertFolder(core, tx, mb, parent, null, opts.subscribed ?? true);
      emit({ type: 'folder', mailboxId, folderId: p.id, action: 'created' });
    }
  }
  // The folder keeps its id, UIDs and UIDVALIDITY: RFC 9051 only requires a new UIDVALIDITY when a
  // name is reused for different messages, and the renamed folder holds the same messages.
  // Longest names first keeps the unique constraint from tripping on a child renamed into a parent's old name.
  for (const f of affected.sort((a, b) => b.name.length - a.name.length)) {
    await tx.updateTable('folders').set({ name: to + f.name.slice(from.length) }).where('id', '=', f.id).execute();
    emit({ type: 'folder', mailboxId, folderId: f.id, action: 'renamed' });
  }
}

/** Deletes a user folder and its messages; special-use folders cannot be deleted (CoreError 422). */
export async function deleteFolder(core: Core, tx: Db, emit: Emit, mailboxId: string, rawName: string): Promise<void> {
  const name = canonicalFolderName(rawName);
  const folder = await folderByName(tx, mailboxId, name);
  if (!folder) throw notFound('Folder');
  if (folder.special_use || name === 'INBOX') throw new CoreError(422, 'validation_error', `The folder ${name} has a special use and cannot be deleted.`);
  const uids = await tx.selectFrom('messages').select('uid').where('folder_id', '=', folder.id).execute();
  if (uids.length) await expungeMessages(core, tx, emit, { mailboxId, folderId: folder.id, uids: uids.map((u) => Number(u.uid)), force: true });
  // Children stay (RFC 9051 §6.3.5 leaves inferior names alone).
  await tx.deleteFrom('folders').where('id', '=', folder.id).where('mailbox_id', '=', mailboxId).execute();
  if (folder.subscribed) {
    await tx.insertInto('folder_subscriptions').values({ mailbox_id: mailboxId, name: folder.name, created_at: core.clock.now() }).onConflict((oc) => oc.doNothing()).execute();
  }
  emit({ type: 'folder', mailboxId, folderId: folder.id, action: 'deleted' });
}

/** Subscribed names that have no folder (RFC 5258 \NonExistent \Subscribed). */
export async function orphanSubscriptions(db: Db, mailboxId: string): Promise<string[]> {
  const rows = await db.selectFrom('folder_subscriptions').select('name').where('mailbox_id', '=', mailboxId).execute();
  return rows.map((r) => r.name);
}

export async function setSubscribed(_core: Core, tx: Db, emit: Emit, mailboxId: string, rawName: string, subscribed: boolean): Promise<void> {
  const folder = await folderByName(tx, mailboxId, rawName);
  // Unsubscribing a name whose folder is gone removes the kept subscription.
  const kept = subscribed ? 0 : Number((await tx.deleteFrom('folder_subscriptions').where('mailbox_id', '=', mailboxId).where('name', '=', canonicalFolderName(rawName)).executeTakeFirst()).numDeletedRows);
  if (!folder && kept) return;
  if (!folder) throw notFound('Folder');
  await tx.updateTable('folders').set({ subscribed: subscribed ? 1 : 0 }).where('id', '=', folder.id).execute();
  emit({ type: 'folder', mailboxId, folderId: folder.id, action: subscribed ? 'subscribed' : 'unsubscribed' });
}
