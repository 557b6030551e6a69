// Mailboxes: creation with the special-use folders and distinct UIDVALIDITYs, look-up by address,
// quota, deletion that cascades and releases only the bodies nothing else uses; and the test kit.
import { describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { blobStore } from '../outbound/accept.ts';
import { appendRaw, createTestMailbox, parsedMessage, rawMessage } from '../testkit/mailbox.ts';
import { useTestCore } from '../testkit/core.ts';
import { releaseBlobs } from './blobs.ts';
import { mailTransaction } from './changes.ts';
import { listFolders } from './folders.ts';
import { createMailbox, deleteMailbox, mailboxByAddress, quotaAllows } from './mailboxes.ts';

let core: Core;
useTestCore((c) => {
  core = c;
});

describe('createMailbox', () => {
  it('makes the six special-use folders with distinct 32-bit UIDVALIDITYs', async () => {
    const { mailbox, domainName, workspaceId, apiKey } = await createTestMailbox(core, { localPart: 'Alice' });
    expect(mailbox.address).toBe(`alice@${domainName}`);
    expect(apiKey).toMatch(/^ms_/);
    expect(mailbox.workspace_id).toBe(workspaceId);
    const folders = await listFolders(core.db, mailbox.id);
    expect(folders.map((f) => [f.name, f.special_use])).toEqual([
      ['INBOX', 'inbox'],
      ['Archive', 'archive'],
      ['Drafts', 'drafts'],
      ['Junk', 'junk'],
      ['Sent', 'sent'],
      ['Trash', 'trash'],
    ]);
    const validities = folders.map((f) => Number(f.uid_validity));
    expect(new Set(validities).size).toBe(6);
    for (const v of validities) expect(v > 0 && v < 2 ** 32).toBe(true);
    expect(folders.every((f) => Number(f.uid_next) === 1 && f.subscribed === 1)).toBe(true);
  });

  it('finds a mailbox by address in any case, and refuses a taken or foreign address', async () => {
    const a = await createTestMailbox(core, { localPart: 'bob' });
    expect((await mailboxByAddress(core.db, `  BOB@${a.domainName.toUpperCase()} `))?.id).toBe(a.mailbox.id);
    expect(await mailboxByAddress(core.db, `nobody@${a.domainName}`)).toBeUndefined();
    const again = mailTransaction(core, (tx, emit) => createMailbox(core, tx, emit, { workspaceId: a.workspaceId, domainId: a.domainId, address: `Bob@${a.domainName}` }));
    await expect(again).rejects.toMatchObject({ status: 409 });
    const other = mailTransaction(core, (tx, emit) => createMailbox(core, tx, emit, { workspaceId: a.workspaceId, domainId: a.domainId, address: 'bob@elsewhere.example' }));
    await expect(other).rejects.toMatchObject({ status: 422 });
    for (const bad of ['', '@x', 'a b@' + a.domainName, '"q"@' + a.domainName, 'x'.repeat(65) + '@' + a.domainName, 'a..b@' + a.domainName]) {
      const r = mailTransaction(core, (tx, emit) => createMailbox(core, tx, emit, { workspaceId: a.workspaceId, domainId: a.domainId, address: bad }));
      await expect(r).rejects.toMatchObject({ status: 422 });
    }
    // Another workspace cannot put a mailbox into this workspace's domain.
    const b = await createTestMailbox(core);
    const cross = mailTransaction(core, (tx, emit) => createMailbox(core, tx, emit, { workspaceId: b.workspaceId, domainId: a.domainId, address: `eve@${a.domainName}` }));
    await expect(cross).rejects.toMatchObject({ status: 404 });
  });

  it('reuses a workspace and domain in the test kit', async () => {
    const a = await createTestMailbox(core, { address: 'one@kit.example' });
    const b = await createTestMailbox(core, { workspaceId: a.workspaceId, address: 'two@kit.example' });
    expect(b.domainId).toBe(a.domainId);
    expect(b.apiKey).toBeNull();
    const dom = await core.db.selectFrom('domains').selectAll().where('id', '=', a.domainId).executeTakeFirstOrThrow();
    expect(dom.status).toBe('verified');
    expect(JSON.parse(dom.capabilities)).toEqual({ sending: 'enabled', receiving: 'enabled' });
  });
});

describe('quota', () => {
  it('uses the mailbox quota or the node default', async () => {
    const { mailbox } = await createTestMailbox(core, { quotaBytes: 1000 });
    expect(quotaAllows(core, mailbox, 1000)).toBe(true);
    expect(quotaAllows(core, mailbox, 1001)).toBe(false);
    await appendRaw(core, mailbox, Buffer.alloc(600, 'a'), { parsed: parsedMessage({ subject: 'big' }) });
    const after = (await mailboxByAddress(core.db, mailbox.address))!;
    expect(Number(after.used_bytes)).toBe(600);
    expect(quotaAllows(core, after, 400)).toBe(true);
    expect(quotaAllows(core, after, 401)).toBe(false);
    const { mailbox: dflt } = await createTestMailbox(core);
    expect(quotaAllows(core, dflt, core.settings.mailboxQuotaBytes)).toBe(true);
    expect(quotaAllows(core, dflt, core.settings.mailboxQuotaBytes + 1)).toBe(false);
  });
});

describe('deleteMailbox', () => {
  it('removes every row of the mailbox and only the blobs nothing else refers to', async () => {
    const a = await createTestMailbox(core);
    const b = await createTestMailbox(core, { workspaceId: a.workspaceId });
    const shared = rawMessage({ subject: 'shared', text: 'same bytes in two mailboxes' });
    const own = rawMessage({ subject: 'own', text: 'only in a' });
    const m1 = await appendRaw(core, a.mailbox, shared);
    await appendRaw(core, a.mailbox, own);
    await appendRaw(core, b.mailbox, shared);
    const rows = await core.db.selectFrom('messages').select(['id', 'blob_id']).where('mailbox_id', '=', a.mailbox.id).execute();
    const [sharedBlob, ownBlob] = [rows.find((r) => r.id === m1.id)!.blob_id, rows.find((r) => r.id !== m1.id)!.blob_id];
    await core.db.updateTable('domains').set({ catch_all_mailbox_id: a.mailbox.id }).where('id', '=', a.domainId).execute();

    // Another workspace cannot delete it.
    const other = await createTestMailbox(core);
    await expect(deleteMailbox(core, other.workspaceId, a.mailbox.id)).rejects.toMatchObject({ status: 404 });

    await deleteMailbox(core, a.workspaceId, a.mailbox.id);
    expect(await mailboxByAddress(core.db, a.mailbox.address)).toBeUndefined();
    for (const table of ['folders', 'messages', 'threads'] as const) {
      expect(await core.db.selectFrom(table).select('id').where('mailbox_id', '=', a.mailbox.id).execute()).toEqual([]);
    }
    expect(await core.db.selectFrom('message_search').select('id').where('mailbox_id', '=', a.mailbox.id).execute()).toEqual([]);
    expect((await core.db.selectFrom('domains').select('catch_all_mailbox_id').where('id', '=', a.domainId).executeTakeFirstOrThrow()).catch_all_mailbox_id).toBeNull();
    const blobs = blobStore(core);
    expect(await blobs.has(ownBlob)).toBe(false);
    expect(await blobs.has(sharedBlob)).toBe(true);
    expect(await releaseBlobs(core, [sharedBlob])).toBe(0);
    // b still reads its message.
    const bRow = await core.db.selectFrom('messages').select('blob_id').where('mailbox_id', '=', b.mailbox.id).executeTakeFirstOrThrow();
    expect((await blobs.get(bRow.blob_id)).toString()).toContain('same bytes in two mailboxes');
  });
});
