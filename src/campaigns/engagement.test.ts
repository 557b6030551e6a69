// Broadcast engagement and sending controls, through the SDK against a real node delivering to a
// loopback "remote" MX: open and click tracking off by default and on when the domain turns it on
// (pixel, redirect links, clickedLinks, per-recipient opens and clicks, email.opened and
// email.clicked webhooks), `broadcast_id` on the email.* events of a broadcast's messages, and a
// workspace paused mid-broadcast stopping at the next batch and finishing once resumed.
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseSending, resumeSending } from '../abuse/sending.ts';
import { systemActor } from '../core/core.ts';
import { takeSendTokens } from './send-rate.ts';
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
let workspaceId: string;
let domainId: string;
let segmentId: string;

const ok = <T>(r: { data: T | null; error: any }): T => {
  expect(r.error).toBeNull();
  return r.data!;
};

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  mx = await startMx('127.0.0.141', mxPort);
  dns.mx('remote.test', 'mx.remote.test', 10);
  dns.a('mx.remote.test', '127.0.0.141');
  receiver = await startReceiver();
  server = await startTestServer({
    env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(mxPort), MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true', MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_BROADCAST_RATE: '3' },
  });
  const setup = await server.setup('owner@track.test', 'Track');
  workspaceId = setup.workspaceId;
  resend = server.resend(setup.apiKey);
  other = server.resend((await server.setup('owner@rival2.test', 'Rival')).apiKey);
  secret = ok(await resend.webhooks.create({ endpoint: `${receiver.url}/hooks`, events: ['email.sent', 'email.delivered', 'email.opened', 'email.clicked'] })).signing_secret;
  const domain = ok(await resend.domains.create({ name: 'track.test' }));
  domainId = domain.id;
  for (const r of domain.records as any[]) {
    const fqdn = r.name === '@' ? 'track.test' : `${r.name}.track.test`;
    if (r.type === 'TXT') dns.txt(fqdn, r.value);
    else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
  }
  ok(await resend.domains.verify(domain.id));
  await waitFor('domain verified', async () => (await resend.domains.get(domain.id)).data?.status === 'verified', 20_000);
  segmentId = ok(await resend.segments.create({ name: 'Readers' })).id;
  for (const n of ['ann', 'ben']) ok(await resend.contacts.create({ email: `${n}@remote.test`, firstName: n, segments: [{ id: segmentId }] }));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await receiver?.close();
  await dns?.close();
});

const HTML = '<html><body><p>Hi {{{FIRST_NAME}}}</p><a href="https://shop.example/sale?a=1&amp;b=2">Sale</a> <a href=\'https://blog.example/post\'>Post</a> <a href="mailto:help@track.test">Help</a> <a href="{{{RESEND_UNSUBSCRIBE_URL}}}">Unsubscribe</a></body></html>';

async function sendAndWait(subject: string): Promise<{ id: string; raws: Map<string, Buffer> }> {
  const b = ok(await resend.broadcasts.create({ segmentId, from: 'News <news@track.test>', subject, html: HTML, send: true }));
  await waitFor(`${subject} sent`, async () => (await resend.broadcasts.get(b.id)).data?.status === 'sent', 30_000);
  const raws = new Map<string, Buffer>();
  for (const who of ['ann@remote.test', 'ben@remote.test']) {
    const m = await waitFor(`${subject} to ${who}`, () => mx.messages.find((x) => x.to.includes(who) && x.raw.toString().includes(`Subject: ${subject}`)), 30_000);
    raws.set(who, m.raw);
  }
  return { id: b.id, raws };
}

const events = () =>
  receiver.received.map((r) => resend.webhooks.verify({ payload: r.body, headers: { id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string }, webhookSecret: secret }) as any);

describe('tracking', () => {
  it('is off by default: links are left as written and no pixel is added', async () => {
    const got = ok(await resend.domains.get(domainId));
    expect([got.open_tracking, got.click_tracking]).toEqual([false, false]);
    const { id, raws } = await sendAndWait('Plain issue');
    const html = (await PostalMime.parse(raws.get('ann@remote.test')!)).html!;
    expect(html).toContain('href="https://shop.example/sale?a=1&amp;b=2"');
    expect(html).not.toContain('/t/c/');
    expect(html).not.toContain('/t/o/');
    expect(ok(await resend.broadcasts.clickedLinks(id)).data).toEqual([]);
  }, 60_000);

  it('on when the domain enables it: a pixel records opens, redirect links record clicks, and webhooks announce both with the broadcast id', async () => {
    ok(await resend.domains.update({ id: domainId, openTracking: true, clickTracking: true }));
    const { id, raws } = await sendAndWait('Tracked issue');
    const html = (await PostalMime.parse(raws.get('ann@remote.test')!)).html!;
    const links = [...html.matchAll(/href=(["'])(.+?)\1/g)].map((m) => m[2]);
    const tracked = links.filter((l) => l.startsWith(`${server.url}/t/c/`));
    expect(tracked).toHaveLength(2);
    // The token hides the target and the address; mailto and the unsubscribe link are left alone.
    for (const l of tracked) expect(l).not.toMatch(/shop\.example|blog\.example|ann/);
    expect(links).toContain('mailto:help@track.test');
    expect(links.some((l) => l.startsWith(`${server.url}/unsubscribe/`))).toBe(true);
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1];

    const open = await fetch(pixel);
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toBe('image/gif');
    expect((await open.arrayBuffer()).byteLength).toBeGreaterThan(20);
    for (let i = 0; i < 2; i++) {
      const click = await fetch(tracked[0], { redirect: 'manual', headers: { 'user-agent': 'TestBrowser/1' } });
      expect(click.status).toBe(302);
      expect(click.headers.get('location')).toBe('https://shop.example/sale?a=1&b=2');
    }
    const benHtml = (await PostalMime.parse(raws.get('ben@remote.test')!)).html!;
    const benLink = [...benHtml.matchAll(/href="([^"]+\/t\/c\/[^"]+)"/g)].map((m) => m[1])[0];
    expect((await fetch(benLink, { redirect: 'manual' })).headers.get('location')).toBe('https://shop.example/sale?a=1&b=2');

    expect(ok(await resend.broadcasts.clickedLinks(id)).data).toMatchObject([{ url: 'https://shop.example/sale?a=1&b=2', clicks: 3, unique_clicks: 2 }]);
    const clicked = ok(await resend.broadcasts.recipients(id, { type: 'clicked' })).data as any[];
    expect(Object.fromEntries(clicked.map((r) => [r.email, [r.count, r.clicked_links]]))).toEqual({
      'ann@remote.test': [2, [{ url: 'https://shop.example/sale?a=1&b=2', clicks: 2 }]],
      'ben@remote.test': [1, [{ url: 'https://shop.example/sale?a=1&b=2', clicks: 1 }]],
    });
    const opened = ok(await resend.broadcasts.recipients(id, { type: 'opened' })).data as any[];
    expect(opened.map((r) => [r.email, r.count])).toEqual([['ann@remote.test', 1]]);

    const seen = await waitFor('email.opened and email.clicked', () => {
      const e = events().filter((x) => x.data.broadcast_id === id && (x.type === 'email.opened' || x.type === 'email.clicked'));
      return e.length >= 4 ? e : null;
    }, 20_000);
    const c = seen.find((x) => x.type === 'email.clicked' && x.data.to[0] === 'ann@remote.test');
    expect(c.data.click).toMatchObject({ link: 'https://shop.example/sale?a=1&b=2', userAgent: 'TestBrowser/1' });
    expect(seen.find((x) => x.type === 'email.opened')!.data.to).toEqual(['ann@remote.test']);
  }, 60_000);

  it('refuses a tampered or foreign token without redirecting anywhere', async () => {
    for (const t of ['not-a-token-at-all', 'v1.a.b.c.d']) {
      const r = await fetch(`${server.url}/t/c/${t}`, { redirect: 'manual' });
      expect(r.status).toBe(404);
      expect(r.headers.get('location')).toBeNull();
    }
    // An unsubscribe token is sealed for another purpose: it is no tracking token.
    const raw = mx.messages.find((m) => m.raw.toString().includes('Subject: Tracked issue'))!.raw;
    const unsub = /<(http[^>]+\/unsubscribe\/([^>]+))>/.exec((await PostalMime.parse(raw)).headers.find((h) => h.key === 'list-unsubscribe')!.value)![2];
    expect((await fetch(`${server.url}/t/o/${unsub}`)).status).toBe(404);
  });

  it('another workspace cannot read a broadcast’s clicked links', async () => {
    const b = ok(await resend.broadcasts.list()).data[0];
    expect((await other.broadcasts.clickedLinks(b.id)).error?.statusCode).toBe(404);
  });
});

describe('webhooks of a broadcast’s messages', () => {
  it('email.sent and email.delivered carry the broadcast_id; a transactional email carries none', async () => {
    const b = ok(await resend.broadcasts.list()).data.find((x) => x.name === 'Untitled')!;
    const mine = await waitFor('sent and delivered', () => {
      const e = events().filter((x) => (x.type === 'email.sent' || x.type === 'email.delivered') && x.data.to[0] === 'ann@remote.test');
      return e.length >= 4 ? e : null;
    }, 20_000);
    for (const e of mine) expect(e.data.broadcast_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine.map((e) => e.data.broadcast_id)).toContain(b.id);
    const single = ok(await resend.emails.send({ from: 'news@track.test', to: 'solo@remote.test', subject: 'Solo', text: 'x' }));
    const solo = await waitFor('the transactional email.sent', () => events().find((x) => x.type === 'email.sent' && x.data.email_id === single.id), 20_000);
    expect(solo.data.broadcast_id).toBeUndefined();
  }, 60_000);
});

describe('abuse controls', () => {
  it('a workspace paused mid-broadcast sends nothing more until resumed, then the broadcast finishes', async () => {
    const seg = ok(await resend.segments.create({ name: 'Many' })).id;
    for (let i = 0; i < 8; i++) ok(await resend.contacts.create({ email: `many${i}@remote.test`, segments: [{ id: seg }] }));
    const core = server.platform.core;
    const b = ok(await resend.broadcasts.create({ segmentId: seg, from: 'news@track.test', subject: 'Paused issue', text: 'hello', send: true }));
    const count = async () => (await core.db.selectFrom('broadcast_recipients').select('id').where('broadcast_id', '=', b.id).execute()).length;
    // Rate 3: the first batch holds three; pause as soon as it is in.
    await waitFor('the first batch', async () => (await count()) > 0, 20_000);
    await core.store.transaction((tx) => pauseSending(core, tx, workspaceId, 'Test pause.'));
    const atPause = await count();
    expect(atPause).toBeLessThan(8);
    // Well past several batch intervals: still where it stopped, and still going out (not failed).
    await new Promise((r) => setTimeout(r, 3500));
    expect(await count()).toBe(atPause);
    expect(ok(await resend.broadcasts.get(b.id)).status).toBe('queued');
    await resumeSending(core, systemActor, workspaceId);
    await waitFor('the broadcast finished', async () => (await resend.broadcasts.get(b.id)).data?.status === 'sent', 30_000);
    expect(await count()).toBe(8);
  }, 60_000);

  it('every sender of a workspace takes from one bucket of MAILSTACK_BROADCAST_RATE a second; workspaces do not share', async () => {
    const core = server.platform.core;
    const a = (await server.setup('owner@bucket-a.test', 'Bucket A')).workspaceId;
    const b = (await server.setup('owner@bucket-b.test', 'Bucket B')).workspaceId;
    const t0 = Date.now();
    // A broadcast batch and an automation asking at once: together they get one second's worth.
    const [first, second] = [await takeSendTokens(core, a, 5), await takeSendTokens(core, a, 5)];
    const elapsed = Date.now() - t0;
    expect(first.granted).toBe(3);
    expect(first.granted + second.granted).toBeLessThanOrEqual(3 + Math.floor((elapsed * 3) / 1000));
    if (second.granted < 5) expect(second.waitMs).toBeGreaterThan(0);
    expect((await takeSendTokens(core, b, 5)).granted).toBe(3);
  });
});
