// Tenant walls and permissions of every inbox and receiving endpoint, over HTTP: another
// workspace's inbox (by id or address), thread, email, label, draft or attachment is a 404 on
// every method, and nothing of it changes; a thread, label or draft of another inbox of the same
// workspace is a 404 under the wrong inbox; a sending-only key gets 403.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestMailbox, appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let core: Core;
let A: TestMailbox;
let B: TestMailbox;
let B2: { id: string };
const ids = { thread: '', email: '', label: '', draft: '', attachment: '' };

beforeAll(async () => {
  server = await startTestServer({ env: { MAILSTACK_WORKER_CONCURRENCY: '0' } });
  core = server.platform.core;
  A = await createTestMailbox(core, { domainName: 'a-walls.test', localPart: 'owner' });
  B = await createTestMailbox(core, { domainName: 'b-walls.test', localPart: 'intruder' });
  const b2 = await api(server.url, 'POST', '/v1/inboxes', { key: B.apiKey!, body: { email_address: 'second@b-walls.test' } });
  expect(b2.status).toBe(201);
  B2 = b2.json;

  const raw = Buffer.from(
    [
      'From: x@remote.test',
      'To: owner@a-walls.test',
      'Subject: secret plans',
      'Message-ID: <walls-1@remote.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary=zz',
      '',
      '--zz',
      'Content-Type: text/plain',
      '',
      'the secret word is walnut',
      '--zz',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename="plans.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('top secret').toString('base64'),
      '--zz--',
      '',
    ].join('\r\n'),
  );
  const m = await appendRaw(core, A.mailbox, raw);
  ids.thread = m.threadId;
  ids.email = m.id;
  const att = await core.db.selectFrom('message_attachments').select('id').where('message_id', '=', m.id).executeTakeFirstOrThrow();
  ids.attachment = att.id;
  const label = await api(server.url, 'POST', `/v1/inboxes/${A.mailbox.id}/labels`, { key: A.apiKey!, body: { name: 'Secret' } });
  expect(label.status).toBe(201);
  ids.label = label.json.id;
  const draft = await api(server.url, 'POST', `/v1/inboxes/${A.mailbox.id}/drafts`, { key: A.apiKey!, body: { to: 'x@remote.test', subject: 'draft', text: 'draft body' } });
  expect(draft.status).toBe(201);
  ids.draft = draft.json.id;
});

afterAll(async () => {
  await server?.stop();
});

/** Every endpoint, addressed at inbox `inbox` with A's thread, email, label and draft ids. */
function endpoints(inbox: string) {
  const i = `/v1/inboxes/${encodeURIComponent(inbox)}`;
  const t = `${i}/threads/${ids.thread}`;
  return [
    ['GET', i],
    ['PATCH', i, { name: 'pwned' }],
    ['GET', `${i}/agent`],
    ['PATCH', `${i}/agent`, { instructions: 'pwned' }],
    ['GET', `${i}/labels`],
    ['POST', `${i}/labels`, { name: 'pwned' }],
    ['PATCH', `${i}/labels/${ids.label}`, { name: 'pwned' }],
    ['DELETE', `${i}/labels/${ids.label}`],
    ['GET', `${i}/threads`],
    ['GET', `${i}/threads/search?query=walnut`],
    ['GET', t],
    ['PATCH', t, { read: true }],
    ['PATCH', t, { folder: 'trash' }],
    ['GET', `${t}/emails`],
    ['GET', `${t}/emails/${ids.email}`],
    ['POST', `${t}/emails/${ids.email}/reply`, { text: 'pwned' }],
    ['POST', `${t}/emails/${ids.email}/forward`, { to: 'thief@remote.test' }],
    ['POST', `${t}/labels`, { labels: [ids.label] }],
    ['PUT', `${t}/labels`, { labels: [] }],
    ['DELETE', `${t}/labels/${ids.label}`],
    ['GET', `${i}/drafts`],
    ['POST', `${i}/drafts`, { text: 'pwned' }],
    ['GET', `${i}/drafts/${ids.draft}`],
    ['PATCH', `${i}/drafts/${ids.draft}`, { text: 'pwned' }],
    ['POST', `${i}/drafts/${ids.draft}/send`],
    ['DELETE', `${i}/drafts/${ids.draft}`],
    ['DELETE', t],
    ['DELETE', i],
  ] as [string, string, unknown?][];
}

async function expectAIntact() {
  const key = A.apiKey!;
  expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}`, { key })).json).toMatchObject({ name: null, unread: 1, drafts: 1 });
  expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/agent`, { key })).json.instructions).toBeNull();
  expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/labels`, { key })).json.data.map((l: any) => l.name)).toEqual(['Secret']);
  expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/threads/${ids.thread}`, { key })).json).toMatchObject({ folder: 'inbox', read: false, labels: [] });
  expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/drafts/${ids.draft}`, { key })).json.text).toBe('draft body');
  const count = await core.db.selectFrom('emails').select('id').where('workspace_id', '=', B.workspaceId).execute();
  expect(count).toEqual([]);
}

describe('tenant walls', () => {
  it("answers 404 for another workspace's inbox, by id and by address, on every endpoint", async () => {
    for (const inbox of [A.mailbox.id, A.mailbox.address]) {
      for (const [method, path, body] of endpoints(inbox)) {
        const r = await api(server.url, method, path, { key: B.apiKey!, body });
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.json, `${method} ${path}`).toMatchObject({ statusCode: 404, name: 'not_found' });
      }
    }
    await expectAIntact();
  });

  it("answers 404 for another inbox's thread, email, label and draft under one's own inbox", async () => {
    for (const [method, path, body] of endpoints(B2.id)) {
      if (path === `/v1/inboxes/${B2.id}` || /\/(agent|labels|threads|drafts)(\?.*)?$/.test(path) || path.endsWith('/threads/search?query=walnut')) continue;
      const r = await api(server.url, method, path, { key: B.apiKey!, body });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    const search = await api(server.url, 'GET', `/v1/inboxes/${B2.id}/threads/search?query=walnut`, { key: B.apiKey! });
    expect(search.json.data).toEqual([]);
    expect((await api(server.url, 'GET', `/v1/inboxes/${B2.id}/threads`, { key: B.apiKey! })).json.data).toEqual([]);
    await expectAIntact();
  });

  it("answers 404 for another workspace's received email and attachments", async () => {
    for (const path of [`/v1/emails/receiving/${ids.email}`, `/v1/emails/receiving/${ids.email}/attachments`, `/v1/emails/receiving/${ids.email}/attachments/${ids.attachment}`]) {
      const r = await api(server.url, 'GET', path, { key: B.apiKey! });
      expect(r.status, path).toBe(404);
    }
    expect((await api(server.url, 'GET', '/v1/emails/receiving', { key: B.apiKey! })).json.data).toEqual([]);
    expect((await api(server.url, 'GET', '/v1/inboxes', { key: B.apiKey! })).json.data.map((i: any) => i.email_address).sort()).toEqual(['intruder@b-walls.test', 'second@b-walls.test']);
  });
});

describe('permissions', () => {
  it('refuses a sending-only key on every inbox endpoint with 403', async () => {
    const key = await api(server.url, 'POST', '/v1/api-keys', { key: A.apiKey!, body: { name: 'sender', permission: 'sending_access' } });
    expect(key.status).toBe(201);
    for (const [method, path, body] of [...endpoints(A.mailbox.id), ['GET', '/v1/inboxes'], ['POST', '/v1/inboxes', { email_address: 'new@a-walls.test' }], ['GET', '/v1/emails/receiving'], ['GET', `/v1/emails/receiving/${ids.email}`]] as [string, string, unknown?][]) {
      const r = await api(server.url, method, path, { key: key.json.token, body });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.json.name).toBe('restricted_api_key');
    }
    await expectAIntact();
  });

  it('needs a key', async () => {
    expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/threads`)).status).toBe(401);
    expect((await api(server.url, 'GET', `/v1/emails/receiving/${ids.email}`)).status).toBe(401);
  });
});
