// Messages: UIDs and MODSEQs (also under concurrent appends), threads, flags with CONDSTORE,
// copy/move/expunge with COPYUID, VANISHED, used_bytes, change events after commit, blob release,
// and the walls between mailboxes.
import { describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { blobStore } from '../outbound/accept.ts';
import { appendRaw, createTestMailbox, parsedMessage, rawMessage } from '../testkit/mailbox.ts';
import { useTestCore } from '../testkit/core.ts';
import { RELEASE_BLOBS_JOB, releaseBlobsHandler } from './blobs.ts';
import { type MailChange, mailTransaction, subscribe } from './changes.ts';
import { folderByName, folderBySpecialUse } from './folders.ts';
import { type Mailbox, mailboxByAddress } from './mailboxes.ts';
import { appendMessage, copyMessages, expungeMessages, flagsOf, moveMessages, storeFlags } from './messages.ts';
import { parseMessage } from './parse.ts';
import { folderStatus, messageById, messagesInFolder, readRaw, streamRaw, uidsInFolder, vanishedSince } from './read.ts';
import { searchText } from './search.ts';
import { normalizeSubject } from './text.ts';

const DAY = 86_400_000;
let core: Core;
useTestCore((c) => {
  core = c;
});

const used = async (m: Mailbox) => Number((await mailboxByAddress(core.db, m.address))!.used_bytes);
const inbox = (m: Mailbox) => folderBySpecialUse(core.db, m.id, 'inbox');
const tx = <T>(fn: Parameters<typeof mailTransaction<T>>[1]) => mailTransaction(core, fn);

/** Runs the queued blob-release jobs now, as the worker would. */
async function runReleaseJobs(): Promise<void> {
  const jobs = await core.db.selectFrom('jobs').selectAll().where('kind', '=', RELEASE_BLOBS_JOB).where('status', '=', 'queued').execute();
  for (const j of jobs) {
    await releaseBlobsHandler(core)(JSON.parse(j.payload));
    await core.db.updateTable('jobs').set({ status: 'done' }).where('id', '=', j.id).execute();
  }
}

describe('appendMessage', () => {
  it('gives strictly increasing UIDs and MODSEQs, indexes, and publishes only after commit', async () => {
    const { mailbox } = await createTestMailbox(core);
    const seen: MailChange[] = [];
    const off = subscribe(mailbox.id, (c) => seen.push(c));
    const raw = rawMessage({ subject: 'First', text: 'Zebras graze quietly.' });
    const a = await appendRaw(core, mailbox, raw);
    const b = await appendRaw(core, mailbox, rawMessage({ subject: 'Second' }), { flags: ['\\Seen', 'Work'] });
    expect([a.uid, b.uid]).toEqual([1, 2]);
    expect(b.modseq).toBeGreaterThan(a.modseq);
    const f = await inbox(mailbox);
    expect(a.uidValidity).toBe(Number(f.uid_validity));
    expect(Number(f.uid_next)).toBe(3);
    expect(Number(f.highest_modseq)).toBe(b.modseq);
    expect(seen.map((c) => c.type === 'new' && [c.uid, c.messageId])).toEqual([
      [1, a.id],
      [2, b.id],
    ]);
    const row = (await messageById(core.db, mailbox.id, a.id))!;
    expect(row).toMatchObject({ subject: 'First', from_address: 'alice@sender.example', size: raw.length, snippet: 'Zebras graze quietly.', direction: 'inbound' });
    expect((await readRaw(core, row)).equals(raw)).toBe(true);
    expect(flagsOf((await messageById(core.db, mailbox.id, b.id))!)).toEqual(['\\Seen', 'Work']);
    expect(await used(mailbox)).toBe(raw.length + rawMessage({ subject: 'Second' }).length);

    // A transaction that fails after the append publishes nothing and leaves no row.
    const before = seen.length;
    const parsed = parsedMessage({ subject: 'rolled back' });
    // A real body: appendMessage refuses a blob id whose bytes are not in the store.
    const body = rawMessage({ subject: 'rolled back' });
    const blobId = await blobStore(core).put(body);
    await expect(
      tx(async (t, emit) => {
        await appendMessage(core, t, emit, { mailbox, blobId, size: body.length, parsed });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(seen.length).toBe(before);
    expect((await folderStatus(core.db, mailbox.id, f.id)).messages).toBe(2);
    off();
  });

  it('lists attachments and indexes sender, recipients, subject and HTML body text', async () => {
    const { mailbox } = await createTestMailbox(core);
    const raw = Buffer.from(
      [
        'From: "Carol Q" <carol@far.example>',
        'To: Dan <dan@near.example>',
        'Cc: erin@near.example',
        'Subject: Quarterly numbers',
        'Message-ID: <att-1@far.example>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<html><head><style>p{color:red}</style><script>var hidden="scriptword"</script></head><body><p>Revenue is &lt;up&gt; &amp; rising</p><p>Second&nbsp;para</p></body></html>',
        '--b1',
        'Content-Type: application/pdf; name="report.pdf"',
        'Content-Disposition: attachment; filename="report.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('%PDF-1.4 fake').toString('base64'),
        '--b1--',
        '',
      ].join('\r\n'),
    );
    const m = await appendRaw(core, mailbox, raw);
    const row = (await messageById(core.db, mailbox.id, m.id))!;
    expect(row.has_attachments).toBe(1);
    expect(row.snippet).toBe('Revenue is <up> & rising Second para');
    const atts = await core.db.selectFrom('message_attachments').selectAll().where('message_id', '=', m.id).execute();
    expect(atts).toMatchObject([{ position: 0, filename: 'report.pdf', content_type: 'application/pdf', disposition: 'attachment', size: 13 }]);
    const search = await core.db.selectFrom('message_search').selectAll().where('message_id', '=', m.id).executeTakeFirstOrThrow();
    expect(search.sender).toBe('Carol Q carol@far.example');
    expect(search.recipients).toBe('Dan dan@near.example erin@near.example');
    expect(search.body).toContain('Revenue is <up> & rising');
    expect(search.body).not.toContain('scriptword');
    expect(search.body).not.toContain('color');

    // A copy carries its attachment and search rows; the raw bytes stream unchanged.
    const archive = await folderBySpecialUse(core.db, mailbox.id, 'archive');
    const inboxId = (await inbox(mailbox)).id;
    const { mapping } = await tx((t, emit) => copyMessages(core, t, emit, { mailboxId: mailbox.id, fromFolderId: inboxId, toFolderId: archive.id, uids: [m.uid] }));
    const copy = (await messagesInFolder(core.db, mailbox.id, archive.id, { uids: [mapping[0][1]] }))[0];
    expect(await core.db.selectFrom('message_attachments').select(['filename', 'size']).where('message_id', '=', copy.id).execute()).toEqual([{ filename: 'report.pdf', size: 13 }]);
    expect(await searchText(core.db, { mailboxId: mailbox.id, folderId: archive.id, field: 'body', needle: 'rising' })).toEqual(new Set([copy.id]));
    const chunks: Buffer[] = [];
    for await (const c of streamRaw(core, copy)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(raw)).toBe(true);
  });

  it('threads by References, In-Reply-To, then normalised subject within 30 days', async () => {
    const { mailbox } = await createTestMailbox(core);
    const now = core.clock.now();
    const m1 = await appendRaw(core, mailbox, rawMessage({ subject: 'Plans for Friday', messageId: 'p1@x' }), { internalDate: now - 3 * DAY });
    const m2 = await appendRaw(core, mailbox, rawMessage({ subject: 'Something else', messageId: 'p2@x', inReplyTo: 'p1@x' }), { internalDate: now - 2 * DAY });
    const m3 = await appendRaw(core, mailbox, rawMessage({ subject: 'x', messageId: 'p3@x', references: ['unknown@x', 'p2@x'] }), { internalDate: now - DAY });
    const m4 = await appendRaw(core, mailbox, rawMessage({ subject: 'RE: Fwd: [team] AW:  plans   for friday', messageId: 'p4@x' }), { internalDate: now });
    expect(new Set([m1.threadId, m2.threadId, m3.threadId, m4.threadId]).size).toBe(1);
    const thread = await core.db.selectFrom('threads').selectAll().where('id', '=', m1.threadId).executeTakeFirstOrThrow();
    expect(thread.last_message_at).toBe(now);
    expect(thread.normalized_subject).toBe('plans for friday');

    // Another mailbox never joins this thread, even with the same ids and subject.
    const other = await createTestMailbox(core);
    const o = await appendRaw(core, other.mailbox, rawMessage({ subject: 'Re: Plans for Friday', inReplyTo: 'p1@x' }));
    expect(o.threadId).not.toBe(m1.threadId);

    // The same subject after more than 30 days of silence starts a new thread; no subject never joins.
    const late = await appendRaw(core, mailbox, rawMessage({ subject: 'Plans for Friday' }), { internalDate: now + 31 * DAY });
    expect(late.threadId).not.toBe(m1.threadId);
    const e1 = await appendRaw(core, mailbox, rawMessage({ subject: '' }), { parsed: parsedMessage({ subject: null }) });
    const e2 = await appendRaw(core, mailbox, rawMessage({ subject: 'Re:' }), { parsed: parsedMessage({ subject: 'Re:' }) });
    expect(e1.threadId).not.toBe(e2.threadId);
  });

  it('normalises subjects without being fooled by hostile ones', () => {
    expect(normalizeSubject('Re: Re[2]: Fwd: FW: Sv: Aw: [ext] [team]  Hello  World (fwd)')).toBe('hello world');
    expect(normalizeSubject(null)).toBe('');
    expect(normalizeSubject('[' + 'x'.repeat(100_000))).toBe(('[' + 'x'.repeat(1999)).toLowerCase());
    const start = Date.now();
    normalizeSubject('Re: '.repeat(50_000) + 'end');
    normalizeSubject('['.repeat(100_000));
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('gives two appends racing into one folder distinct increasing UIDs', async () => {
    const { mailbox } = await createTestMailbox(core);
    const N = 20;
    const parsed = await parseMessage(rawMessage({ subject: 'race' }));
    const blobId = await blobStore(core).put(rawMessage({ subject: 'race' }));
    const results = await Promise.all(
      Array.from({ length: N }, () => mailTransaction(core, (t, emit) => appendMessage(core, t, emit, { mailbox, blobId, size: 100, parsed }))),
    );
    const uids = results.map((r) => r.uid).sort((a, b) => a - b);
    expect(uids).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.modseq)).size).toBe(N);
    const f = await inbox(mailbox);
    expect(await uidsInFolder(core.db, mailbox.id, f.id)).toEqual(uids);
    expect(Number(f.uid_next)).toBe(N + 1);
    expect(await used(mailbox)).toBe(100 * N);
  });
});

describe('concurrent writers', () => {
  it('appends, moves both ways and flag changes at once neither deadlock nor share a UID', async () => {
    const { mailbox } = await createTestMailbox(core);
    const f = await inbox(mailbox);
    const trash = await folderBySpecialUse(core.db, mailbox.id, 'trash');
    for (let i = 0; i < 10; i++) await appendRaw(core, mailbox, rawMessage({ subject: `seed ${i}` }));
    for (let i = 0; i < 10; i++) await appendRaw(core, mailbox, rawMessage({ subject: `trash ${i}` }), { specialUse: 'trash' });
    const parsed = parsedMessage({ subject: 'concurrent' });
    const blobId = await blobStore(core).put(Buffer.from('concurrent'));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      work.push(tx((t, emit) => appendMessage(core, t, emit, { mailbox, blobId, size: 10, parsed })));
      work.push(tx((t, emit) => moveMessages(core, t, emit, { mailboxId: mailbox.id, fromFolderId: f.id, toFolderId: trash.id, uids: [i + 1] })));
      work.push(tx((t, emit) => moveMessages(core, t, emit, { mailboxId: mailbox.id, fromFolderId: trash.id, toFolderId: f.id, uids: [i + 1] })));
      work.push(tx((t, emit) => storeFlags(core, t, emit, { mailboxId: mailbox.id, folderId: f.id, uids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], mode: 'add', flags: [`k${i}`] })));
    }
    const results = await Promise.allSettled(work);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const inInbox = await uidsInFolder(core.db, mailbox.id, f.id);
    const inTrash = await uidsInFolder(core.db, mailbox.id, trash.id);
    expect(inInbox.length + inTrash.length).toBe(30);
    expect(new Set(inInbox).size).toBe(inInbox.length);
    expect(new Set(inTrash).size).toBe(inTrash.length);
    const st = await folderStatus(core.db, mailbox.id, f.id);
    expect(Math.max(...inInbox)).toBeLessThan(st.uidNext);
  });
});

describe('storeFlags', () => {
  it('adds, removes and replaces flags and keywords with a new MODSEQ per changed message', async () => {
    const { mailbox } = await createTestMailbox(core);
    const f = await inbox(mailbox);
    for (let i = 0; i < 3; i++) await appendRaw(core, mailbox, rawMessage({ subject: `m${i}` }), { flags: i === 2 ? ['\\Seen'] : [] });
    const changes: MailChange[] = [];
    const off = subscribe(mailbox.id, (c) => changes.push(c));
    const before = Number((await inbox(mailbox)).highest_modseq);
    const r = await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [1, 2, 3, 99], mode: 'add', flags: ['\\seen', '$Important', 'todo', '\\Recent', '\\Bogus'] }));
    expect(r.modified).toEqual([]);
    expect(r.updated.map((u) => [u.uid, u.flags, u.changed])).toEqual([
      [1, ['\\Seen', '$Important', 'todo'], true],
      [2, ['\\Seen', '$Important', 'todo'], true],
      [3, ['\\Seen', '$Important', 'todo'], true],
    ]);
    expect(r.updated.map((u) => u.modseq)).toEqual([before + 1, before + 2, before + 3]);
    expect(changes.filter((c) => c.type === 'flags').map((c) => c.uid)).toEqual([1, 2, 3]);

    // Keywords are case-insensitive; the first spelling stays.
    const again = await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [1], mode: 'add', flags: ['TODO', '$important'] }));
    expect(again.updated[0]).toMatchObject({ flags: ['\\Seen', '$Important', 'todo'], changed: false, modseq: before + 1 });
    const removed = await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [1], mode: 'remove', flags: ['$IMPORTANT', '\\SEEN'] }));
    expect(removed.updated[0]).toMatchObject({ flags: ['todo'], changed: true, modseq: before + 4 });
    const replaced = await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [2], mode: 'replace', flags: ['\\Flagged', '\\Answered', '\\Draft', '\\Deleted', 'Z'] }));
    expect(replaced.updated[0].flags).toEqual(['\\Answered', '\\Flagged', '\\Deleted', '\\Draft', 'Z']);
    expect(Number((await inbox(mailbox)).highest_modseq)).toBe(before + 5);
    off();
  });

  it('leaves and reports messages changed since UNCHANGEDSINCE (RFC 7162 §3.1.3)', async () => {
    const { mailbox } = await createTestMailbox(core);
    const f = await inbox(mailbox);
    const a = await appendRaw(core, mailbox, rawMessage());
    const b = await appendRaw(core, mailbox, rawMessage());
    // b changes after a's MODSEQ.
    await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [b.uid], mode: 'add', flags: ['\\Flagged'] }));
    const r = await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [a.uid, b.uid], mode: 'add', flags: ['\\Seen'], unchangedSince: b.modseq }));
    expect(r.modified).toEqual([b.uid]);
    expect(r.updated.map((u) => u.uid)).toEqual([a.uid]);
    expect(flagsOf((await messageById(core.db, mailbox.id, b.id))!)).toEqual(['\\Flagged']);
    // UNCHANGEDSINCE 0 fails every message.
    const zero = await tx((t, emit) => storeFlags(core, t, emit, { folderId: f.id, uids: [a.uid], mode: 'add', flags: ['x'], unchangedSince: 0 }));
    expect(zero.modified).toEqual([a.uid]);
    // CHANGEDSINCE reads see only what changed after the given MODSEQ.
    const changed = await messagesInFolder(core.db, mailbox.id, f.id, { changedSince: b.modseq });
    expect(changed.map((m) => Number(m.uid)).sort()).toEqual([a.uid, b.uid]);
  });
});

describe('copy, move, expunge', () => {
  it('copies with COPYUID mapping, the same blob, search and attachment rows, and used_bytes', async () => {
    const { mailbox } = await createTestMailbox(core);
    const f = await inbox(mailbox);
    const archive = await folderBySpecialUse(core.db, mailbox.id, 'archive');
    const raw1 = rawMessage({ subject: 'copy me', text: 'platypus facts' });
    const raw2 = rawMessage({ subject: 'and me' });
    await appendRaw(core, mailbox, raw1, { flags: ['\\Flagged', 'kw'] });
    await appendRaw(core, mailbox, raw2);
    await appendRaw(core, mailbox, rawMessage(), { folder: 'Archive' }); // the archive's UID 1
    const r = await tx((t, emit) => copyMessages(core, t, emit, { mailboxId: mailbox.id, fromFolderId: f.id, toFolderId: archive.id, uids: [2, 1, 7] }));
    expect(r.uidValidity).toBe(Number(archive.uid_validity));
    expect(r.mapping).toEqual([
      [1, 2],
      [2, 3],
    ]);
    const copies = await messagesInFolder(core.db, mailbox.id, archive.id, { uids: [2, 3] });
    const originals = await messagesInFolder(core.db, mailbox.id, f.id);
    expect(copies.map((c) => c.blob_id)).toEqual(originals.map((o) => o.blob_id));
    expect(flagsOf(copies[0])).toEqual(['\\Flagged', 'kw']);
    expect(copies[0].thread_id).toBe(originals[0].thread_id);
    const hits = await searchText(core.db, { mailboxId: mailbox.id, field: 'body', needle: 'platypus' });
    expect(hits).toEqual(new Set([originals[0].id, copies[0].id]));
    expect(await used(mailbox)).toBe(2 * (raw1.length + raw2.length) + rawMessage().length);

    // Never across mailboxes, never into another mailbox's folder.
    const other = await createTestMailbox(core);
    const theirs = await inbox(other.mailbox);
    await expect(tx((t, emit) => copyMessages(core, t, emit, { fromFolderId: f.id, toFolderId: theirs.id, uids: [1] }))).rejects.toMatchObject({ status: 404 });
    await expect(tx((t, emit) => copyMessages(core, t, emit, { mailboxId: other.mailbox.id, fromFolderId: f.id, toFolderId: theirs.id, uids: [1] }))).rejects.toMatchObject({ status: 404 });
    await expect(tx((t, emit) => storeFlags(core, t, emit, { mailboxId: other.mailbox.id, folderId: f.id, uids: [1], mode: 'add', flags: ['\\Seen'] }))).rejects.toMatchObject({ status: 404 });
    await expect(messagesInFolder(core.db, other.mailbox.id, f.id)).rejects.toMatchObject({ status: 404 });
    expect(await messageById(core.db, other.mailbox.id, originals[0].id)).toBeUndefined();
  });

  it('moves (copy + expunge to the client, the same row and id in the store), remembers expunged UIDs for VANISHED, and keeps used_bytes', async () => {
    const { mailbox } = await createTestMailbox(core);
    const f = await inbox(mailbox);
    const trash = await folderByName(core.db, mailbox.id, 'Trash');
    const appended = [];
    for (let i = 0; i < 4; i++) appended.push(await appendRaw(core, mailbox, rawMessage({ subject: `m${i}` })));
    const usedBefore = await used(mailbox);
    const modseqBefore = Number((await inbox(mailbox)).highest_modseq);
    const changes: MailChange[] = [];
    const off = subscribe(mailbox.id, (c) => changes.push(c));
    const r = await tx((t, emit) => moveMessages(core, t, emit, { mailboxId: mailbox.id, fromFolderId: f.id, toFolderId: trash!.id, uids: [2, 3] }));
    off();
    expect(r.mapping).toEqual([
      [2, 1],
      [3, 2],
    ]);
    expect(await uidsInFolder(core.db, mailbox.id, f.id)).toEqual([1, 4]);
    expect(await uidsInFolder(core.db, mailbox.id, trash!.id)).toEqual([1, 2]);
    expect(await used(mailbox)).toBe(usedBefore);
    expect(changes.map((c) => `${c.type}:${c.folderId === f.id ? 'inbox' : 'trash'}:${'uid' in c ? c.uid : ''}`)).toEqual(['new:trash:1', 'new:trash:2', 'expunge:inbox:2', 'expunge:inbox:3']);
    expect(await vanishedSince(core.db, mailbox.id, f.id, modseqBefore)).toEqual([2, 3]);
    expect(await vanishedSince(core.db, mailbox.id, f.id, Number((await inbox(mailbox)).highest_modseq))).toEqual([]);
    // A move's copy enters the folder now (the purge counts from here).
    const moved = await messagesInFolder(core.db, mailbox.id, trash!.id);
    expect(moved.every((m) => m.created_at >= core.clock.now() - 60_000)).toBe(true);
    // The API's ids stay valid: the moved messages are the same rows.
    expect(moved.map((m) => m.id)).toEqual([appended[1].id, appended[2].id]);
    // New UIDs in the source are never reused.
    expect((await appendRaw(core, mailbox, rawMessage())).uid).toBe(5);
    // Status after it all.
    expect(await folderStatus(core.db, mailbox.id, f.id)).toMatchObject({ messages: 3, unseen: 3, deleted: 0, uidNext: 6 });
  });

  it('expunges only \\Deleted messages (or the given UIDs), lowers used_bytes and releases unshared blobs after commit', async () => {
    const { mailbox } = await createTestMailbox(core);
    const f = await inbox(mailbox);
    const shared = rawMessage({ subject: 'shared body' });
    const a = await appendRaw(core, mailbox, shared, { flags: ['\\Deleted'] });
    const b = await appendRaw(core, mailbox, shared, { flags: ['\\Deleted'] });
    const c = await appendRaw(core, mailbox, rawMessage({ subject: 'lonely' }), { flags: ['\\Deleted'] });
    const d = await appendRaw(core, mailbox, rawMessage({ subject: 'kept' }));
    const blobOf = async (id: string) => (await messageById(core.db, mailbox.id, id))!.blob_id;
    const [sharedBlob, lonelyBlob] = [await blobOf(a.id), await blobOf(c.id)];
    const store = blobStore(core);

    // UID EXPUNGE of a subset.
    expect(await tx((t, emit) => expungeMessages(core, t, emit, { folderId: f.id, uids: [a.uid, d.uid] }))).toEqual([a.uid]);
    await runReleaseJobs();
    expect(await store.has(sharedBlob)).toBe(true); // b still uses it
    // EXPUNGE of everything with \Deleted.
    expect(await tx((t, emit) => expungeMessages(core, t, emit, { folderId: f.id }))).toEqual([b.uid, c.uid]);
    expect(await store.has(lonelyBlob)).toBe(true); // not before the job runs (after commit)
    await runReleaseJobs();
    expect(await store.has(lonelyBlob)).toBe(false);
    expect(await store.has(sharedBlob)).toBe(false);
    expect(await uidsInFolder(core.db, mailbox.id, f.id)).toEqual([d.uid]);
    expect(await used(mailbox)).toBe(rawMessage({ subject: 'kept' }).length);
    expect(await core.db.selectFrom('message_search').select('id').where('message_id', 'in', [a.id, b.id, c.id]).execute()).toEqual([]);
    // Threads left without messages are gone; the kept one stays.
    expect(await core.db.selectFrom('threads').select('id').where('id', '=', c.threadId).execute()).toEqual([]);
    expect(await core.db.selectFrom('threads').select('id').where('id', '=', d.threadId).execute()).toHaveLength(1);
    // A rolled-back expunge queues nothing and removes nothing.
    await expect(
      tx(async (t, emit) => {
        await expungeMessages(core, t, emit, { folderId: f.id, uids: [d.uid], force: true });
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await uidsInFolder(core.db, mailbox.id, f.id)).toEqual([d.uid]);
    expect(await core.db.selectFrom('jobs').select('id').where('kind', '=', RELEASE_BLOBS_JOB).where('status', '=', 'queued').execute()).toEqual([]);
    expect(await store.has(await blobOf(d.id))).toBe(true);
  });
});
