// Hosted mail through the MX over real sockets: nodemailer, Python's smtplib and swaks deliver to an
// inbox, an alias (every target, once each) and a catch-all; unknown users, relaying, over-size and
// over-quota are refused with the right codes; a References chain makes one thread; the signed
// `email.received` webhook carries the parsed message with its inbox and thread ids; forwarding
// leaves through the outbound pipeline with an SRS0 envelope sender to a loopback remote MX, and a
// bounce to that SRS0 address goes on to the original sender; loops are refused; the hostile MIME
// corpus is stored or refused with a 5xx and the server stays up.
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import type { TestDns } from '../testkit/dns-server.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';
import { HOSTILE_CORPUS } from '../testkit/hostile-mail.ts';
import type { TestMx } from '../testkit/remote-mx.ts';
import { type TestMailbox, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { type TestServer, api, freePort } from '../testkit/server.ts';
import { RawSmtp } from '../testkit/smtp-client.ts';
import { srsDecode } from './srs.ts';
import { sendWithNodemailer, sendWithPython, sendWithSwaks, storedMessages } from '../testkit/smtp-senders.ts';

const MAX_BYTES = 2 * 1024 * 1024;

let world: RemoteWorld;
let server: TestServer;
let dns: TestDns;
let remote: TestMx;
let receiver: Receiver;
let core: Core;
let port: number;
let apiKey: string;
let resend: Resend;
let secret: string;
let workspaceId: string;
let domain: string;
let inbox: TestMailbox;

beforeAll(async () => {
  receiver = await startReceiver();
  port = await freePort();
  world = await startRemoteWorld({
    remoteIp: '127.0.0.6',
    env: {
      MAILSTACK_SMTP_PORT: String(port),
      MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true',
      MAILSTACK_MAX_MESSAGE_BYTES: String(MAX_BYTES),
      MAILSTACK_RETRY_DELAYS: '200ms,200ms',
    },
  });
  ({ server, dns, mx: remote } = world);
  core = server.platform.core;
  const ws = await server.setup('owner@receiving.test', 'Receiving');
  ({ apiKey, workspaceId } = ws);
  resend = server.resend(apiKey);
  domain = 'hosted.example.com';
  inbox = await createTestMailbox(core, { workspaceId, domainName: domain, localPart: 'alice', dns });
  const hook = await resend.webhooks.create({ endpoint: `${receiver.url}/hooks`, events: ['email.received'] });
  expect(hook.error).toBeNull();
  secret = hook.data!.signing_secret;
}, 60_000);

afterAll(async () => {
  await world?.stop();
  await receiver?.close();
});

/** Received webhook payloads, each verified with the SDK's verifier. */
function receivedEvents(): any[] {
  return receiver.received.map(
    (r) =>
      resend.webhooks.verify({
        payload: r.body,
        headers: { id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string },
        webhookSecret: secret,
      }) as any,
  );
}

const uniq = () => Math.random().toString(36).slice(2, 10);

async function mailbox(local: string, opts: { quotaBytes?: number; mode?: 'mailbox' | 'agent' } = {}) {
  return (await createTestMailbox(core, { workspaceId, domainName: domain, localPart: local, dns, ...opts })).mailbox;
}

describe('delivery into hosted inboxes', () => {
  it('nodemailer delivers to an inbox: stored in INBOX with Return-Path, Received and Authentication-Results, and a signed email.received webhook', async () => {
    const id = `${uniq()}@remote.test`;
    const raw = rawMessage({ from: 'Bob <bob@remote.test>', to: `alice@${domain}`, subject: 'Hello Alice', messageId: id, text: 'Hi Alice,\r\nhow are you?' });
    const r = await sendWithNodemailer(port, { from: 'bob@remote.test', to: [`Alice@${domain.toUpperCase()}`] }, raw);
    expect(r.code).toBe(250);
    expect(r.response).toMatch(/^250 2\.0\.0 /);

    const stored = (await storedMessages(core, inbox.mailbox.id)).filter((m) => m.message_id === id);
    expect(stored).toHaveLength(1);
    const m = stored[0];
    const inboxFolder = await core.db.selectFrom('folders').select('id').where('mailbox_id', '=', inbox.mailbox.id).where('special_use', '=', 'inbox').executeTakeFirstOrThrow();
    expect(m.folder_id).toBe(inboxFolder.id);
    const head = m.raw.toString('latin1');
    // The client's reverse-DNS name, when the door found one, stands before its address literal.
    expect(head).toMatch(/^Return-Path: <bob@remote\.test>\r\nReceived: from client\.remote\.test \((?:[^\s()]+ )?\[127\.0\.0\.1\]\)\r\n\tby mx\.mailstack\.test \(Mailstack\) with ESMTP id [0-9a-f-]{36}\r\n/);
    expect(head).toMatch(/\r\n\tfor <alice@hosted\.example\.com>;\r\n\t\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\nAuthentication-Results: mx\.mailstack\.test;/);
    expect(head.endsWith(raw.toString('latin1'))).toBe(true);
    expect(m.envelope_from).toBe('bob@remote.test');
    expect(JSON.parse(m.received_for_json)).toEqual([`alice@${domain}`]);

    const event = await waitFor('email.received webhook', () => receivedEvents().find((e) => e.type === 'email.received' && e.data.email_id === m.id), 20_000);
    expect(event.data).toMatchObject({
      email_id: m.id,
      inbox_id: inbox.mailbox.id,
      inbox_mode: 'mailbox',
      thread_id: m.thread_id,
      from: 'Bob <bob@remote.test>',
      to: [`alice@${domain}`],
      cc: [],
      bcc: [],
      subject: 'Hello Alice',
      message_id: `<${id}>`,
      received_for: [`alice@${domain}`],
      attachments: [],
    });
    expect(event.data.text).toContain('how are you?');
    expect(event.data.extracted_text).toBe('Hi Alice,\nhow are you?');
    expect(event.data.headers.subject).toBe('Hello Alice');
    expect(event.data.auth).toMatchObject({ spf: expect.any(String), dkim: expect.any(String), dmarc: expect.any(String) });
  });

  it('delivers user+tag@ to user@ and stores the tagged address in received_for', async () => {
    const id = `${uniq()}@remote.test`;
    const r = await sendWithNodemailer(port, { from: 'bob@remote.test', to: [`alice+news@${domain}`] }, rawMessage({ messageId: id }));
    expect(r.code).toBe(250);
    const m = (await storedMessages(core, inbox.mailbox.id)).find((x) => x.message_id === id);
    expect(JSON.parse(m!.received_for_json)).toEqual([`alice+news@${domain}`]);
  });

  it('Python smtplib delivers to an alias: both inboxes get it; alias plus a direct target stores it once', async () => {
    const sales = await mailbox(`sales-${uniq()}`);
    const support = await mailbox(`support-${uniq()}`);
    const alias = await api(server.url, 'POST', '/v1/aliases', { key: apiKey, body: { address: `team-${uniq()}@${domain}`, inbox_ids: [sales.id, support.id] } });
    expect(alias.status).toBe(201);

    const id = `${uniq()}@remote.test`;
    const r = await sendWithPython(port, { from: 'carol@remote.test', to: [alias.json.address] }, rawMessage({ messageId: id, subject: 'To the team' }));
    expect(r).toMatchObject({ code: 250, rejected: [] });
    for (const mb of [sales, support]) {
      const got = (await storedMessages(core, mb.id)).filter((m) => m.message_id === id);
      expect(got).toHaveLength(1);
      expect(JSON.parse(got[0].received_for_json)).toEqual([alias.json.address]);
    }

    // The alias and one of its inboxes in the same transaction: one copy in that inbox.
    const id2 = `${uniq()}@remote.test`;
    const r2 = await sendWithPython(port, { from: 'carol@remote.test', to: [alias.json.address, sales.address] }, rawMessage({ messageId: id2 }));
    expect(r2.code).toBe(250);
    const inSales = (await storedMessages(core, sales.id)).filter((m) => m.message_id === id2);
    expect(inSales).toHaveLength(1);
    expect(JSON.parse(inSales[0].received_for_json).sort()).toEqual([alias.json.address, sales.address].sort());
    expect((await storedMessages(core, support.id)).filter((m) => m.message_id === id2)).toHaveLength(1);
    // One email.received per stored copy.
    const events = await waitFor('two events', () => {
      const e = receivedEvents().filter((x) => x.data.message_id === `<${id2}>`);
      return e.length === 2 ? e : null;
    });
    expect(events.map((e) => e.data.inbox_id).sort()).toEqual([sales.id, support.id].sort());
  });

  it('swaks delivers to the catch-all of the domain; without a catch-all an unknown user is 550 5.1.1', async () => {
    const bucket = await mailbox(`bucket-${uniq()}`);
    const before = await sendWithSwaks(port, { from: 'dave@remote.test', to: [`nobody-${uniq()}@${domain}`] }, rawMessage());
    expect(before.code).toBe(550);
    expect(before.transcript).toMatch(/550 5\.1\.1 /);

    const set = await api(server.url, 'PUT', `/v1/domains/${inbox.domainId}/catch-all`, { key: apiKey, body: { inbox_id: bucket.id } });
    expect(set.status).toBe(200);
    const id = `${uniq()}@remote.test`;
    const to = `whoever-${uniq()}@${domain}`;
    const r = await sendWithSwaks(port, { from: 'dave@remote.test', to: [to] }, rawMessage({ messageId: id }));
    expect(r.code).toBe(250);
    const got = (await storedMessages(core, bucket.id)).filter((m) => m.message_id === id);
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0].received_for_json)).toEqual([to]);
    // A real inbox still gets its own mail, not the catch-all.
    const id2 = `${uniq()}@remote.test`;
    expect((await sendWithSwaks(port, { from: 'dave@remote.test', to: [`alice@${domain}`] }, rawMessage({ messageId: id2 }))).code).toBe(250);
    expect((await storedMessages(core, bucket.id)).some((m) => m.message_id === id2)).toBe(false);

    expect((await api(server.url, 'DELETE', `/v1/domains/${inbox.domainId}/catch-all`, { key: apiKey })).status).toBe(200);
    expect((await sendWithSwaks(port, { from: 'dave@remote.test', to: [`whoever-${uniq()}@${domain}`] }, rawMessage())).code).toBe(550);
  });

  it('agent inboxes store the message and post the webhook with the whole parsed message', async () => {
    const agent = await mailbox(`agent-${uniq()}`, { mode: 'agent' });
    const id = `${uniq()}@remote.test`;
    const raw = [
      'From: Erin <erin@remote.test>',
      `To: ${agent.address}`,
      'Subject: Invoice',
      `Message-ID: <${id}>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>See the <b>invoice</b></p>',
      '--b',
      'Content-Type: application/pdf; name="invoice.pdf"',
      'Content-Disposition: attachment; filename="invoice.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('%PDF-1.4 fake').toString('base64'),
      '--b--',
      '',
    ].join('\r\n');
    expect((await sendWithNodemailer(port, { from: 'erin@remote.test', to: [agent.address] }, raw)).code).toBe(250);
    const [m] = await storedMessages(core, agent.id);
    expect(m.message_id).toBe(id);
    const event = await waitFor('agent webhook', () => receivedEvents().find((e) => e.data.email_id === m.id));
    expect(event.data.inbox_mode).toBe('agent');
    expect(event.data.html).toContain('<b>invoice</b>');
    expect(event.data.attachments).toEqual([{ id: expect.any(String), filename: 'invoice.pdf', content_type: 'application/pdf', content_disposition: 'attachment', content_id: null }]);
    const att = await core.db.selectFrom('message_attachments').select(['id', 'message_id']).where('id', '=', event.data.attachments[0].id).executeTakeFirstOrThrow();
    expect(att.message_id).toBe(m.id);
  });

  it('groups a thread of three messages linked by References', async () => {
    const tm = await mailbox(`thread-${uniq()}`);
    const [a, b, c] = [uniq(), uniq(), uniq()].map((x) => `${x}@remote.test`);
    await sendWithNodemailer(port, { from: 'f@remote.test', to: [tm.address] }, rawMessage({ messageId: a, subject: 'Plans' }));
    await sendWithPython(port, { from: 'g@remote.test', to: [tm.address] }, rawMessage({ messageId: b, subject: 'Re: Plans', inReplyTo: a, references: [a] }));
    // A different subject: only References ties it to the others.
    await sendWithSwaks(port, { from: 'f@remote.test', to: [tm.address] }, rawMessage({ messageId: c, subject: 'changed topic', inReplyTo: b, references: [a, b] }));
    const msgs = await storedMessages(core, tm.id);
    expect(msgs.map((m) => m.message_id)).toEqual([a, b, c]);
    expect(new Set(msgs.map((m) => m.thread_id)).size).toBe(1);
    // An unrelated message starts its own thread.
    await sendWithNodemailer(port, { from: 'f@remote.test', to: [tm.address] }, rawMessage({ subject: 'Something else' }));
    expect(new Set((await storedMessages(core, tm.id)).map((m) => m.thread_id)).size).toBe(2);
  });
});

describe('refusals', () => {
  it('refuses relaying to outside domains and to domains without receiving, at RCPT, with 5.7.1', async () => {
    const { client } = await RawSmtp.connect(port);
    await client.command('EHLO relay.test');
    expect((await client.command('MAIL FROM:<spammer@remote.test>')).code).toBe(250);
    const outside = await client.command('RCPT TO:<victim@gmail.example>');
    expect(outside.code).toBe(550);
    expect(outside.text).toContain('5.7.1');
    // A domain of a workspace with sending only: not ours to receive for.
    expect((await resend.domains.create({ name: 'sendonly.example.com' })).error).toBeNull();
    const sendOnly = await client.command('RCPT TO:<anyone@sendonly.example.com>');
    expect(sendOnly.code).toBe(550);
    expect(sendOnly.text).toContain('5.7.1');
    // nodemailer sees the same.
    const r = await sendWithNodemailer(port, { from: 'spammer@remote.test', to: ['victim@gmail.example'] }, rawMessage());
    expect(r.code).toBe(550);
    await client.quit();
  });

  it('refuses an unknown user of a hosted domain with 550 5.1.1 (Python smtplib)', async () => {
    const r = await sendWithPython(port, { from: 'x@remote.test', to: [`ghost-${uniq()}@${domain}`] }, rawMessage());
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/^5\.1\.1 /);
  });

  it('refuses a message over MAILSTACK_MAX_MESSAGE_BYTES with 552 and stores nothing', async () => {
    const big = await mailbox(`big-${uniq()}`);
    const raw = rawMessage({ text: 'x'.repeat(1000).concat('\r\n').repeat(Math.ceil((MAX_BYTES + 10_000) / 1002)) });
    const r = await sendWithNodemailer(port, { from: 'x@remote.test', to: [big.address] }, raw);
    expect(r.code).toBe(552);
    expect(await storedMessages(core, big.id)).toHaveLength(0);
  });

  it('refuses over quota with 452 4.2.2: at DATA when the message does not fit, at RCPT once the mailbox is full', async () => {
    const small = await mailbox(`small-${uniq()}`, { quotaBytes: 3000 });
    const first = rawMessage({ text: 'a'.repeat(1500) });
    expect((await sendWithNodemailer(port, { from: 'x@remote.test', to: [small.address] }, first)).code).toBe(250);
    const r = await sendWithPython(port, { from: 'x@remote.test', to: [small.address] }, rawMessage({ text: 'b'.repeat(2000) }));
    expect(r.code).toBe(452);
    expect(r.response).toMatch(/^4\.2\.2 /);
    expect(await storedMessages(core, small.id)).toHaveLength(1);

    const full = await mailbox(`full-${uniq()}`, { quotaBytes: 0 });
    const { client } = await RawSmtp.connect(port);
    await client.command('EHLO q.test');
    await client.command('MAIL FROM:<x@remote.test>');
    const rcpt = await client.command(`RCPT TO:<${full.address}>`);
    expect(rcpt.code).toBe(452);
    expect(rcpt.text).toContain('4.2.2');
    await client.quit();

    // An alias with one full target refuses for all (one DATA reply for every recipient).
    const roomy = await mailbox(`roomy-${uniq()}`);
    const alias = await api(server.url, 'POST', '/v1/aliases', { key: apiKey, body: { address: `mixed-${uniq()}@${domain}`, inbox_ids: [roomy.id, small.id] } });
    const r2 = await sendWithNodemailer(port, { from: 'x@remote.test', to: [alias.json.address] }, rawMessage({ text: 'c'.repeat(2000) }));
    expect(r2.code).toBe(452);
    expect(await storedMessages(core, roomy.id)).toHaveLength(0);
  });

  it('refuses loops: more than 100 Received fields, and our own forwarding marker for a forwarding inbox, with 554 5.4.6', async () => {
    const lm = await mailbox(`loop-${uniq()}`);
    const hops = Array.from({ length: 101 }, (_, i) => `Received: from hop${i}.remote.test by hop${i + 1}.remote.test; Tue, 01 Jul 2025 10:00:00 +0000`).join('\r\n');
    const looped = Buffer.concat([Buffer.from(`${hops}\r\n`), rawMessage()]);
    const r = await sendWithNodemailer(port, { from: 'x@remote.test', to: [lm.address] }, looped);
    expect(r.code).toBe(554);
    expect(r.response).toContain('5.4.6');
    expect(await storedMessages(core, lm.id)).toHaveLength(0);

    const rule = await api(server.url, 'POST', `/v1/inboxes/${lm.id}/forwarding`, { key: apiKey, body: { to: 'loop-target@remote.test' } });
    expect(rule.status).toBe(201);
    const marked = rawMessage({ headers: { 'X-Mailstack-Forwarded': lm.id } });
    const r2 = await sendWithNodemailer(port, { from: 'x@remote.test', to: [lm.address] }, marked);
    expect(r2.code).toBe(554);
    expect(r2.response).toContain('5.4.6');
    // Another mailbox's marker is not a loop here.
    const other = rawMessage({ headers: { 'X-Mailstack-Forwarded': '01900000-0000-7000-8000-000000000bad' } });
    expect((await sendWithNodemailer(port, { from: 'x@remote.test', to: [lm.address] }, other)).code).toBe(250);
  });
});

describe('forwarding with SRS', () => {
  it('forwards to a remote MX with an SRS0 envelope sender, and passes a bounce to that address on to the original sender', async () => {
    const fw = await mailbox(`fw-${uniq()}`);
    const rule = await api(server.url, 'POST', `/v1/inboxes/${fw.id}/forwarding`, { key: apiKey, body: { to: 'elsewhere@remote.test', keep_copy: false } });
    expect(rule.status).toBe(201);
    expect(rule.json).toMatchObject({ object: 'forwarding_rule', inbox_id: fw.id, to: 'elsewhere@remote.test', keep_copy: false, enabled: true });

    const id = `${uniq()}@origin.test`;
    const raw = rawMessage({ from: 'Olga <olga@remote.test>', to: fw.address, subject: 'Forward me', messageId: id });
    const r = await sendWithNodemailer(port, { from: 'Olga@remote.test', to: [fw.address] }, raw);
    expect(r.code).toBe(250);
    // keep_copy false: not stored.
    expect(await storedMessages(core, fw.id)).toHaveLength(0);

    const forwarded = await waitFor('the forward at the remote MX', () => remote.messages.find((m) => m.to.includes('elsewhere@remote.test') && m.raw.toString().includes(id)), 30_000);
    expect(forwarded.from).toMatch(/^SRS0=[a-z2-7]{8}=[a-z2-7]{2}=remote\.test=Olga@send\.hosted\.example\.com$/);
    const fwdText = forwarded.raw.toString('latin1');
    expect(fwdText).toContain(`X-Mailstack-Forwarded: ${fw.id}\r\n`);
    expect(fwdText).toContain('DKIM-Signature:');
    expect(fwdText).toContain(raw.toString('latin1'));
    expect(fwdText).not.toContain('Return-Path:');
    const check = await srsDecode(core, forwarded.from.slice(0, forwarded.from.lastIndexOf('@')));
    expect(check).toEqual({ ok: true, original: 'Olga@remote.test' });

    // The remote side bounces it to the SRS address (null sender): accepted and sent on.
    const dsn = [
      'From: Mail Delivery System <MAILER-DAEMON@mx.remote.test>',
      'To: ' + forwarded.from,
      'Subject: Undelivered Mail Returned to Sender',
      `Message-ID: <${uniq()}@mx.remote.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain',
      '',
      `Your message ${id} could not be delivered.`,
      '',
    ].join('\r\n');
    const b = await sendWithNodemailer(port, { from: '', to: [forwarded.from] }, dsn);
    expect(b.code).toBe(250);
    const bounced = await waitFor('the bounce at the original sender', () => remote.messages.find((m) => m.to.includes('olga@remote.test')), 30_000);
    expect(bounced.from).toBe('');
    expect(bounced.raw.toString()).toContain(`Your message ${id} could not be delivered.`);

    // A forged SRS address (hash wrong) is an unknown user; a non-null sender may not use a good one.
    const forged = forwarded.from.replace(/^SRS0=[a-z2-7]{8}/, 'SRS0=aaaaaaaa');
    expect((await sendWithNodemailer(port, { from: '', to: [forged] }, dsn)).code).toBe(550);
    const spam = await sendWithNodemailer(port, { from: 'spammer@remote.test', to: [forwarded.from] }, dsn);
    expect(spam.code).toBe(550);
    expect(spam.response).toContain('5.7.1');
  });

  it('honours "enabled": false at creation: the rule forwards nothing until it is enabled (issue 9)', async () => {
    const fw = await mailbox(`off-${uniq()}`);
    const rule = await api(server.url, 'POST', `/v1/inboxes/${fw.id}/forwarding`, { key: apiKey, body: { to: 'off-target@remote.test', keep_copy: true, enabled: false } });
    expect(rule.status).toBe(201);
    expect(rule.json).toMatchObject({ enabled: false, keep_copy: true });
    expect((await api(server.url, 'GET', `/v1/inboxes/${fw.id}/forwarding/${rule.json.id}`, { key: apiKey })).json.enabled).toBe(false);
    const first = `${uniq()}@origin.test`;
    expect((await sendWithNodemailer(port, { from: 'p@remote.test', to: [fw.address] }, rawMessage({ messageId: first }))).code).toBe(250);
    expect((await storedMessages(core, fw.id)).map((m) => m.message_id)).toEqual([first]);
    // Enabled afterwards: the next message goes on; the first never did.
    expect((await api(server.url, 'PATCH', `/v1/inboxes/${fw.id}/forwarding/${rule.json.id}`, { key: apiKey, body: { enabled: true } })).json.enabled).toBe(true);
    const second = `${uniq()}@origin.test`;
    expect((await sendWithNodemailer(port, { from: 'p@remote.test', to: [fw.address] }, rawMessage({ messageId: second }))).code).toBe(250);
    await waitFor('the forward of the second', () => remote.messages.find((m) => m.to.includes('off-target@remote.test') && m.raw.toString().includes(second)), 30_000);
    expect(remote.messages.some((m) => m.to.includes('off-target@remote.test') && m.raw.toString().includes(first))).toBe(false);
    // An unknown field is a clear 422, not silently dropped.
    const typo = await api(server.url, 'POST', `/v1/inboxes/${fw.id}/forwarding`, { key: apiKey, body: { to: 'x@remote.test', enable: false } });
    expect(typo.status).toBe(422);
    expect(typo.json).toMatchObject({ name: 'validation_error', message: expect.stringContaining('`enable`') });
  });

  it('keeps a copy when the rule says so, and the copy gets its webhook', async () => {
    const fw = await mailbox(`keep-${uniq()}`);
    expect((await api(server.url, 'POST', `/v1/inboxes/${fw.id}/forwarding`, { key: apiKey, body: { to: 'copy@remote.test' } })).json.keep_copy).toBe(true);
    const id = `${uniq()}@origin.test`;
    expect((await sendWithNodemailer(port, { from: 'p@remote.test', to: [fw.address] }, rawMessage({ messageId: id }))).code).toBe(250);
    expect((await storedMessages(core, fw.id)).map((m) => m.message_id)).toEqual([id]);
    await waitFor('the forward', () => remote.messages.find((m) => m.to.includes('copy@remote.test') && m.raw.toString().includes(id)), 30_000);
    await waitFor('the webhook of the copy', () => receivedEvents().find((e) => e.data.message_id === `<${id}>` && e.data.inbox_id === fw.id));
  });
});

describe('hostile MIME through the MX', () => {
  it('stores each corpus item or refuses it with a 5xx, and stays up', async () => {
    const hm = await mailbox(`hostile-${uniq()}`);
    const outcomes: { name: string; code: number }[] = [];
    for (const item of HOSTILE_CORPUS) {
      const r = await sendWithNodemailer(port, { from: 'mallory@remote.test', to: [hm.address] }, item.raw);
      outcomes.push({ name: item.name, code: r.code });
    }
    const bad = outcomes.filter((o) => o.code !== 250 && !(o.code >= 500 && o.code < 600));
    expect(bad, JSON.stringify(bad)).toEqual([]);
    const storedCount = (await storedMessages(core, hm.id)).length;
    expect(storedCount).toBe(outcomes.filter((o) => o.code === 250).length);
    expect(storedCount).toBeGreaterThan(0);
    // Still up and still delivering.
    expect((await sendWithNodemailer(port, { from: 'x@remote.test', to: [hm.address] }, rawMessage())).code).toBe(250);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
