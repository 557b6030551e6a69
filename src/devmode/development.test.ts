// Development mode through the SDK, as a developer meets it: a domain verifies without DNS, mail is
// captured instead of sent (GET /v1/captured), Resend's test addresses give their events and
// webhooks, and two hosted inboxes of the node write to each other with no DNS at all.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resend } from 'resend';
import { until } from '../testkit/remote-mx.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { type Receiver, startReceiver } from '../testkit/webhook-receiver.ts';

let server: TestServer;
let receiver: Receiver;
let key: string;
let resend: Resend;
let webhookSecret: string;

function ok<T>(r: { data: T | null; error: unknown }): T {
  expect(r.error).toBeNull();
  return r.data!;
}

async function finalStatus(id: string, not: string[] = ['queued', 'sent']) {
  return until(`email ${id} to leave ${not.join('/')}`, async () => {
    const e = ok(await resend.emails.get(id));
    return not.includes(e.last_event) ? null : e.last_event;
  });
}

/** The webhook events the receiver got for one email, verified with the endpoint's secret. */
function eventsFor(emailId: string): string[] {
  const wh = new Webhook(webhookSecret);
  return receiver.received
    .map((r) => wh.verify(r.body, { 'webhook-id': r.headers['webhook-id'] as string, 'webhook-timestamp': r.headers['webhook-timestamp'] as string, 'webhook-signature': r.headers['webhook-signature'] as string }) as any)
    .filter((e) => e.data?.email_id === emailId)
    .map((e) => e.type);
}

const FROM = 'App <app@devmode.test>';

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({ env: { MAILSTACK_MODE: 'development', MAILSTACK_WEBHOOK_RETRY_DELAYS: '100ms' } });
  ({ apiKey: key } = await server.setup('dev@example.com', 'Dev'));
  resend = server.resend(key);
  const domain = ok(await resend.domains.create({ name: 'devmode.test', capabilities: { receiving: 'enabled' } } as any));
  const verified = ok(await resend.domains.verify(domain.id));
  expect(verified.id).toBe(domain.id);
  const hook = ok(await resend.webhooks.create({ endpoint: `${receiver.url}/hooks`, events: ['email.sent', 'email.delivered', 'email.bounced', 'email.complained', 'email.suppressed'] }));
  webhookSecret = (hook as any).signing_secret;
});

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

describe('development mode', () => {
  it('verifies a domain, sending and receiving, at once and without DNS', async () => {
    const domains = ok(await resend.domains.list());
    const d = ok(await resend.domains.get(domains.data[0].id));
    expect(d.status).toBe('verified');
    expect(d.records.filter((r: any) => r.required).every((r: any) => r.status === 'verified')).toBe(true);
  });

  it('captures mail to an outside address instead of sending it, and shows it with headers, text, HTML and raw source', async () => {
    const sent = ok(await resend.emails.send({ from: FROM, to: ['friend@elsewhere.example', 'other@elsewhere.example'], subject: 'Captured', html: '<p>Hello <b>there</b></p>', text: 'Hello there' }));
    expect(await finalStatus(sent.id)).toBe('delivered');
    const list = await api(server.url, 'GET', '/v1/captured', { key });
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ object: 'list', has_more: false });
    const item = list.json.data.find((c: any) => c.email_id === sent.id);
    // One capture per email, with every envelope recipient.
    expect(list.json.data.filter((c: any) => c.email_id === sent.id)).toHaveLength(1);
    expect(item).toMatchObject({ object: 'captured_email', from: FROM, subject: 'Captured' });
    expect(item.to.sort()).toEqual(['friend@elsewhere.example', 'other@elsewhere.example']);

    const one = await api(server.url, 'GET', `/v1/captured/${item.id}`, { key });
    expect(one.status).toBe(200);
    expect(one.json.text.trim()).toBe('Hello there');
    expect(one.json.html).toContain('<b>there</b>');
    expect(one.json.headers.find((h: any) => h.name.toLowerCase() === 'subject').value).toBe('Captured');
    // The bytes that would have gone out: DKIM-signed by the domain.
    expect(one.json.headers.some((h: any) => h.name === 'DKIM-Signature' && h.value.includes('d=devmode.test'))).toBe(true);
    const raw = await fetch(`${server.url}/v1/captured/${item.id}/raw`, { headers: { authorization: `Bearer ${key}` } });
    expect(raw.headers.get('content-type')).toContain('message/rfc822');
    expect(await raw.text()).toBe(one.json.raw);
    expect(eventsFor(sent.id)).toContain('email.delivered');
  });

  it('delivered@resend.dev is delivered, with its webhook', async () => {
    const sent = ok(await resend.emails.send({ from: FROM, to: 'delivered+signup@resend.dev', subject: 'd', text: 'd' }));
    expect(await finalStatus(sent.id)).toBe('delivered');
    await until('email.delivered webhook', () => eventsFor(sent.id).includes('email.delivered'));
  });

  it('bounced@resend.dev bounces permanently every time, with its webhook, and is not suppressed', async () => {
    for (let i = 0; i < 2; i++) {
      const sent = ok(await resend.emails.send({ from: FROM, to: 'bounced@resend.dev', subject: 'b', text: 'b' }));
      expect(await finalStatus(sent.id)).toBe('bounced');
      await until('email.bounced webhook', () => eventsFor(sent.id).includes('email.bounced'));
      const body = receiver.received.map((r) => JSON.parse(r.body)).find((e) => e.type === 'email.bounced' && e.data.email_id === sent.id);
      expect(body.data.bounce).toMatchObject({ type: 'Permanent' });
      expect(body.data.bounce.message).toContain('5.1.1');
    }
    expect(ok(await resend.suppressions.list()).data.map((s: any) => s.email)).not.toContain('bounced@resend.dev');
  });

  it('complained@resend.dev is delivered and then marked as spam, with both webhooks', async () => {
    const sent = ok(await resend.emails.send({ from: FROM, to: 'complained@resend.dev', subject: 'c', text: 'c' }));
    expect(await finalStatus(sent.id, ['queued', 'sent', 'delivered'])).toBe('complained');
    await until('email.complained webhook', () => eventsFor(sent.id).includes('email.complained'));
    expect(eventsFor(sent.id)).toContain('email.delivered');
  });

  it('suppressed@resend.dev is suppressed, with its webhook', async () => {
    const sent = ok(await resend.emails.send({ from: FROM, to: 'suppressed@resend.dev', subject: 's', text: 's' }));
    expect(await finalStatus(sent.id)).toBe('suppressed');
    await until('email.suppressed webhook', () => eventsFor(sent.id).includes('email.suppressed'));
  });

  it('delivers locally between two hosted inboxes of the node, authenticated, with no DNS', async () => {
    const alice = ok(await resend.inboxes.create({ emailAddress: 'alice@devmode.test' }));
    const bob = ok(await resend.inboxes.create({ emailAddress: 'bob@devmode.test' }));
    const sent = ok(await resend.emails.send({ from: 'Alice <alice@devmode.test>', to: 'bob@devmode.test', subject: 'Lunch?', text: 'Noon at the usual place.' }));
    expect(await finalStatus(sent.id)).toBe('delivered');
    const threads = await until('the thread in Bob’s inbox', async () => {
      const t = ok(await resend.inboxes.threads.list({ inboxId: bob.id }));
      return t.data.length ? t.data : null;
    });
    expect(threads[0].subject).toBe('Lunch?');
    const received = ok(await resend.emails.receiving.list());
    const msg = ok(await resend.emails.receiving.get(received.data.find((e: any) => e.subject === 'Lunch?')!.id));
    // The node's own DNS answers for its domains, so SPF, DKIM and DMARC pass as in production.
    const results: string = (msg as any).headers['authentication-results'];
    expect(results).toMatch(/\bdkim=pass\b.*header\.d=devmode\.test/s);
    expect(results).toMatch(/\bspf=pass\b/);
    expect(results).toMatch(/\bdmarc=pass\b/);
    // And Bob answers Alice the same way.
    const back = ok(await resend.emails.send({ from: 'bob@devmode.test', to: 'alice@devmode.test', subject: 'Re: Lunch?', text: 'Yes.' }));
    expect(await finalStatus(back.id)).toBe('delivered');
    await until('the reply in Alice’s inbox', async () => ok(await resend.inboxes.threads.list({ inboxId: alice.id })).data.length > 0);
  });

  it('bounces mail to an unknown user of a domain the node receives for', async () => {
    const sent = ok(await resend.emails.send({ from: FROM, to: 'nobody@devmode.test', subject: 'x', text: 'x' }));
    expect(await finalStatus(sent.id)).toBe('bounced');
  });

  it('keeps captured mail to its workspace', async () => {
    const other = await server.setup('other@example.com', 'Other');
    const mine = await api(server.url, 'GET', '/v1/captured', { key });
    const theirs = await api(server.url, 'GET', '/v1/captured', { key: other.apiKey });
    expect(mine.json.data.length).toBeGreaterThan(0);
    expect(theirs.json.data).toEqual([]);
    const peek = await api(server.url, 'GET', `/v1/captured/${mine.json.data[0].id}`, { key: other.apiKey });
    expect(peek.status).toBe(404);
    expect((await api(server.url, 'DELETE', `/v1/captured/${mine.json.data[0].id}`, { key: other.apiKey })).status).toBe(404);
  });

  it('deletes captured mail, one or all', async () => {
    const before = (await api(server.url, 'GET', '/v1/captured?limit=100', { key })).json.data;
    const one = await api(server.url, 'DELETE', `/v1/captured/${before[0].id}`, { key });
    expect(one.json).toMatchObject({ deleted: true, count: 1 });
    const all = await api(server.url, 'DELETE', '/v1/captured', { key });
    expect(all.json.count).toBe(before.length - 1);
    expect((await api(server.url, 'GET', '/v1/captured', { key })).json.data).toEqual([]);
  });
});
