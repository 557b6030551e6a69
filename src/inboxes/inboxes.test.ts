// Resend's inbox API end to end through the official SDK over a real socket: inboxes, threads
// (list, search, read, move), labels, agent settings, drafts, replies and forwards that reach a
// "remote" MX on loopback with their threading headers, and the Sent copies in the thread.
// Mail is put into the mailbox the way the MX does (testkit/mailbox.ts appendRaw).
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestMx, freePort, until } from '../testkit/remote-mx.ts';
import { appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type RemoteWorld, ok, startRemoteWorld } from '../testkit/remote-world.ts';
import type { TestServer } from '../testkit/server.ts';

let world: RemoteWorld;
let server: TestServer;
let mx: TestMx;
let core: Core;
let resend: Resend;
let workspaceId: string;
let inboxId: string;
let smtpPort: number;
const INBOX = 'support@acme.test';

async function compose(opts: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  return new MailComposer({ newline: 'win', ...opts }).compile().build();
}

async function mailbox() {
  return core.db.selectFrom('mailboxes').selectAll().where('id', '=', inboxId).executeTakeFirstOrThrow();
}

async function deliver(raw: Buffer) {
  return appendRaw(core, await mailbox(), raw);
}

/** The current id of a received message (a move between folders gives it a new row). */
async function idOf(messageIdHeader: string) {
  const r = await core.db.selectFrom('messages').select('id').where('mailbox_id', '=', inboxId).where('message_id', '=', messageIdHeader).where('direction', '=', 'inbound').executeTakeFirstOrThrow();
  return r.id;
}

async function folderOf(messageId: string) {
  const r = await core.db
    .selectFrom('messages')
    .innerJoin('folders', 'folders.id', 'messages.folder_id')
    .select(['folders.special_use as use', 'messages.seen as seen', 'messages.keywords as keywords', 'messages.answered as answered'])
    .where('messages.id', '=', messageId)
    .executeTakeFirst();
  return r;
}

beforeAll(async () => {
  smtpPort = await freePort();
  world = await startRemoteWorld({ remoteIp: '127.0.0.5', env: { MAILSTACK_SMTP_PORT: String(smtpPort) } });
  ({ server, mx } = world);
  core = server.platform.core;
  const tm = await createTestMailbox(core, { domainName: 'acme.test', localPart: 'first' });
  workspaceId = tm.workspaceId;
  resend = server.resend(tm.apiKey!);
});

afterAll(async () => {
  await world?.stop();
});

describe('inboxes', () => {
  it('creates an inbox in a receiving domain, idempotently, and finds it by id and by address', async () => {
    const created = ok(await resend.inboxes.create({ emailAddress: INBOX, name: 'Support', fromName: 'Acme Support' }));
    expect(created.object).toBe('inbox');
    inboxId = created.id;
    expect(ok(await resend.inboxes.create({ emailAddress: 'Support@ACME.test' })).id).toBe(inboxId);

    const byId = ok(await resend.inboxes.get(inboxId));
    expect(byId).toMatchObject({ object: 'inbox', id: inboxId, name: 'Support', email_address: INBOX, from_name: 'Acme Support', unread: 0, drafts: 0, last_received: null });
    expect(ok(await resend.inboxes.get(INBOX)).id).toBe(inboxId);

    const list = ok(await resend.inboxes.list());
    expect(list.data.map((i) => i.email_address)).toEqual(expect.arrayContaining([INBOX, 'first@acme.test']));

    expect(ok(await resend.inboxes.update(INBOX, { name: 'Customer support' })).id).toBe(inboxId);
    expect(ok(await resend.inboxes.get(inboxId)).name).toBe('Customer support');

    const audit = await core.db.selectFrom('audit_log').select('action').where('target_id', '=', inboxId).execute();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['inbox.created', 'inbox.updated']));
  });

  it('refuses addresses outside the workspace, taken addresses and bad input', async () => {
    const outside = await resend.inboxes.create({ emailAddress: 'x@not-ours.test' });
    expect(outside.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    // Another workspace's address, in a domain this workspace also added: the other workspace owns
    // the name (src/domains/ownership.ts), so this one's copy gets no inbox at all, taken or not:
    // 422 saying what to prove, the same for every address (no takeover, and no hint what exists).
    const other = await createTestMailbox(core, { domainName: 'shared.test', localPart: 'taken' });
    await createTestMailbox(core, { workspaceId, domainName: 'shared.test', localPart: 'mine' });
    for (const address of ['taken@shared.test', 'free@shared.test']) {
      const r = await resend.inboxes.create({ emailAddress: address });
      expect(r.error).toMatchObject({ statusCode: 422, message: expect.stringContaining('_mailstack-challenge.shared.test') });
    }
    expect(other.mailbox.address).toBe('taken@shared.test');
    for (const bad of ['not an address', 'A <a@acme.test>', 'a@acme.test\r\nBcc: x@y.z', '']) {
      const r = await resend.inboxes.create({ emailAddress: bad });
      expect(r.error?.statusCode, bad).toBe(422);
    }
    expect((await resend.inboxes.update(inboxId, { name: 'x\r\ny' })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.get('nobody@acme.test')).error).toMatchObject({ statusCode: 404, name: 'not_found' });
  });

  it('stores agent settings checked against the SDK lists', async () => {
    expect(ok(await resend.inboxes.agent.get({ inboxId }))).toEqual({ object: 'inbox_agent', instructions: null, tone: null, actions: [] });
    ok(await resend.inboxes.agent.update({ emailAddress: INBOX, instructions: 'Be kind.', tone: 'concise_casual', actions: ['draft_reply', 'add_labels'] }));
    expect(ok(await resend.inboxes.agent.get({ inboxId }))).toEqual({ object: 'inbox_agent', instructions: 'Be kind.', tone: 'concise_casual', actions: ['draft_reply', 'add_labels'] });
    expect((await resend.inboxes.agent.update({ inboxId, tone: 'shouty' as any })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.agent.update({ inboxId, actions: ['launch_missiles' as any] })).error).toMatchObject({ statusCode: 422 });
  });
});

describe('threads', () => {
  let threadA: string;
  let threadB: string;
  let firstId: string;
  let secondId: string;

  it('groups delivered mail into threads and lists them newest first', async () => {
    const t0 = Date.now() - 60_000;
    const first = await deliver(rawMessage({ from: 'Alice <alice@remote.test>', to: INBOX, subject: 'Quarterly report', messageId: 'q1@remote.test', date: new Date(t0), text: 'The numbers look like a pineapple this quarter.' }));
    const second = await deliver(
      rawMessage({ from: 'Alice <alice@remote.test>', to: `${INBOX}, carol@remote.test`, subject: 'Re: Quarterly report', messageId: 'q2@remote.test', inReplyTo: 'q1@remote.test', references: ['q1@remote.test'], text: 'Any thoughts?', headers: { Cc: 'dave@remote.test' } }),
    );
    expect(second.threadId).toBe(first.threadId);
    const withFile = await compose({
      from: 'Bob <bob@remote.test>',
      to: INBOX,
      subject: 'Invoice attached',
      messageId: '<inv1@remote.test>',
      text: 'See the attachment.',
      html: '<p>See <img src="cid:logo@remote.test"> the attachment.</p>',
      attachments: [
        { filename: 'invoice.pdf', content: Buffer.from('%PDF-1.4 fake invoice bytes \u00ff'), contentType: 'application/pdf' },
        { filename: 'logo.png', content: Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), contentType: 'image/png', cid: 'logo@remote.test' },
      ],
    });
    const third = await deliver(withFile);
    threadA = first.threadId;
    threadB = third.threadId;
    firstId = first.id;
    secondId = second.id;

    const list = ok(await resend.inboxes.threads.list({ inboxId }));
    expect(list.data.map((t) => t.id)).toEqual([threadB, threadA]);
    const a = list.data.find((t) => t.id === threadA)!;
    expect(a).toMatchObject({ subject: 'Quarterly report', email_count: 2, read: false, folder: 'inbox', has_attachment: false, has_draft: false, labels: [] });
    expect(a.from).toBe('Alice <alice@remote.test>');
    expect(list.data.find((t) => t.id === threadB)).toMatchObject({ has_attachment: true, email_count: 1 });
    expect(ok(await resend.inboxes.get(inboxId)).unread).toBe(3);

    const page1 = ok(await resend.inboxes.threads.list({ inboxId, limit: 1 }));
    expect(page1.has_more).toBe(true);
    const page2 = ok(await resend.inboxes.threads.list({ inboxId, limit: 1, after: page1.data[0].id }));
    expect(page2.data.map((t) => t.id)).toEqual([threadA]);
    expect(page2.has_more).toBe(false);
    const back = ok(await resend.inboxes.threads.list({ inboxId, limit: 1, before: threadA }));
    expect(back.data.map((t) => t.id)).toEqual([threadB]);

    const emails = ok(await resend.inboxes.threads.emails.list({ inboxId, threadId: threadA }));
    expect(emails.data).toHaveLength(2);
    const one = ok(await resend.inboxes.threads.emails.get({ inboxId, threadId: threadA, emailId: firstId }));
    expect(one).toMatchObject({ id: firstId, direction: 'inbound', from: 'Alice <alice@remote.test>', subject: 'Quarterly report', message_id: '<q1@remote.test>', read: false, attachments: [] });
    expect(one.text).toContain('pineapple');
    expect(one.to).toEqual([INBOX]);
  });

  it('finds a word in a body, and filters by sender, attachment and date', async () => {
    const found = ok(await resend.inboxes.threads.search({ inboxId, query: 'pineapple' }));
    expect(found.data.map((t) => t.id)).toEqual([threadA]);
    expect(found.data[0].matched_email_id).toBe(firstId);
    expect(ok(await resend.inboxes.threads.search({ inboxId, query: 'durian' })).data).toEqual([]);
    expect(ok(await resend.inboxes.threads.search({ inboxId, from: ['bob@remote.test'] })).data.map((t) => t.id)).toEqual([threadB]);
    expect(ok(await resend.inboxes.threads.search({ inboxId, hasAttachment: true })).data.map((t) => t.id)).toEqual([threadB]);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect(ok(await resend.inboxes.threads.search({ inboxId, startDate: future })).data).toEqual([]);
    expect((await resend.inboxes.threads.search({ inboxId, startDate: 'yesterday' })).error).toMatchObject({ statusCode: 422 });
  });

  it('marks a thread read, which sets \\Seen on every message of it', async () => {
    const r = ok(await resend.inboxes.threads.update({ inboxId, threadId: threadA, read: true }));
    expect(r).toMatchObject({ object: 'inbox_thread', id: threadA, read: true, folder: 'inbox' });
    expect((await folderOf(firstId))?.seen).toBe(1);
    expect((await folderOf(secondId))?.seen).toBe(1);
    expect(ok(await resend.inboxes.threads.list({ inboxId, read: false })).data.map((t) => t.id)).toEqual([threadB]);
    expect(ok(await resend.inboxes.threads.list({ inboxId, read: true })).data.map((t) => t.id)).toEqual([threadA]);
    expect(ok(await resend.inboxes.get(inboxId)).unread).toBe(1);
  });

  it('moves a thread to the trash and back', async () => {
    expect(ok(await resend.inboxes.threads.update({ inboxId, threadId: threadA, folder: 'trash' })).folder).toBe('trash');
    const ids = await core.db.selectFrom('messages').select('id').where('thread_id', '=', threadA).execute();
    for (const { id } of ids) expect((await folderOf(id))?.use).toBe('trash');
    expect(ok(await resend.inboxes.threads.list({ inboxId })).data.map((t) => t.id)).toEqual([threadB]);
    expect(ok(await resend.inboxes.threads.list({ inboxId, folders: ['trash'] })).data.map((t) => t.id)).toEqual([threadA]);
    expect(ok(await resend.inboxes.threads.get({ inboxId, threadId: threadA })).folder).toBe('trash');

    expect(ok(await resend.inboxes.threads.update({ inboxId, threadId: threadA, folder: 'inbox' })).folder).toBe('inbox');
    expect(ok(await resend.inboxes.threads.list({ inboxId, folders: ['inbox', 'archive'] })).data.map((t) => t.id)).toEqual([threadB, threadA]);
    expect(ok(await resend.inboxes.threads.update({ inboxId, threadId: threadB, folder: 'spam' })).folder).toBe('spam');
    expect(ok(await resend.inboxes.threads.list({ inboxId, folders: ['spam'] })).data.map((t) => t.id)).toEqual([threadB]);
    ok(await resend.inboxes.threads.update({ inboxId, threadId: threadB, folder: 'inbox' }));
    expect((await resend.inboxes.threads.update({ inboxId, threadId: threadA, folder: 'sent' as any })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.threads.list({ inboxId, folders: ['nowhere' as any] })).error).toMatchObject({ statusCode: 422 });
  });

  it('labels threads: the label is a keyword on every message', async () => {
    const important = ok(await resend.inboxes.labels.create({ inboxId, name: 'Important', color: '#E93D82' }));
    const needs = ok(await resend.inboxes.labels.create({ inboxId, name: 'Needs reply' }));
    expect((await resend.inboxes.labels.create({ inboxId, name: 'important' })).error).toMatchObject({ statusCode: 409 });
    expect((await resend.inboxes.labels.create({ inboxId, name: 'Bad', color: 'red' })).error).toMatchObject({ statusCode: 422 });
    const labels = ok(await resend.inboxes.labels.list({ inboxId }));
    expect(labels.data.map((l) => l.name)).toEqual(['Important', 'Needs reply']);

    const added = ok(await resend.inboxes.threads.labels.add({ inboxId, threadId: threadA, labels: [important.id, needs.id] }));
    expect(added.data.map((l) => l.name).sort()).toEqual(['Important', 'Needs reply']);
    const msgs = await core.db.selectFrom('messages').select('id').where('thread_id', '=', threadA).execute();
    for (const { id } of msgs) expect(JSON.parse((await folderOf(id))!.keywords)).toEqual(expect.arrayContaining(['Important', 'Needs_reply']));
    expect(ok(await resend.inboxes.threads.list({ inboxId, labels: [needs.id] })).data.map((t) => t.id)).toEqual([threadA]);

    const set = ok(await resend.inboxes.threads.labels.set({ inboxId, threadId: threadA, labels: [needs.id] }));
    expect(set.data.map((l) => l.id)).toEqual([needs.id]);
    const removed = ok(await resend.inboxes.threads.labels.remove({ inboxId, threadId: threadA, labelId: needs.id }));
    expect(removed.data).toEqual([]);

    ok(await resend.inboxes.threads.labels.add({ inboxId, threadId: threadB, labels: [important.id] }));
    ok(await resend.inboxes.labels.update({ inboxId, labelId: important.id, name: 'Urgent stuff', color: '#000000' }));
    const t = ok(await resend.inboxes.threads.get({ inboxId, threadId: threadB }));
    expect(t.labels).toEqual([{ id: important.id, name: 'Urgent stuff', color: '#000000' }]);
    const bMsg = await core.db.selectFrom('messages').select('keywords').where('thread_id', '=', threadB).executeTakeFirstOrThrow();
    expect(JSON.parse(bMsg.keywords)).toEqual(['Urgent_stuff']);
    expect(ok(await resend.inboxes.labels.remove({ inboxId, labelId: important.id })).deleted).toBe(true);
    expect(JSON.parse((await core.db.selectFrom('messages').select('keywords').where('thread_id', '=', threadB).executeTakeFirstOrThrow()).keywords)).toEqual([]);
    expect((await resend.inboxes.threads.labels.add({ inboxId, threadId: threadB, labels: [important.id] })).error).toMatchObject({ statusCode: 404 });
  });

  it('replies to all with In-Reply-To and References, reaching the remote MX, with the Sent copy in the thread', async () => {
    secondId = await idOf('q2@remote.test');
    firstId = await idOf('q1@remote.test');
    const sent = ok(await resend.inboxes.threads.emails.reply({ inboxId, threadId: threadA, emailId: secondId, text: 'Thanks, looking now.', replyAll: true }));
    // One delivery per recipient (or several recipients per transaction): all three get it.
    const copies = await until('the reply at the remote MX for all three', () => {
      const c = mx.messages.filter((m) => m.raw.toString().includes('Thanks, looking now.'));
      return c.flatMap((m) => m.to).length >= 3 ? c : null;
    });
    expect(copies.flatMap((m) => m.to).sort()).toEqual(['alice@remote.test', 'carol@remote.test', 'dave@remote.test']);
    const got = copies[0];
    const parsed = await PostalMime.parse(got.raw);
    expect(parsed.subject).toBe('Re: Quarterly report');
    expect(parsed.inReplyTo).toBe('<q2@remote.test>');
    expect(parsed.references).toBe('<q1@remote.test> <q2@remote.test>');
    expect(parsed.from).toMatchObject({ address: INBOX, name: 'Acme Support' });
    expect(parsed.to?.map((a) => a.address)).toEqual(['alice@remote.test']);
    expect(parsed.cc?.map((a) => a.address).sort()).toEqual(['carol@remote.test', 'dave@remote.test']);

    const emails = ok(await resend.inboxes.threads.emails.list({ inboxId, threadId: threadA }));
    const out = emails.data.find((e) => e.direction === 'outbound')!;
    expect(out).toMatchObject({ subject: 'Re: Quarterly report', read: true });
    expect(out.text).toContain('Thanks, looking now.');
    const copy = await core.db.selectFrom('messages').selectAll().where('id', '=', out.id).executeTakeFirstOrThrow();
    expect(copy.email_id).toBe(sent.id);
    expect((await folderOf(copy.id))?.use).toBe('sent');
    expect((await folderOf(secondId))?.answered).toBe(1);
    expect(ok(await resend.emails.get(sent.id)).subject).toBe('Re: Quarterly report');

    // The thread shows where its received mail is; moving it leaves our reply in Sent.
    ok(await resend.inboxes.threads.update({ inboxId, threadId: threadA, folder: 'archive' }));
    expect((await folderOf(copy.id))?.use).toBe('sent');
    expect(ok(await resend.inboxes.threads.get({ inboxId, threadId: threadA })).folder).toBe('archive');
    ok(await resend.inboxes.threads.update({ inboxId, threadId: threadA, folder: 'inbox' }));
    secondId = await idOf('q2@remote.test');
    firstId = await idOf('q1@remote.test');
  });

  it('honours Idempotency-Key on replies: the same request sends once', async () => {
    const before = (await core.db.selectFrom('emails').select('id').execute()).length;
    const opts = { inboxId, threadId: threadA, emailId: secondId, text: 'Only once, please.' };
    const a = ok(await resend.inboxes.threads.emails.reply(opts, { idempotencyKey: 'reply-once-1' }));
    const b = ok(await resend.inboxes.threads.emails.reply(opts, { idempotencyKey: 'reply-once-1' }));
    expect(b.id).toBe(a.id);
    expect((await core.db.selectFrom('emails').select('id').execute()).length).toBe(before + 1);
    expect(await core.db.selectFrom('messages').select('id').where('email_id', '=', a.id).execute()).toHaveLength(1);
    const other = await resend.inboxes.threads.emails.reply({ ...opts, text: 'Different' }, { idempotencyKey: 'reply-once-1' });
    expect(other.error?.statusCode).toBe(409);
  });

  it('forwards an email with its attachments', async () => {
    const fwd = ok(await resend.inboxes.threads.emails.forward({ inboxId, threadId: threadB, emailId: (await core.db.selectFrom('messages').select('id').where('thread_id', '=', threadB).executeTakeFirstOrThrow()).id, to: 'erin@remote.test', text: 'FYI, see below.' }));
    const got = await until('the forward at the remote MX', () => mx.messages.find((m) => m.to.includes('erin@remote.test')));
    const parsed = await PostalMime.parse(got.raw);
    expect(parsed.subject).toBe('Fwd: Invoice attached');
    expect(parsed.text).toContain('FYI, see below.');
    expect(parsed.text).toContain('---------- Forwarded message ---------');
    expect(parsed.text).toContain('See the attachment.');
    const pdf = parsed.attachments.find((a) => a.filename === 'invoice.pdf')!;
    expect(Buffer.from(pdf.content as ArrayBuffer).equals(Buffer.from('%PDF-1.4 fake invoice bytes \u00ff'))).toBe(true);
    const copy = await core.db.selectFrom('messages').select(['thread_id', 'direction']).where('email_id', '=', fwd.id).executeTakeFirstOrThrow();
    expect(copy).toEqual({ thread_id: threadB, direction: 'outbound' });
  });

  it('refuses headers it owns, header injection and bodies it cannot send, with 422', async () => {
    const base = { inboxId, threadId: threadA, emailId: secondId, text: 'x' };
    for (const headers of [{ 'In-Reply-To': '<a@b>' }, { references: '<a@b>' }, { 'REPLY-TO': 'a@b.c' }, { 'X-Ok': 'a\r\nBcc: evil@remote.test' }, { '': 'x' }, { 'X-Nul': 'a\u0000b' }]) {
      const r = await resend.inboxes.threads.emails.reply({ ...base, headers } as any);
      expect(r.error?.statusCode, JSON.stringify(headers)).toBe(422);
    }
    expect((await resend.inboxes.threads.emails.reply({ inboxId, threadId: threadA, emailId: secondId } as any)).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.threads.emails.reply({ ...base, cc: 'not an address' })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.threads.emails.reply({ ...base, subject: 'a\r\nBcc: x@y.z' })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.threads.emails.reply({ ...base, attachments: [{ filename: 'x.txt', content: '!!!not base64' }] })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.threads.emails.forward({ inboxId, threadId: threadA, emailId: secondId } as any)).error).toMatchObject({ statusCode: 422 });
    expect((await resend.inboxes.threads.emails.reply({ ...base, emailId: '00000000-0000-7000-8000-000000000000' })).error).toMatchObject({ statusCode: 404 });
    expect((await resend.inboxes.threads.emails.reply({ ...base, emailId: "'; drop table messages; --" })).error).toMatchObject({ statusCode: 404 });
  });

  it('keeps drafts in the Drafts folder, replaces them on update and sends a reply draft', async () => {
    const created = ok(await resend.inboxes.drafts.create({ inboxId, threadId: threadA, replyToEmailId: firstId, text: 'Draft one', attachments: [{ filename: 'notes.txt', content: Buffer.from('draft notes'), contentType: 'text/plain' }] }));
    const d = ok(await resend.inboxes.drafts.get({ inboxId, draftId: created.id }));
    expect(d).toMatchObject({ object: 'inbox_draft', type: 'reply', thread_id: threadA, reply_to_email_id: firstId, text: 'Draft one', to: null });
    expect(d.attachments).toMatchObject([{ filename: 'notes.txt', content_type: 'text/plain', size: 11 }]);
    expect(ok(await resend.inboxes.threads.list({ inboxId })).data.find((t) => t.id === threadA)?.has_draft).toBe(true);
    expect(ok(await resend.inboxes.get(inboxId)).drafts).toBe(1);
    const drafts = async () =>
      core.db.selectFrom('messages').innerJoin('folders', 'folders.id', 'messages.folder_id').select(['messages.id', 'messages.draft', 'messages.blob_id', 'messages.thread_id']).where('folders.mailbox_id', '=', inboxId).where('folders.special_use', '=', 'drafts').execute();
    const before = await drafts();
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ draft: 1, thread_id: threadA });

    ok(await resend.inboxes.drafts.update({ inboxId, draftId: created.id, text: 'Draft two', subject: 'Re: Quarterly report (v2)' }));
    const after = await drafts();
    expect(after).toHaveLength(1);
    expect(after[0].id).not.toBe(before[0].id);
    const list = ok(await resend.inboxes.drafts.list({ inboxId }));
    expect(list.data).toMatchObject([{ id: created.id, type: 'reply', subject: 'Re: Quarterly report (v2)', snippet: 'Draft two' }]);
    // Thread emails do not include the Drafts copy.
    expect(ok(await resend.inboxes.threads.emails.list({ inboxId, threadId: threadA })).data.some((e) => e.text?.includes('Draft two'))).toBe(false);

    expect((await resend.inboxes.drafts.send({ inboxId, draftId: created.id, headers: { References: '<x@y>' } })).error).toMatchObject({ statusCode: 422 });
    const sent = ok(await resend.inboxes.drafts.send({ inboxId, draftId: created.id, headers: { 'X-Draft': 'yes' } }));
    const got = await until('the draft at the remote MX', () => mx.messages.find((m) => m.raw.toString().includes('Draft two')));
    const parsed = await PostalMime.parse(got.raw);
    expect(got.to).toEqual(['alice@remote.test']);
    expect(parsed.inReplyTo).toBe('<q1@remote.test>');
    expect(parsed.subject).toBe('Re: Quarterly report (v2)');
    expect(parsed.headers.find((h) => h.key === 'x-draft')?.value).toBe('yes');
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['notes.txt']);
    expect(await drafts()).toHaveLength(0);
    expect((await resend.inboxes.drafts.get({ inboxId, draftId: created.id })).error).toMatchObject({ statusCode: 404 });
    const copy = await core.db.selectFrom('messages').select(['thread_id', 'direction']).where('email_id', '=', sent.id).executeTakeFirstOrThrow();
    expect(copy).toEqual({ thread_id: threadA, direction: 'outbound' });
  });

  it('sends a standalone draft and removes another', async () => {
    const a = ok(await resend.inboxes.drafts.create({ inboxId, to: 'frank@remote.test', subject: 'Hello Frank', html: '<p>Hi Frank</p>' }));
    const b = ok(await resend.inboxes.drafts.create({ inboxId, subject: 'Never sent' }));
    expect((await resend.inboxes.drafts.send({ inboxId, draftId: b.id })).error).toMatchObject({ statusCode: 422 });
    expect(ok(await resend.inboxes.drafts.remove({ inboxId, draftId: b.id }))).toEqual({ object: 'inbox_draft', id: b.id, deleted: true });
    ok(await resend.inboxes.drafts.send({ emailAddress: INBOX, draftId: a.id }));
    const got = await until('the standalone draft at the remote MX', () => mx.messages.find((m) => m.to.includes('frank@remote.test')));
    expect((await PostalMime.parse(got.raw)).html).toContain('Hi Frank');
    expect(ok(await resend.inboxes.drafts.list({ inboxId })).data).toEqual([]);
    for (const bad of [{ to: 'nope' }, { attachments: [{ filename: 'evil.exe', content: Buffer.from('MZ'), contentType: 'application/octet-stream' }] }, { attachments: [{ filename: 'e.txt', content: '', contentType: 'text/plain' }] }]) {
      expect((await resend.inboxes.drafts.create({ inboxId, ...(bad as any) })).error?.statusCode, JSON.stringify(bad)).toBe(422);
    }
    expect((await resend.inboxes.drafts.create({ inboxId, threadId: threadA } as any)).error).toMatchObject({ statusCode: 422 });
  });

  it('deletes a thread for good', async () => {
    const t = await deliver(rawMessage({ from: 'spam@remote.test', to: INBOX, subject: 'Buy now', text: 'cheap' }));
    expect(ok(await resend.inboxes.threads.remove({ inboxId, threadId: t.threadId }))).toEqual({ object: 'inbox_thread', id: t.threadId, deleted: true });
    expect(await core.db.selectFrom('messages').select('id').where('thread_id', '=', t.threadId).execute()).toEqual([]);
    expect((await resend.inboxes.threads.get({ inboxId, threadId: t.threadId })).error).toMatchObject({ statusCode: 404 });
  });

  it('shows mail delivered over SMTP to our MX in a new inbox at once', async () => {
    const fresh = ok(await resend.inboxes.create({ emailAddress: 'sales@acme.test' }));
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true, name: 'client.remote.test' });
    const info = await transport.sendMail({ from: 'Grace <grace@remote.test>', to: 'sales@acme.test', subject: 'Pricing question', text: 'How much is the mangosteen plan?' });
    transport.close();
    expect(info.response).toMatch(/^250 /);
    const threads = ok(await resend.inboxes.threads.search({ inboxId: fresh.id, query: 'mangosteen' }));
    expect(threads.data).toHaveLength(1);
    expect(threads.data[0]).toMatchObject({ subject: 'Pricing question', from: 'Grace <grace@remote.test>', folder: 'inbox', read: false });
    const received = ok(await resend.emails.receiving.get(threads.data[0].matched_email_id!));
    expect(received.received_for).toEqual(['sales@acme.test']);
  });

  it('documents every endpoint in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/inboxes',
        '/v1/inboxes/{id}',
        '/v1/inboxes/{id}/agent',
        '/v1/inboxes/{id}/labels/{labelId}',
        '/v1/inboxes/{id}/threads/search',
        '/v1/inboxes/{id}/threads/{threadId}/emails/{emailId}/reply',
        '/v1/inboxes/{id}/threads/{threadId}/labels',
        '/v1/inboxes/{id}/drafts/{draftId}/send',
        '/v1/emails/receiving/{id}/attachments/{attachmentId}',
        '/v1/emails/receiving/{id}/raw',
      ]),
    );
    const actions = (await core.db.selectFrom('audit_log').select('action').where('workspace_id', '=', workspaceId).execute()).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['inbox.created', 'inbox.updated', 'inbox.agent_updated', 'inbox.label_created', 'inbox.label_updated', 'inbox.label_deleted', 'inbox.thread_deleted']));
  });

  it('deletes an inbox', async () => {
    const tmp = ok(await resend.inboxes.create({ emailAddress: 'temp@acme.test' }));
    expect(ok(await resend.inboxes.remove('temp@acme.test'))).toEqual({ object: 'inbox', id: tmp.id, deleted: true });
    expect((await core.db.selectFrom('audit_log').select('action').where('target_id', '=', tmp.id).execute()).map((a) => a.action)).toContain('inbox.deleted');
    expect((await resend.inboxes.get(tmp.id)).error).toMatchObject({ statusCode: 404 });
  });
});
