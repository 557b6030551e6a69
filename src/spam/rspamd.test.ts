// The MX against a real rspamd on loopback (src/testkit/rspamd.ts starts one from a temp config):
// GTUBE is refused before the 250 and not stored; a message rspamd scores between the junk and
// the reject scores lands in Junk with rspamd's symbols readable by the API (one and the list),
// and the X-Spam-* fields the sender forged are gone; moving a message into Junk over IMAP trains
// rspamd as spam (its learn counters move) and moving it back trains it as ham.
// Skipped, with that message, only on a machine without rspamd; under CI a missing rspamd fails.
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { type Core, systemActor } from '../core/core.ts';
import { startImap, type ImapDoor } from '../imap/server.ts';
import { blobStore } from '../outbound/accept.ts';
import { type TestMailbox, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { RSPAMD_MISSING, type Rspamd, rspamdBinary, startRspamd } from '../testkit/rspamd.ts';
import { api, freePort } from '../testkit/server.ts';
import { sendWithNodemailer } from '../testkit/smtp-senders.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { GTUBE } from './gtube.ts';

const present = rspamdBinary() !== null;
if (!present) console.warn(RSPAMD_MISSING);

let rspamd: Rspamd;
let world: RemoteWorld;
let core: Core;
let port: number;
let box: TestMailbox;
let imap: ImapDoor;
let password: string;
const domain = 'rspamd.example.com';
const uniq = () => Math.random().toString(36).slice(2, 10);

describe.skipIf(!present)('the MX with a real rspamd', () => {
  beforeAll(async () => {
    rspamd = await startRspamd();
    port = await freePort();
    world = await startRemoteWorld({ remoteIp: '127.0.0.32', env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_RSPAMD_URL: rspamd.url, MAILSTACK_RSPAMD_PASSWORD: rspamd.password, MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true' } });
    core = world.server.platform.core;
    box = await createTestMailbox(core, { domainName: domain, localPart: 'erin', dns: world.dns });
    password = (await createAppPassword(core, systemActor, box.workspaceId, box.mailbox.id, { name: 't' })).password;
    imap = await startImap(core, { host: '127.0.0.1', port: 0, tls: loadTlsMaterial(core.settings), implicitTls: false, authFailureDelayMs: 10 });
  }, 120_000);

  afterAll(async () => {
    await imap?.close();
    await world?.stop();
    await rspamd?.stop();
  });

  const send = (raw: Buffer) => sendWithNodemailer(port, { from: 'sender@remote.test', to: [`erin@${domain}`] }, raw);
  const stored = (messageId: string) =>
    core.db
      .selectFrom('messages')
      .innerJoin('folders', 'folders.id', 'messages.folder_id')
      .select(['messages.id', 'messages.blob_id', 'messages.uid', 'folders.special_use'])
      .where('messages.mailbox_id', '=', box.mailbox.id)
      .where('messages.message_id', '=', messageId)
      .execute();

  it('refuses GTUBE with 550 5.7.1 before the 250 (rspamd says reject), and stores nothing', async () => {
    const id = `${uniq()}@remote.test`;
    const r = await send(rawMessage({ from: 'sender@remote.test', to: `erin@${domain}`, subject: 'test', messageId: id, text: `${GTUBE}\r\n` }));
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/^550 5\.7\.1 Message refused as spam \(score 15.*Gtube pattern/i);
    expect(await stored(id)).toHaveLength(0);
  });

  it('files a message rspamd scores as junk in Junk, with its symbols in the API and no forged X-Spam-* fields', async () => {
    const id = `${uniq()}@remote.test`;
    const raw = rawMessage({ from: 'sender@remote.test', to: `erin@${domain}`, subject: 'Offer MAILSTACK-JUNK-TEST', messageId: id, text: 'Hello.', headers: { 'X-Spam-Status': 'No, score=-50', 'X-Spam-Flag': 'NO' } });
    expect((await send(raw)).code).toBe(250);
    const [m] = await stored(id);
    expect(m.special_use).toBe('junk');
    const copy = (await blobStore(core).get(m.blob_id)).toString('latin1');
    const head = copy.slice(0, copy.indexOf('\r\n\r\n'));
    expect(head.match(/^X-Spam-Status:/gim)).toHaveLength(1);
    expect(head).toMatch(/\r\nX-Spam-Status: Yes, score=\d+\.\d\d required=\d+\.\d\d engine=rspamd\r\n/);
    expect(head).not.toMatch(/score=-50|X-Spam-Flag: NO/);
    const got = await api(world.server.url, 'GET', `/v1/emails/receiving/${m.id}`, { key: box.apiKey! });
    expect(got.json.spam).toMatchObject({ engine: 'rspamd', action: 'add header', symbols: { MAILSTACK_TEST_JUNK: 8 } });
    expect(got.json.spam.score).toBeGreaterThanOrEqual(8);
    const list = await api(world.server.url, 'GET', '/v1/emails/receiving', { key: box.apiKey! });
    const item = list.json.data.find((e: any) => e.id === m.id);
    expect(item.spam).toMatchObject({ engine: 'rspamd', symbols: { MAILSTACK_TEST_JUNK: 8 } });
  });

  it('keeps an ordinary message in INBOX; moving it into Junk over IMAP trains spam, moving it back trains ham', async () => {
    const id = `${uniq()}@remote.test`;
    const text = 'The quarterly planning notes are attached; the review of the milestones moved to Thursday afternoon.';
    expect((await send(rawMessage({ from: 'sender@remote.test', to: `erin@${domain}`, subject: 'Planning notes', messageId: id, text }))).code).toBe(250);
    const [m] = await stored(id);
    expect(m.special_use).toBe('inbox');
    expect((await api(world.server.url, 'GET', `/v1/emails/receiving/${m.id}`, { key: box.apiKey! })).json.spam).toMatchObject({ engine: 'rspamd', action: 'no action' });

    const before = await rspamd.learns();
    const client = new ImapFlow({ host: '127.0.0.1', port: imap.port, secure: false, auth: { user: box.mailbox.address, pass: password }, logger: false, doSTARTTLS: false } as any);
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageMove(String(m.uid), 'Junk', { uid: true });
      } finally {
        lock.release();
      }
      const afterSpam = await waitFor('rspamd learnt spam', async () => {
        const s = await rspamd.learns();
        return s.spam > before.spam ? s : undefined;
      }, 30_000);
      // Learning spam never adds to ham; when rspamd had autolearnt the message as ham on its scan, it
      // moves that learn over (ham goes down by one).
      expect(afterSpam.ham).toBeLessThanOrEqual(before.ham);
      const back = await client.getMailboxLock('Junk');
      try {
        const [j] = await stored(id);
        await client.messageMove(String(j.uid), 'INBOX', { uid: true });
      } finally {
        back.release();
      }
      await waitFor('rspamd learnt ham', async () => ((await rspamd.learns()).ham > afterSpam.ham ? true : undefined), 30_000);
    } finally {
      await client.logout();
    }
    const [again] = await stored(id);
    expect((await api(world.server.url, 'GET', `/v1/emails/receiving/${again.id}`, { key: box.apiKey! })).json.spam.trained).toBe('ham');
  }, 90_000);
});
