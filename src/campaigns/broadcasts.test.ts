// Broadcasts end to end, as a Resend user meets them: the SDK builds contacts, a segment and a
// topic, sends a broadcast, and our MTA delivers one personalised, DKIM-signed message per eligible
// contact to a "remote" MX on loopback, each with RFC 8058 one-click List-Unsubscribe. The
// unsubscribed, suppressed and topic-opted-out contacts get nothing and the recipient list says
// why; a POST of the header's URL unsubscribes at once and the next broadcast skips the contact.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer from 'nodemailer';
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { type TestMx, freePort, startMx } from '../testkit/remote-mx.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';

let server: TestServer;
let dns: TestDns;
let mx: TestMx;
let receiver: Receiver;
let resend: Resend;
let other: Resend;
let secret: string;
let smtpPort: number;
let segmentId: string;
let topicId: string;
const ids: Record<string, string> = {};

const ok = <T>(r: { data: T | null; error: any }): T => {
  expect(r.error).toBeNull();
  return r.data!;
};

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  smtpPort = await freePort();
  mx = await startMx('127.0.0.40', mxPort);
  dns.mx('remote.test', 'mx.remote.test', 10);
  dns.a('mx.remote.test', '127.0.0.40');
  receiver = await startReceiver();
  server = await startTestServer({
    env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(mxPort), MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true', MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_BROADCAST_RATE: '3', MAILSTACK_SMTP_PORT: String(smtpPort) },
  });
  resend = server.resend((await server.setup('owner@news.test', 'News')).apiKey);
  other = server.resend((await server.setup('owner@rival.test', 'Rival')).apiKey);
  const hook = ok(await resend.webhooks.create({ endpoint: `${receiver.url}/hooks`, events: ['contact.updated'] }));
  secret = hook.signing_secret;

  const domain = ok(await resend.domains.create({ name: 'news.test' }));
  for (const r of domain.records as any[]) {
    const fqdn = r.name === '@' ? 'news.test' : `${r.name}.news.test`;
    if (r.type === 'TXT') dns.txt(fqdn, r.value);
    else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
  }
  ok(await resend.domains.verify(domain.id));
  await waitFor('domain verified', async () => (await resend.domains.get(domain.id)).data?.status === 'verified', 20_000);

  ok(await resend.contactProperties.create({ key: 'plan', type: 'string', fallbackValue: 'free' }));
  segmentId = ok(await resend.segments.create({ name: 'Readers' })).id;
  const elsewhere = ok(await resend.segments.create({ name: 'Elsewhere' })).id;
  topicId = ok(await resend.topics.create({ name: 'Newsletter', defaultSubscription: 'opt_in' })).id;
  const seg = [{ id: segmentId }];
  ids.ada = ok(await resend.contacts.create({ email: 'ada@remote.test', firstName: 'Ada', properties: { plan: 'pro' }, segments: seg })).id;
  ids.bob = ok(await resend.contacts.create({ email: 'bob@remote.test', segments: seg })).id;
  ids.gone = ok(await resend.contacts.create({ email: 'gone@remote.test', unsubscribed: true, segments: seg })).id;
  ids.supp = ok(await resend.contacts.create({ email: 'supp@remote.test', segments: seg })).id;
  ids.optout = ok(await resend.contacts.create({ email: 'optout@remote.test', segments: seg, topics: [{ id: topicId, subscription: 'opt_out' }] })).id;
  ids.cy = ok(await resend.contacts.create({ email: 'cy@remote.test', firstName: '<b>Cy</b>', segments: seg })).id;
  ids.out = ok(await resend.contacts.create({ email: 'outside@remote.test', segments: [{ id: elsewhere }] })).id;
  ok(await resend.suppressions.add({ email: 'supp@remote.test' } as any));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await receiver?.close();
  await dns?.close();
});

async function dkim(raw: Buffer) {
  const r = dns.resolver();
  const result = await dkimVerify(raw, { resolver: (name: string, type: string) => r.resolve(name, type as any) as any });
  return result.results[0];
}

const messagesTo = (address: string, subject: string) => mx.messages.filter((m) => m.to.includes(address) && m.raw.toString().includes(`Subject: ${subject}`));

let unsubscribeUrlOfAda = '';
let firstBroadcast = '';

describe('a broadcast to a segment', () => {
  it('reaches each eligible contact once, personalised, DKIM-signed, with one-click List-Unsubscribe', async () => {
    const created = ok(
      await resend.broadcasts.create({
        segmentId, topicId, from: 'News <letters@news.test>', subject: 'Issue 1 for {{{FIRST_NAME|reader}}}', name: 'Issue 1', previewText: 'This week',
        html: '<p>Hi {{{FIRST_NAME|there}}}, your plan: {{{plan}}}.</p><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">Unsubscribe</a>',
        text: 'Hi {{{FIRST_NAME|there}}} ({{{plan}}}). Unsubscribe: {{{RESEND_UNSUBSCRIBE_URL}}}',
        send: true,
      }),
    );
    firstBroadcast = created.id;
    await waitFor('the broadcast sent', async () => (await resend.broadcasts.get(created.id)).data?.sent_at, 30_000);
    const ada = await waitFor('Ada’s message', () => messagesTo('ada@remote.test', 'Issue 1 for Ada')[0], 30_000);
    const bob = await waitFor('Bob’s message', () => messagesTo('bob@remote.test', 'Issue 1 for reader')[0], 30_000);
    const cy = await waitFor('Cy’s message', () => mx.messages.find((m) => m.to.includes('cy@remote.test')), 30_000);

    const a = await PostalMime.parse(ada.raw);
    expect(a.html).toContain('<p>Hi Ada, your plan: pro.</p>');
    expect(a.html).toContain('This week');
    expect(a.text).toContain('Hi Ada (pro)');
    expect((await PostalMime.parse(bob.raw)).html).toContain('Hi there, your plan: free.');
    // A name is a value: escaped in HTML.
    expect((await PostalMime.parse(cy.raw)).html).toContain('Hi &lt;b&gt;Cy&lt;/b&gt;');

    const header = (name: string) => a.headers.find((h) => h.key === name)?.value;
    const lu = header('list-unsubscribe')!;
    expect(lu).toMatch(new RegExp(`^<${server.url}/unsubscribe/[A-Za-z0-9._-]+>, <mailto:unsubscribe\\+[0-9a-f]{48}@send\\.news\\.test\\?subject=unsubscribe>$`));
    expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    unsubscribeUrlOfAda = /^<([^>]+)>/.exec(lu)![1];
    // The token never shows the address, and the body's link is the header's.
    expect(unsubscribeUrlOfAda).not.toContain('ada');
    expect(a.html).toContain(unsubscribeUrlOfAda);
    const sig = await dkim(ada.raw);
    expect(sig?.status?.result).toBe('pass');
    expect((sig as any)?.signingHeaders?.keys?.toLowerCase()).toContain('list-unsubscribe');
    expect((sig as any)?.signingHeaders?.keys?.toLowerCase()).toContain('list-unsubscribe-post');

    // Nobody outside the segment, nobody twice, nothing to the skipped ones.
    const to = mx.messages.filter((m) => m.raw.toString().includes('Issue 1')).flatMap((m) => m.to).sort();
    expect(to).toEqual(['ada@remote.test', 'bob@remote.test', 'cy@remote.test']);
  }, 60_000);

  it('lists every recipient with its outcome, and why the skipped ones got nothing', async () => {
    const unsub = ok(await resend.broadcasts.recipients(firstBroadcast, { type: 'unsubscribed' })).data as any[];
    expect(Object.fromEntries(unsub.map((r) => [r.email, r.skip_reason]))).toEqual({ 'gone@remote.test': 'unsubscribed', 'optout@remote.test': 'topic_opt_out' });
    const supp = ok(await resend.broadcasts.recipients(firstBroadcast, { type: 'suppressed' })).data as any[];
    expect(supp.map((r) => [r.email, r.contact_id, r.skip_reason])).toEqual([['supp@remote.test', ids.supp, 'suppressed']]);
    const sent = ok(await resend.broadcasts.recipients(firstBroadcast, { type: 'sent' })).data as any[];
    expect(sent.map((r) => r.email).sort()).toEqual(['ada@remote.test', 'bob@remote.test', 'cy@remote.test']);
    await waitFor('delivered', async () => (ok(await resend.broadcasts.recipients(firstBroadcast, { type: 'delivered' })).data.length === 3), 20_000);
    expect(ok(await resend.broadcasts.get(firstBroadcast))).toMatchObject({ object: 'broadcast', status: 'sent', name: 'Issue 1', segment_id: segmentId, topic_id: topicId, preview_text: 'This week' });
    expect(ok(await resend.broadcasts.clickedLinks(firstBroadcast)).data).toEqual([]);
  });

  it('holds the rate: at most MAILSTACK_BROADCAST_RATE messages handed to the MTA per second', async () => {
    const rows = await server.platform.core.db.selectFrom('broadcast_recipients').select('created_at').where('broadcast_id', '=', firstBroadcast).orderBy('created_at').execute();
    // Six contacts at 3 a second: two batches, the second at least a second after the first.
    expect(rows).toHaveLength(6);
    expect(Number(rows[5].created_at) - Number(rows[0].created_at)).toBeGreaterThanOrEqual(1000);
  });
});

describe('unsubscribing', () => {
  it('a one-click POST to the header’s URL unsubscribes at once, idempotently, and announces contact.updated', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await fetch(unsubscribeUrlOfAda, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      expect(r.status).toBe(200);
    }
    expect(ok(await resend.contacts.get(ids.ada)).unsubscribed).toBe(true);
    const events = await waitFor('contact.updated', () => {
      const e = receiver.received.map((r) => resend.webhooks.verify({ payload: r.body, headers: { id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string }, webhookSecret: secret }) as any);
      const mine = e.filter((x) => x.type === 'contact.updated' && x.data.id === ids.ada && x.data.unsubscribed === true);
      return mine.length ? mine : null;
    }, 20_000);
    expect(events.length).toBeGreaterThan(0);
    // One unsubscribe, one event (the second POST changed nothing).
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.filter((r) => r.body.includes(ids.ada) && r.body.includes('contact.updated'))).toHaveLength(1);
  });

  it('the preference page shows the topics, saves a topic opt-out, and unsubscribes from all', async () => {
    const bobMsg = await PostalMime.parse(messagesTo('bob@remote.test', 'Issue 1')[0].raw);
    const url = /^<([^>]+)>/.exec(bobMsg.headers.find((h) => h.key === 'list-unsubscribe')!.value)![1];
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('Newsletter');
    expect(html).toMatch(new RegExp(`value="${topicId}" checked`));
    expect(html).not.toContain('bob@remote.test');
    const saved = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=topics' });
    expect(saved.status).toBe(200);
    const subs = ok(await resend.contacts.topics.list({ id: ids.bob })).data;
    expect(subs.find((t) => t.id === topicId)!.subscription).toBe('opt_out');
    expect(ok(await resend.contacts.get(ids.bob)).unsubscribed).toBe(false);
  });

  it('the next broadcast skips the contacts who unsubscribed or opted out', async () => {
    const copy = ok(await resend.broadcasts.duplicate(firstBroadcast));
    ok(await resend.broadcasts.update(copy.id, { subject: 'Issue 2', name: 'Issue 2' }));
    ok(await resend.broadcasts.send(copy.id));
    await waitFor('the second broadcast sent', async () => (await resend.broadcasts.get(copy.id)).data?.status === 'sent', 30_000);
    const skipped = ok(await resend.broadcasts.recipients(copy.id, { type: 'unsubscribed' })).data as any[];
    expect(Object.fromEntries(skipped.map((r) => [r.email, r.skip_reason]))).toMatchObject({ 'ada@remote.test': 'unsubscribed', 'bob@remote.test': 'topic_opt_out' });
    await waitFor('Cy’s second message', () => messagesTo('cy@remote.test', 'Issue 2')[0], 20_000);
    expect(messagesTo('ada@remote.test', 'Issue 2')).toEqual([]);
    expect(messagesTo('bob@remote.test', 'Issue 2')).toEqual([]);
  }, 60_000);

  it('a mail to the header’s mailto: address unsubscribes; a forged one is refused at RCPT', async () => {
    const cy = await PostalMime.parse(messagesTo('cy@remote.test', 'Issue 1')[0].raw);
    const mailto = /<mailto:([^?>]+)/.exec(cy.headers.find((h) => h.key === 'list-unsubscribe')!.value)![1];
    expect(mailto).not.toContain('cy');
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
    const info = await transport.sendMail({ from: 'cy@remote.test', to: mailto, subject: 'unsubscribe', text: 'unsubscribe' });
    expect(info.response).toMatch(/^250 /);
    expect(ok(await resend.contacts.get(ids.cy)).unsubscribed).toBe(true);
    const forged = mailto.replace(/^(unsubscribe\+[0-9a-f]{32})[0-9a-f]{16}/, '$10000000000000000');
    await expect(transport.sendMail({ from: 'x@remote.test', to: forged, subject: 'x', text: 'x' })).rejects.toMatchObject({ responseCode: 550 });
    // A contact of another workspace cannot be named through this workspace's host.
    const theirs = ok(await other.contacts.create({ email: 'theirs@remote.test' }));
    const spoof = `unsubscribe+${theirs.id.replace(/-/g, '')}0000000000000000@send.news.test`;
    await expect(transport.sendMail({ from: 'x@remote.test', to: spoof, subject: 'x', text: 'x' })).rejects.toMatchObject({ responseCode: 550 });
    transport.close();
    expect(ok(await other.contacts.get(theirs.id)).unsubscribed).toBe(false);
  });

  it('refuses a token that is not one, without saying more', async () => {
    const good = unsubscribeUrlOfAda.split('/unsubscribe/')[1];
    const tampered = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const t of ['garbage-token-123', tampered, 'v1.x.y.z.w']) {
      const r = await fetch(`${server.url}/unsubscribe/${t}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      expect(r.status, t).toBe(404);
      expect(await r.json()).toMatchObject({ statusCode: 404, name: 'not_found' });
    }
  });
});

describe('scheduling and cancelling', () => {
  it('a scheduled broadcast waits; cancel stops it before anything goes; a draft can be removed', async () => {
    const b = ok(await resend.broadcasts.create({ segmentId, from: 'letters@news.test', subject: 'Later', text: 'later', send: true, scheduledAt: 'in 1 hour' }));
    const got = ok(await resend.broadcasts.get(b.id));
    expect(got.status).toBe('queued');
    expect(Date.parse(got.scheduled_at!) - Date.now()).toBeGreaterThan(3_500_000);
    expect(ok(await resend.broadcasts.cancel(b.id))).toMatchObject({ object: 'broadcast', id: b.id });
    expect(ok(await resend.broadcasts.get(b.id)).status).toBe('canceled');
    expect(ok(await resend.broadcasts.recipients(b.id, { type: 'sent' })).data).toEqual([]);
    expect((await resend.broadcasts.send(b.id)).error?.statusCode).toBe(422);

    const draft = ok(await resend.broadcasts.create({ segmentId, from: 'letters@news.test', subject: 'Draft', text: 'x' }));
    expect(ok(await resend.broadcasts.list()).data.map((x) => x.id)).toContain(draft.id);
    expect(ok(await resend.broadcasts.remove(draft.id))).toMatchObject({ deleted: true });
    expect((await resend.broadcasts.get(draft.id)).error?.statusCode).toBe(404);
  });

  it('cannot be sent from a domain the workspace has not verified', async () => {
    const b = ok(await resend.broadcasts.create({ segmentId, from: 'x@unverified.test', subject: 'x', text: 'x' }));
    const r = await resend.broadcasts.send(b.id);
    expect(r.error?.statusCode).toBe(403);
  });
});

describe('tenant walls', () => {
  it('another workspace cannot see, change, send or read the recipients of a broadcast, nor target a segment it does not own', async () => {
    for (const r of [
      await other.broadcasts.get(firstBroadcast), await other.broadcasts.send(firstBroadcast), await other.broadcasts.cancel(firstBroadcast),
      await other.broadcasts.remove(firstBroadcast), await other.broadcasts.duplicate(firstBroadcast), await other.broadcasts.update(firstBroadcast, { name: 'x' }),
      await other.broadcasts.recipients(firstBroadcast, { type: 'sent' }), await other.broadcasts.clickedLinks(firstBroadcast),
    ]) expect(r.error?.statusCode).toBe(404);
    expect(ok(await other.broadcasts.list()).data).toEqual([]);
    const steal = await other.broadcasts.create({ segmentId, from: 'x@rival.test', subject: 'x', text: 'x' });
    expect(steal.error?.statusCode).toBe(404);
  });
});
