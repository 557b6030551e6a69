// Allow and block lists (workspace and inbox) and the executable-attachment rule, by the API and at
// the MX over real sockets; hostile patterns are 422s; a second workspace can neither see nor remove
// the first one's entries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestMailbox, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { api, freePort } from '../testkit/server.ts';
import { sendWithNodemailer } from '../testkit/smtp-senders.ts';

let world: RemoteWorld;
let core: Core;
let port: number;
let box: TestMailbox;
const domain = 'lists.example.com';
const uniq = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  port = await freePort();
  world = await startRemoteWorld({ remoteIp: '127.0.0.34', env: { MAILSTACK_SMTP_PORT: String(port) } });
  core = world.server.platform.core;
  box = await createTestMailbox(core, { domainName: domain, localPart: 'erin', dns: world.dns });
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

const call = (method: string, path: string, body?: unknown, key = box.apiKey!) => api(world.server.url, method, path, { key, body });

async function deliver(from: string, extra: { raw?: Buffer } = {}) {
  const id = `${uniq()}@x.test`;
  const raw = extra.raw ?? rawMessage({ from, to: `erin@${domain}`, subject: 'hi', messageId: id, text: 'hello' });
  const r = await sendWithNodemailer(port, { from, to: [`erin@${domain}`] }, raw);
  const row = await core.db.selectFrom('messages').innerJoin('folders', 'folders.id', 'messages.folder_id').select(['folders.special_use']).where('messages.mailbox_id', '=', box.mailbox.id).where('messages.message_id', '=', id).executeTakeFirst();
  return { ...r, folder: row?.special_use ?? null, id };
}

describe('allow and block lists', () => {
  it('refuses a workspace-blocked domain with 550 5.7.1, sends an inbox-blocked sender to Junk, and an inbox allow beats a workspace block', async () => {
    expect((await call('POST', '/v1/spam/lists', { list: 'block', pattern: 'refused.test', action: 'reject' })).status).toBe(201);
    expect((await call('POST', '/v1/spam/lists', { list: 'block', pattern: '@mixed.test' })).json).toMatchObject({ list: 'block', pattern: 'mixed.test', action: 'junk', inbox_id: null });
    expect((await call('POST', '/v1/spam/lists', { list: 'allow', pattern: 'Friend@Mixed.test', inbox_id: box.mailbox.id })).json).toMatchObject({ list: 'allow', pattern: 'friend@mixed.test', inbox_id: box.mailbox.id });

    const refused = await deliver('x@sub.refused.test');
    expect(refused.code).toBe(550);
    expect(refused.response).toMatch(/^550 5\.7\.1 Message refused: the recipient does not accept mail from this sender/);
    expect(refused.folder).toBeNull();
    expect((await deliver('other@mixed.test')).folder).toBe('junk');
    expect((await deliver('friend@mixed.test')).folder).toBe('inbox');
    expect((await deliver('someone@elsewhere.test')).folder).toBe('inbox');

    const listed = await call('GET', '/v1/spam/lists');
    expect(listed.json.data.map((e: any) => e.pattern).sort()).toEqual(['mixed.test', 'refused.test']);
    expect((await call('GET', `/v1/spam/lists?inbox_id=${box.mailbox.id}`)).json.data).toHaveLength(1);
  }, 60_000);

  it('answers hostile patterns with 422 and keeps workspaces apart', async () => {
    for (const pattern of ['not an address', 'a@', '@', 'x'.repeat(400), 'bob@exa mple.com', '<a@b.c>']) {
      const r = await call('POST', '/v1/spam/lists', { list: 'block', pattern });
      expect(r.status, pattern).toBe(422);
      expect(r.json.name).toBe('validation_error');
    }
    expect((await call('POST', '/v1/spam/lists', { list: 'maybe', pattern: 'a.test' })).status).toBe(422);
    expect((await call('POST', '/v1/spam/lists', { list: 'block', pattern: 'a.test', action: 'explode' })).status).toBe(422);
    const stranger = await world.server.setup(`s-${uniq()}@example.com`, 'Stranger');
    expect((await call('GET', '/v1/spam/lists', undefined, stranger.apiKey)).json.data).toEqual([]);
    const mine = (await call('GET', '/v1/spam/lists')).json.data[0];
    expect((await call('DELETE', `/v1/spam/lists/${mine.id}`, undefined, stranger.apiKey)).status).toBe(404);
    expect((await call('POST', '/v1/spam/lists', { list: 'block', pattern: 'a.test', inbox_id: box.mailbox.id }, stranger.apiKey)).status).toBe(404);
    expect((await call('DELETE', `/v1/spam/lists/${mine.id}`)).status).toBe(200);
  });
});

function withAttachment(filename: string, content: Buffer, id: string): Buffer {
  return Buffer.from(
    [
      'From: sender@files.test',
      `To: erin@${domain}`,
      'Subject: your invoice',
      `Message-ID: <${id}>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'See attached.',
      '--b1',
      `Content-Type: application/pdf; name="${filename}"`,
      `Content-Disposition: attachment; filename="${filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      content.toString('base64'),
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

describe('executable attachments', () => {
  it('a workspace that refuses them answers 550 5.7.1 naming the rule, by content even under a harmless name', async () => {
    expect((await call('PATCH', '/v1/spam/settings', { refuse_executables: true })).json).toMatchObject({ refuse_executables: true });
    const pe = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(200, 0)]);
    const id1 = `${uniq()}@files.test`;
    const r = await sendWithNodemailer(port, { from: 'sender@files.test', to: [`erin@${domain}`] }, withAttachment('invoice.pdf', pe, id1));
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/^550 5\.7\.1 Message refused by rule executable-attachment: attachment "invoice\.pdf" is a Windows PE\/DOS executable/);
    const id2 = `${uniq()}@files.test`;
    const ok = await sendWithNodemailer(port, { from: 'sender@files.test', to: [`erin@${domain}`] }, withAttachment('invoice.pdf', Buffer.from('%PDF-1.4\n%\xe2\xe3\n1 0 obj\n', 'latin1'), id2));
    expect(ok.code).toBe(250);
    // Turned off, the same executable is taken.
    expect((await call('PATCH', '/v1/spam/settings', { refuse_executables: false })).status).toBe(200);
    const id3 = `${uniq()}@files.test`;
    expect((await sendWithNodemailer(port, { from: 'sender@files.test', to: [`erin@${domain}`] }, withAttachment('invoice.pdf', pe, id3))).code).toBe(250);
  });
});
