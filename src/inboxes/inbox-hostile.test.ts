// Hostile requests to the inbox and receiving API: wrong types, garbage JSON, oversized lists,
// control characters, absurd query strings. Each gets a 4xx in Resend's error shape, never a 500,
// and the node keeps answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestMailbox, appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let core: Core;
let A: TestMailbox;
let thread: string;
let email: string;

beforeAll(async () => {
  server = await startTestServer({ env: { MAILSTACK_WORKER_CONCURRENCY: '0' } });
  core = server.platform.core;
  A = await createTestMailbox(core, { domainName: 'hostile.test', localPart: 'box' });
  const m = await appendRaw(core, A.mailbox, rawMessage({ from: 'x@remote.test', to: 'box@hostile.test', subject: 'hi', text: 'hello' }));
  thread = m.threadId;
  email = m.id;
});

afterAll(async () => {
  await server?.stop();
});

describe('hostile input', () => {
  it('answers 4xx in Resend shape to every malformed request', async () => {
    const i = `/v1/inboxes/${A.mailbox.id}`;
    const t = `${i}/threads/${thread}`;
    const cases: [string, string, { body?: unknown; raw?: string }][] = [
      ['POST', '/v1/inboxes', { raw: '{"email_address":' }],
      ['POST', '/v1/inboxes', { body: [] }],
      ['POST', '/v1/inboxes', { body: { email_address: 42 } }],
      ['POST', '/v1/inboxes', { body: { email_address: { $ne: null } } }],
      ['POST', '/v1/inboxes', { body: { email_address: `${'a'.repeat(400)}@hostile.test` } }],
      ['POST', '/v1/inboxes', { body: { email_address: 'new@hostile.test', name: 'a'.repeat(10_000) } }],
      ['POST', '/v1/inboxes', { body: { email_address: 'new@hostile.test', forwarding: 'yes' } }],
      ['PATCH', i, { body: {} }],
      ['PATCH', i, { body: { from_name: 'Evil\r\nBcc: x@y.z' } }],
      ['PATCH', `${i}/agent`, { body: { actions: 'archive' } }],
      ['PATCH', `${i}/agent`, { body: { instructions: 12 } }],
      ['POST', `${i}/labels`, { body: { name: '' } }],
      ['POST', `${i}/labels`, { body: { name: 'x\u0007y' } }],
      ['POST', `${i}/labels`, { body: { name: 'ok', color: '#12345G' } }],
      ['GET', `${i}/threads?limit=0`, {}],
      ['GET', `${i}/threads?limit=abc`, {}],
      ['GET', `${i}/threads?read=maybe`, {}],
      ['GET', `${i}/threads?after=x&before=y`, {}],
      ['GET', `${i}/threads?after=00000000-0000-7000-8000-000000000000`, {}],
      ['GET', `${i}/threads?folders=${Array(100).fill('inbox').join(',')}`, {}],
      ['GET', `${i}/threads?labels=no-such-label`, {}],
      ['GET', `${i}/threads/search?has_attachment=2`, {}],
      ['GET', `${i}/threads/search?start_date=2024-13-45`, {}],
      ['GET', `${i}/threads/search?start_date=2025-01-02&end_date=2025-01-01`, {}],
      ['GET', `${i}/threads/search?query=${'x'.repeat(600)}`, {}],
      ['PATCH', t, { body: { read: 'yes' } }],
      ['PATCH', t, { body: { folder: 'drafts' } }],
      ['PATCH', t, { body: {} }],
      ['POST', `${t}/labels`, { body: { labels: 'x' } }],
      ['POST', `${t}/labels`, { body: { labels: Array(11).fill('00000000-0000-7000-8000-000000000000') } }],
      ['POST', `${t}/labels`, { body: { labels: [] } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 5 } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', reply_all: 'yes' } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', headers: ['a'] } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', headers: { 'Bad Name': 'v' } } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', headers: { From: 'boss@hostile.test' } } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', bcc: Array(60).fill('a@remote.test') } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', attachments: [{ filename: 'a.txt' }] } }],
      ['POST', `${t}/emails/${email}/reply`, { body: { text: 'x', attachments: Array(11).fill({ filename: 'a.txt', content: 'YQ==' }) } }],
      ['POST', `${t}/emails/${email}/forward`, { body: { to: [] } }],
      ['POST', `${t}/emails/${email}/forward`, { body: { to: 'a@remote.test, b@remote.test' } }],
      ['POST', `${t}/emails/${email}/forward`, { body: { to: 'a@remote.test', html: {} } }],
      ['POST', `${i}/drafts`, { body: {} }],
      ['POST', `${i}/drafts`, { body: { to: ['ok@remote.test', 7] } }],
      ['POST', `${i}/drafts`, { body: { text: 'x', thread_id: thread } }],
      ['POST', `${i}/drafts`, { body: { text: 'x', attachments: [{ filename: 'a/b.txt', content: 'YQ==', content_type: 'text/plain' }] } }],
      ['POST', `${i}/drafts`, { body: { text: 'x', attachments: [{ filename: 'a.txt', content: 'YQ==' }] } }],
      ['POST', `${i}/drafts`, { body: { text: 'x', attachments: [{ filename: 'a.txt', path: 'file:///etc/passwd' }] } }],
      ['POST', `${i}/drafts`, { body: { text: 'x\u0000' } }],
      ['GET', '/v1/emails/receiving?limit=1000', {}],
      ['GET', `/v1/emails/receiving/${email}?html_format=<script>`, {}],
      ['GET', `/v1/emails/receiving/${email}/attachments?after=nope`, {}],
    ];
    for (const [method, path, opts] of cases) {
      const r = await api(server.url, method, path, { key: A.apiKey!, ...opts });
      const what = `${method} ${path.slice(0, 120)} ${JSON.stringify(opts).slice(0, 120)}`;
      expect(r.status, what).toBeGreaterThanOrEqual(400);
      expect(r.status, what).toBeLessThan(500);
      expect(r.json, what).toMatchObject({ statusCode: r.status, name: expect.any(String), message: expect.any(String) });
    }
    // Still standing, nothing changed.
    const inbox = await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}`, { key: A.apiKey! });
    expect(inbox.json).toMatchObject({ name: null, from_name: null, drafts: 0 });
    expect((await api(server.url, 'GET', `/v1/inboxes/${A.mailbox.id}/labels`, { key: A.apiKey! })).json.data).toEqual([]);
    expect(await core.db.selectFrom('emails').select('id').execute()).toEqual([]);
  });
});
