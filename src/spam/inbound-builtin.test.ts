// The built-in filter with rspamd off, over real sockets: GTUBE is refused at DATA (550 5.7.1)
// and nothing is stored; a client whose IP the loopback DNS server lists under MAILSTACK_DNSBL
// lands in Junk with the DNSBL symbol; the receiving API shows `spam`; the owner's moves (IMAP
// MOVE, STORE $Junk, the API's folder "spam", and back) train the mailbox's Bayesian filter,
// which then sends a new spammy message to Junk and keeps a hammy one in INBOX; a second
// mailbox's filter is untouched (per mailbox).
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { type Core, systemActor } from '../core/core.ts';
import { startImap, type ImapDoor } from '../imap/server.ts';
import { type TestMailbox, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { api, freePort } from '../testkit/server.ts';
import { sendWithNodemailer } from '../testkit/smtp-senders.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { GTUBE } from './gtube.ts';

let world: RemoteWorld;
let core: Core;
let port: number;
let box: TestMailbox;
let other: TestMailbox;
let imap: ImapDoor;
let password: string;
const domain = 'spamtest.example.com';
const uniq = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  port = await freePort();
  world = await startRemoteWorld({ remoteIp: '127.0.0.31', env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_DNSBL: 'bl.test', MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true' } });
  core = world.server.platform.core;
  // 127.0.0.9 is listed (RFC 5782 §2.1: reversed octets under the zone, an A record in 127/8).
  world.dns.a('9.0.0.127.bl.test', '127.0.0.2');
  box = await createTestMailbox(core, { domainName: domain, localPart: 'carol', dns: world.dns });
  other = await createTestMailbox(core, { workspaceId: box.workspaceId, domainName: domain, localPart: 'dave' });
  password = (await createAppPassword(core, systemActor, box.workspaceId, box.mailbox.id, { name: 't' })).password;
  imap = await startImap(core, { host: '127.0.0.1', port: 0, tls: loadTlsMaterial(core.settings), implicitTls: false, authFailureDelayMs: 10 });
}, 60_000);

afterAll(async () => {
  await imap?.close();
  await world?.stop();
});

async function stored(mailboxId: string, messageId: string) {
  return core.db
    .selectFrom('messages')
    .innerJoin('folders', 'folders.id', 'messages.folder_id')
    .select(['messages.id', 'messages.blob_id', 'messages.thread_id', 'folders.special_use', 'messages.uid'])
    .where('messages.mailbox_id', '=', mailboxId)
    .where('messages.message_id', '=', messageId)
    .execute();
}

function send(raw: Buffer, to = `carol@${domain}`, localAddress?: string) {
  if (!localAddress) return sendWithNodemailer(port, { from: 'sender@remote.test', to: [to] }, raw);
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, name: 'client.remote.test', localAddress } as any);
  return t.sendMail({ envelope: { from: 'sender@remote.test', to: [to] }, raw }).then(
    (info) => ({ code: Number(info.response.slice(0, 3)), response: info.response }),
    (err) => ({ code: err.responseCode ?? 0, response: err.response ?? err.message }),
  ).finally(() => t.close());
}

describe('built-in filter at the MX', () => {
  it('refuses GTUBE with 550 5.7.1 before the 250, and stores nothing', async () => {
    const id = `${uniq()}@remote.test`;
    const r = await send(rawMessage({ from: 'sender@remote.test', to: `carol@${domain}`, subject: 'test', messageId: id, text: `This is the GTUBE, the\r\n${GTUBE}\r\n` }));
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/^550 5\.7\.1 Message refused as spam \(score \d+.*GTUBE/);
    expect(await stored(box.mailbox.id, id)).toHaveLength(0);
  });

  it('sends mail from a DNSBL-listed client IP to Junk, with X-Spam-* fields and `spam` in the receiving API', async () => {
    const id = `${uniq()}@remote.test`;
    const r = await send(rawMessage({ from: 'sender@remote.test', to: `carol@${domain}`, subject: 'Listed', messageId: id, text: 'Hello from a listed host.' }), undefined, '127.0.0.9');
    expect(r.code).toBe(250);
    const [m] = await stored(box.mailbox.id, id);
    expect(m.special_use).toBe('junk');
    const raw = (await (await import('../outbound/accept.ts')).blobStore(core).get(m.blob_id)).toString('latin1');
    expect(raw).toMatch(/\r\nX-Spam-Status: Yes, score=8\.\d\d required=6\.00 engine=builtin\r\n/);
    expect(raw).toMatch(/X-Spam-Symbols: DNSBL_BL_TEST\(8\.00\)/);
    const got = await api(world.server.url, 'GET', `/v1/emails/receiving/${m.id}`, { key: box.apiKey! });
    expect(got.status).toBe(200);
    expect(got.json.spam).toMatchObject({ action: 'add header', engine: 'builtin', symbols: { DNSBL_BL_TEST: 8 } });
    expect(got.json.spam.score).toBeGreaterThanOrEqual(8);
    // Another workspace cannot read it.
    const stranger = await world.server.setup(`x-${uniq()}@example.com`, 'Stranger');
    expect((await api(world.server.url, 'GET', `/v1/emails/receiving/${m.id}`, { key: stranger.apiKey })).status).toBe(404);
  });

  it('does not forward junk: a forwarding inbox keeps it in its Junk; clean mail is forwarded; forged X-Spam-* fields are removed', async () => {
    const fwd = await createTestMailbox(core, { workspaceId: box.workspaceId, domainName: domain, localPart: 'frank' });
    const rule = await api(world.server.url, 'POST', `/v1/inboxes/${fwd.mailbox.id}/forwarding`, { key: box.apiKey!, body: { to: 'frank@elsewhere.example.net', keep_copy: false } });
    expect(rule.status).toBe(201);
    const forwards = async () => Number((await core.db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', box.workspaceId).where('source', '=', 'forward').executeTakeFirstOrThrow()).n);
    const before = await forwards();
    const junkId = `${uniq()}@remote.test`;
    const forged = rawMessage({ from: 'sender@remote.test', to: `frank@${domain}`, subject: 'Listed', messageId: junkId, text: 'From a listed host.', headers: { 'X-Spam-Status': 'No, score=-99', 'X-Spam-Flag': 'NO', 'x-spam-symbols': 'NONE,\r\n\tALSO_NONE' } });
    expect((await send(forged, `frank@${domain}`, '127.0.0.9')).code).toBe(250);
    const [j] = await stored(fwd.mailbox.id, junkId);
    expect(j.special_use).toBe('junk');
    expect(await forwards()).toBe(before);
    const head = (await (await import('../outbound/accept.ts')).blobStore(core).get(j.blob_id)).toString('latin1').split('\r\n\r\n')[0];
    expect(head.match(/^X-Spam-Status:/gim)).toHaveLength(1);
    expect(head).not.toMatch(/score=-99|X-Spam-Flag: NO|ALSO_NONE/i);
    const cleanId = `${uniq()}@remote.test`;
    expect((await send(rawMessage({ from: 'sender@remote.test', to: `frank@${domain}`, subject: 'Clean', messageId: cleanId, text: 'Dinner?' }), `frank@${domain}`)).code).toBe(250);
    expect(await forwards()).toBe(before + 1);
    expect(await stored(fwd.mailbox.id, cleanId)).toHaveLength(0);
  });

  it('keeps a clean message from an unlisted client in INBOX with X-Spam-Status: No', async () => {
    const id = `${uniq()}@remote.test`;
    expect((await send(rawMessage({ from: 'sender@remote.test', to: `carol@${domain}`, subject: 'Clean', messageId: id, text: 'Lunch tomorrow?' }))).code).toBe(250);
    const [m] = await stored(box.mailbox.id, id);
    expect(m.special_use).toBe('inbox');
    const got = await api(world.server.url, 'GET', `/v1/emails/receiving/${m.id}`, { key: box.apiKey! });
    expect(got.json.spam).toMatchObject({ action: 'no action', engine: 'builtin' });
  });
});

const SPAM_TEXTS = [
  'Cheap viagra pills discount pharmacy order now limited offer',
  'Win money casino bonus jackpot free spins claim prize now',
  'Cheap replica watches discount luxury offer order now free shipping',
  'Crypto investment double your bitcoin guaranteed profit offer now',
  'Lottery winner claim your prize money transfer fee urgent offer',
];
const HAM_TEXTS = [
  'Minutes of the project meeting: schedule review and next milestones',
  'Can we move the design review to Thursday afternoon? The schedule slipped',
  'Here are the notes from the architecture meeting and the action items',
  'Reminder: quarterly planning meeting agenda attached, please review',
  'The build is green again; the review comments are addressed in the branch',
];

describe('Bayesian learning from the owner\'s actions', () => {
  it('moves into Junk (IMAP MOVE, STORE $Junk, API folder spam) train spam; moves out train ham; then new mail is classified', async () => {
    const ids: { spam: string[]; ham: string[] } = { spam: [], ham: [] };
    for (const [kind, texts] of [['spam', SPAM_TEXTS], ['ham', HAM_TEXTS]] as const) {
      for (const [i, text] of texts.entries()) {
        const id = `${kind}${i}-${uniq()}@remote.test`;
        expect((await send(rawMessage({ from: `${kind}@remote.test`, to: `carol@${domain}`, subject: text.split(' ').slice(0, 4).join(' '), messageId: id, text }))).code).toBe(250);
        ids[kind].push(id);
      }
    }
    const client = new ImapFlow({ host: '127.0.0.1', port: imap.port, secure: false, auth: { user: box.mailbox.address, pass: password }, logger: false, doSTARTTLS: false } as any);
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const uidOf = async (id: string) => (await stored(box.mailbox.id, id))[0].uid;
        // Spam 0,1 by MOVE; 2 by STORE $Junk (stays in INBOX); 3,4 by the API.
        await client.messageMove(`${await uidOf(ids.spam[0])},${await uidOf(ids.spam[1])}`, 'Junk', { uid: true });
        await client.messageFlagsAdd(String(await uidOf(ids.spam[2])), ['$Junk'], { uid: true });
        // Ham: into Junk by mistake, then back out (trains spam, then retrains as ham).
        await client.messageMove(`${await uidOf(ids.ham[0])}`, 'Junk', { uid: true });
        await client.messageFlagsAdd(`${await uidOf(ids.ham[1])},${await uidOf(ids.ham[2])}`, ['$NotJunk'], { uid: true });
      } finally {
        lock.release();
      }
      await waitFor('ham 0 trained as spam', async () => (await core.db.selectFrom('spam_verdicts').innerJoin('messages', 'messages.id', 'spam_verdicts.message_id').select('trained').where('messages.message_id', '=', ids.ham[0]).executeTakeFirst())?.trained === 'spam' || undefined, 20_000);
      const back = await client.getMailboxLock('Junk');
      try {
        const m = (await stored(box.mailbox.id, ids.ham[0]))[0];
        await client.messageMove(String(m.uid), 'INBOX', { uid: true });
      } finally {
        back.release();
      }
    } finally {
      await client.logout();
    }
    for (const id of ids.spam.slice(3)) {
      const m = (await stored(box.mailbox.id, id))[0];
      const r = await api(world.server.url, 'PATCH', `/v1/inboxes/${box.mailbox.id}/threads/${m.thread_id}`, { key: box.apiKey!, body: { folder: 'spam' } });
      expect(r.status).toBe(200);
    }
    const totals = await waitFor(
      'five spam and three ham trained',
      async () => {
        const t = await core.db.selectFrom('spam_bayes_totals').selectAll().where('mailbox_id', '=', box.mailbox.id).executeTakeFirst();
        return t && Number(t.spam) === 5 && Number(t.ham) === 3 ? t : undefined;
      },
      20_000,
    );
    expect(totals).toBeTruthy();

    const spamId = `new-spam-${uniq()}@remote.test`;
    expect((await send(rawMessage({ from: 'promo@remote.test', to: `carol@${domain}`, subject: 'Discount offer now', messageId: spamId, text: 'Cheap discount offer: order now, claim your free prize money' }))).code).toBe(250);
    const [s] = await stored(box.mailbox.id, spamId);
    expect(s.special_use).toBe('junk');
    const sv = await api(world.server.url, 'GET', `/v1/emails/receiving/${s.id}`, { key: box.apiKey! });
    expect(Object.keys(sv.json.spam.symbols)).toContain('BAYES_SPAM');

    const hamId = `new-ham-${uniq()}@remote.test`;
    expect((await send(rawMessage({ from: 'colleague@remote.test', to: `carol@${domain}`, subject: 'Meeting notes', messageId: hamId, text: 'The meeting notes and the schedule review are attached for the project' }))).code).toBe(250);
    const [h] = await stored(box.mailbox.id, hamId);
    expect(h.special_use).toBe('inbox');
    const hv = await api(world.server.url, 'GET', `/v1/emails/receiving/${h.id}`, { key: box.apiKey! });
    expect(Object.keys(hv.json.spam.symbols)).toContain('BAYES_HAM');

    // The same spammy text to another mailbox of the workspace: its filter learnt nothing.
    const otherId = `other-${uniq()}@remote.test`;
    expect((await send(rawMessage({ from: 'promo@remote.test', to: `dave@${domain}`, subject: 'Discount offer now', messageId: otherId, text: 'Cheap discount offer: order now, claim your free prize money' }), `dave@${domain}`)).code).toBe(250);
    expect((await stored(other.mailbox.id, otherId))[0].special_use).toBe('inbox');
  }, 90_000);
});
