// Folders: INBOX's case-insensitive name, creation with parents, hostile names, rename (children
// too; INBOX moves its messages), delete (special use refused), subscriptions, and UIDVALIDITY
// never reused for a name.
import { describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { useTestCore } from '../testkit/core.ts';
import { type MailChange, mailTransaction, subscribe } from './changes.ts';
import { createFolder, deleteFolder, folderByName, folderBySpecialUse, listFolders, renameFolder, setSubscribed } from './folders.ts';
import { mailboxByAddress } from './mailboxes.ts';
import { folderStatus, uidsInFolder } from './read.ts';

let core: Core;
useTestCore((c) => {
  core = c;
});
const tx = <T>(fn: Parameters<typeof mailTransaction<T>>[1]) => mailTransaction(core, fn);
const names = async (mailboxId: string) => (await listFolders(core.db, mailboxId)).map((f) => f.name);

describe('folders', () => {
  it('finds INBOX in any case and other names exactly', async () => {
    const { mailbox } = await createTestMailbox(core);
    const inbox = await folderBySpecialUse(core.db, mailbox.id, 'inbox');
    for (const n of ['INBOX', 'inbox', 'InBoX']) expect((await folderByName(core.db, mailbox.id, n))?.id).toBe(inbox.id);
    expect(await folderByName(core.db, mailbox.id, 'sent')).toBeUndefined();
    expect((await folderByName(core.db, mailbox.id, 'Sent'))?.special_use).toBe('sent');
  });

  it('creates folders with their parents, UTF-8 names, and refuses duplicates and hostile names', async () => {
    const { mailbox } = await createTestMailbox(core);
    const changes: MailChange[] = [];
    const off = subscribe(mailbox.id, (c) => changes.push(c));
    const f = await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Projects/2024/Q1'));
    off();
    expect(f.name).toBe('Projects/2024/Q1');
    expect(f.special_use).toBeNull();
    expect(await names(mailbox.id)).toEqual(['INBOX', 'Archive', 'Drafts', 'Junk', 'Projects', 'Projects/2024', 'Projects/2024/Q1', 'Sent', 'Trash']);
    expect(changes.filter((c) => c.type === 'folder' && c.action === 'created')).toHaveLength(3);
    const utf = await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Résumés/日本語'));
    expect((await folderByName(core.db, mailbox.id, 'Résumés/日本語'))?.id).toBe(utf.id);
    // inbox/child is stored under INBOX's canonical spelling.
    await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'inbox/Child'));
    expect(await folderByName(core.db, mailbox.id, 'INBOX/Child')).toBeDefined();

    await expect(tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Projects'))).rejects.toMatchObject({ status: 409 });
    await expect(tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'inbox'))).rejects.toMatchObject({ status: 409 });
    for (const bad of ['', '/lead', 'trail/', 'a//b', 'nul\u0000byte', 'line\r\nbreak', 'wild*', 'wild%', 'x'.repeat(1001), Array(40).fill('d').join('/')]) {
      await expect(tx((t, emit) => createFolder(core, t, emit, mailbox.id, bad))).rejects.toMatchObject({ status: 422 });
    }
    // Another mailbox's folder list is untouched.
    const other = await createTestMailbox(core);
    expect(await names(other.mailbox.id)).toEqual(['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);
  });

  it('renames a folder with its children, keeping ids, UIDs and UIDVALIDITY', async () => {
    const { mailbox } = await createTestMailbox(core);
    const parent = await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Work'));
    const child = await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Work/Clients'));
    await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Workshop'));
    await appendRaw(core, mailbox, rawMessage(), { folder: 'Work/Clients' });
    await tx((t, emit) => renameFolder(core, t, emit, mailbox.id, 'Work', 'Archive/Old Work'));
    expect(await names(mailbox.id)).toEqual(['INBOX', 'Archive', 'Archive/Old Work', 'Archive/Old Work/Clients', 'Drafts', 'Junk', 'Sent', 'Trash', 'Workshop']);
    const moved = (await folderByName(core.db, mailbox.id, 'Archive/Old Work/Clients'))!;
    expect(moved.id).toBe(child.id);
    expect(moved.uid_validity).toBe(child.uid_validity);
    expect(await uidsInFolder(core.db, mailbox.id, moved.id)).toEqual([1]);
    expect((await folderByName(core.db, mailbox.id, 'Archive/Old Work'))!.id).toBe(parent.id);
    await expect(tx((t, emit) => renameFolder(core, t, emit, mailbox.id, 'Workshop', 'Archive'))).rejects.toMatchObject({ status: 409 });
    await expect(tx((t, emit) => renameFolder(core, t, emit, mailbox.id, 'Nope', 'Other'))).rejects.toMatchObject({ status: 404 });
    await expect(tx((t, emit) => renameFolder(core, t, emit, mailbox.id, 'Workshop', 'Workshop/Inner'))).rejects.toMatchObject({ status: 422 });
    await expect(tx((t, emit) => renameFolder(core, t, emit, mailbox.id, 'Workshop', 'INBOX'))).rejects.toMatchObject({ status: 422 });
  });

  it('renaming INBOX moves its messages to the new folder and leaves INBOX empty (RFC 9051 §6.3.6)', async () => {
    const { mailbox } = await createTestMailbox(core);
    for (let i = 0; i < 3; i++) await appendRaw(core, mailbox, rawMessage({ subject: `m${i}` }));
    const inbox = await folderBySpecialUse(core.db, mailbox.id, 'inbox');
    const usedBefore = Number((await mailboxByAddress(core.db, mailbox.address))!.used_bytes);
    await tx((t, emit) => renameFolder(core, t, emit, mailbox.id, 'inbox', 'Old Inbox'));
    const old = (await folderByName(core.db, mailbox.id, 'Old Inbox'))!;
    expect(await uidsInFolder(core.db, mailbox.id, old.id)).toEqual([1, 2, 3]);
    expect(await folderStatus(core.db, mailbox.id, inbox.id)).toMatchObject({ messages: 0, uidNext: 4 });
    expect((await folderByName(core.db, mailbox.id, 'INBOX'))!.id).toBe(inbox.id);
    expect(Number((await mailboxByAddress(core.db, mailbox.address))!.used_bytes)).toBe(usedBefore);
  });

  it('deletes a user folder with its messages but never a special-use folder', async () => {
    const { mailbox } = await createTestMailbox(core);
    await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Temp/Sub'));
    await appendRaw(core, mailbox, rawMessage(), { folder: 'Temp' });
    await tx((t, emit) => deleteFolder(core, t, emit, mailbox.id, 'Temp'));
    expect(await folderByName(core.db, mailbox.id, 'Temp')).toBeUndefined();
    expect(await folderByName(core.db, mailbox.id, 'Temp/Sub')).toBeDefined();
    expect(Number((await mailboxByAddress(core.db, mailbox.address))!.used_bytes)).toBe(0);
    for (const n of ['INBOX', 'Trash', 'Sent', 'Drafts', 'Junk', 'Archive']) {
      await expect(tx((t, emit) => deleteFolder(core, t, emit, mailbox.id, n))).rejects.toMatchObject({ status: 422 });
    }
    await expect(tx((t, emit) => deleteFolder(core, t, emit, mailbox.id, 'Temp'))).rejects.toMatchObject({ status: 404 });
  });

  it('never gives a re-created folder name a UIDVALIDITY it had before, however fast', async () => {
    const { mailbox } = await createTestMailbox(core);
    const seen = new Set<number>();
    for (const f of await listFolders(core.db, mailbox.id)) seen.add(Number(f.uid_validity));
    for (let i = 0; i < 20; i++) {
      const f = await tx((t, emit) => createFolder(core, t, emit, mailbox.id, 'Again'));
      expect(seen.has(Number(f.uid_validity))).toBe(false);
      seen.add(Number(f.uid_validity));
      expect(Number(f.uid_validity)).toBeLessThan(2 ** 32);
      await tx((t, emit) => deleteFolder(core, t, emit, mailbox.id, 'Again'));
    }
  });

  it('subscribes and unsubscribes', async () => {
    const { mailbox } = await createTestMailbox(core);
    await tx((t, emit) => setSubscribed(core, t, emit, mailbox.id, 'Junk', false));
    expect((await folderByName(core.db, mailbox.id, 'Junk'))!.subscribed).toBe(0);
    await tx((t, emit) => setSubscribed(core, t, emit, mailbox.id, 'Junk', true));
    expect((await folderByName(core.db, mailbox.id, 'Junk'))!.subscribed).toBe(1);
    await expect(tx((t, emit) => setSubscribed(core, t, emit, mailbox.id, 'Missing', true))).rejects.toMatchObject({ status: 404 });
  });
});
