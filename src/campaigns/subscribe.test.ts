// Public subscribe forms with double opt-in, the CSV export of contacts and imports from a URL,
// against a real node: a website posts to /subscribe/:form_id, the confirmation mail reaches a
// loopback "remote" MX, the contact stays pending (no broadcast) until the link's page is
// confirmed; the export is RFC 4180 CSV with formula cells defused; an import fetched from a URL
// goes through the SSRF guard.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBSCRIBE_POSTS_PER_MINUTE } from '../http/routes/subscribe.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { type TestMx, freePort, startMx } from '../testkit/remote-mx.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';

let server: TestServer;
let strict: TestServer;
let dns: TestDns;
let mx: TestMx;
let receiver: Receiver;
let resend: Resend;
let other: Resend;
let segmentId: string;
let topicId: string;
let formId: string;

const ok = <T>(r: { data: T | null; error: any }): T => {
  expect(r.error).toBeNull();
  return r.data!;
};

async function api(method: string, path: string, key: string, body?: unknown) {
  const r = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, json: (r.headers.get('content-type')?.includes('json') ? await r.json() : null) as any, text: r.headers.get('content-type')?.includes('json') ? '' : await r.text() };
}
let key = '';
let otherKey = '';

// Every post comes from a different client address (127.0.0.x), as visitors of a website do, so
// the per-address limit is tested on its own.
function post(path: string, form: Record<string, string>, from = '127.0.0.1', json = false): Promise<{ status: number; body: string; location?: string }> {
  const url = new URL(`${server.url}${path}`);
  const body = json ? JSON.stringify(form) : new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  mx = await startMx('127.0.0.142', mxPort);
  dns.mx('remote.test', 'mx.remote.test', 10);
  dns.a('mx.remote.test', '127.0.0.142');
  receiver = await startReceiver();
  server = await startTestServer({ env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(mxPort), MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true', MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_BROADCAST_RATE: '0' } });
  const ws = await server.setup('owner@list.test', 'List');
  key = ws.apiKey;
  resend = server.resend(key);
  otherKey = (await server.setup('owner@rival3.test', 'Rival')).apiKey;
  other = server.resend(otherKey);
  const domain = ok(await resend.domains.create({ name: 'list.test' }));
  for (const r of domain.records as any[]) {
    const fqdn = r.name === '@' ? 'list.test' : `${r.name}.list.test`;
    if (r.type === 'TXT') dns.txt(fqdn, r.value);
    else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
  }
  ok(await resend.domains.verify(domain.id));
  await waitFor('domain verified', async () => (await resend.domains.get(domain.id)).data?.status === 'verified', 20_000);
  segmentId = ok(await resend.segments.create({ name: 'Newsletter' })).id;
  topicId = ok(await resend.topics.create({ name: 'Weekly', defaultSubscription: 'opt_out' })).id;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await strict?.stop();
  await mx?.close();
  await receiver?.close();
  await dns?.close();
});

const confirmationTo = (address: string) => mx.messages.filter((m) => m.to.includes(address) && m.raw.toString().includes('confirm'));

describe('double opt-in', () => {
  it('a form is created by API, in this workspace only, from a verified domain', async () => {
    const f = await api('POST', '/v1/subscribe-forms', key, { name: 'Weekly letter', segment_id: segmentId, topic_id: topicId, from: 'Letters <letters@list.test>' });
    expect(f.status).toBe(201);
    expect(f.json).toMatchObject({ object: 'subscribe_form', double_opt_in: true, url: `${server.url}/subscribe/${f.json.id}` });
    formId = f.json.id;
    expect((await api('POST', '/v1/subscribe-forms', key, { segment_id: segmentId, from: 'x@unverified.test' })).status).toBe(403);
    expect((await api('GET', `/v1/subscribe-forms/${formId}`, otherKey)).status).toBe(404);
    expect((await api('DELETE', `/v1/subscribe-forms/${formId}`, otherKey)).status).toBe(404);
    expect((await api('POST', '/v1/subscribe-forms', otherKey, { segment_id: segmentId, from: 'x@rival3.test' })).status).toBe(404);
    expect((await api('GET', '/v1/subscribe-forms', key)).json.data.map((x: any) => x.id)).toEqual([formId]);
  });

  it('serves the hosted form, and a post leaves the contact pending with a confirmation mail', async () => {
    const page = await fetch(`${server.url}/subscribe/${formId}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`action="/subscribe/${formId}"`);
    const r = await post(`/subscribe/${formId}`, { email: 'Pat@Remote.test', first_name: 'Pat' }, '127.0.0.2');
    expect(r.status).toBe(200);
    expect(r.body).toContain('check your inbox');
    const c = ok(await resend.contacts.get({ email: 'pat@remote.test' }));
    expect(c.first_name).toBe('Pat');
    // Nothing asked for is applied yet.
    expect(ok(await resend.contacts.segments.list({ email: 'pat@remote.test' } as any)).data).toEqual([]);
    const mail = await waitFor('the confirmation mail', () => confirmationTo('pat@remote.test')[0], 20_000);
    const parsed = await PostalMime.parse(mail.raw);
    expect(parsed.from?.address).toBe('letters@list.test');
    expect(parsed.text).toMatch(new RegExp(`${server.url}/subscribe/confirm/[A-Za-z0-9._-]+`));
  });

  it('a pending contact gets no broadcast', async () => {
    // Put Pat in the segment by hand: still held until confirmed.
    ok(await resend.contacts.segments.add({ email: 'pat@remote.test', segmentId } as any));
    ok(await resend.contacts.create({ email: 'kim@remote.test', segments: [{ id: segmentId }] }));
    const b = ok(await resend.broadcasts.create({ segmentId, from: 'letters@list.test', subject: 'Before confirming', text: 'x', send: true }));
    await waitFor('sent', async () => (await resend.broadcasts.get(b.id)).data?.status === 'sent', 30_000);
    const all = ok(await resend.broadcasts.recipients(b.id, { type: 'sent' })).data as any[];
    expect(all.map((r) => r.email)).toEqual(['kim@remote.test']);
    const rows = await server.platform.core.db.selectFrom('broadcast_recipients').select(['email', 'skip_reason']).where('broadcast_id', '=', b.id).execute();
    expect(rows.find((r) => r.email === 'pat@remote.test')?.skip_reason).toBe('pending_confirmation');
    ok(await resend.contacts.segments.remove({ email: 'pat@remote.test', segmentId } as any));
  }, 60_000);

  it('the link shows a page with one button (a fetch confirms nothing); its POST confirms, joins the segment and topic', async () => {
    const mail = confirmationTo('pat@remote.test')[0];
    const link = /(http:\/\/[^\s]+\/subscribe\/confirm\/[A-Za-z0-9._-]+)/.exec((await PostalMime.parse(mail.raw)).text!)![1];
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Confirm my subscription');
    expect(ok(await resend.contacts.segments.list({ email: 'pat@remote.test' } as any)).data).toEqual([]);
    const done = await fetch(link, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('confirmed');
    expect(ok(await resend.contacts.segments.list({ email: 'pat@remote.test' } as any)).data.map((s: any) => s.id)).toEqual([segmentId]);
    const topics = ok(await resend.contacts.topics.list({ email: 'pat@remote.test' } as any)).data;
    expect(topics.find((t: any) => t.id === topicId)!.subscription).toBe('opt_in');
    // Twice is harmless.
    expect((await fetch(link, { method: 'POST' })).status).toBe(200);
    const b = ok(await resend.broadcasts.create({ segmentId, from: 'letters@list.test', subject: 'After confirming', text: 'x', send: true }));
    await waitFor('sent', async () => (await resend.broadcasts.get(b.id)).data?.status === 'sent', 30_000);
    expect((ok(await resend.broadcasts.recipients(b.id, { type: 'sent' })).data as any[]).map((r) => r.email).sort()).toEqual(['kim@remote.test', 'pat@remote.test']);
  }, 60_000);

  it('answers the same for a known address, never undoes an unsubscribe without confirmation, and refuses forged links', async () => {
    ok(await resend.contacts.create({ email: 'lou@remote.test', unsubscribed: true }));
    const known = await post(`/subscribe/${formId}`, { email: 'lou@remote.test' }, '127.0.0.3', true);
    expect(known.status).toBe(200);
    expect(JSON.parse(known.body)).toEqual({ object: 'subscription', message: 'Almost done: check your inbox and follow the link to confirm.' });
    expect(ok(await resend.contacts.get({ email: 'lou@remote.test' })).unsubscribed).toBe(true);
    const mail = await waitFor('Lou’s confirmation', () => confirmationTo('lou@remote.test')[0], 20_000);
    const link = /(http:\/\/[^\s]+\/subscribe\/confirm\/[A-Za-z0-9._-]+)/.exec((await PostalMime.parse(mail.raw)).text!)![1];
    const tampered = link.slice(0, -3) + (link.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await fetch(tampered, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${server.url}/subscribe/confirm/${'x'.repeat(40)}`)).status).toBe(404);
    // Confirming is what takes an unsubscribe back.
    expect((await fetch(link, { method: 'POST' })).status).toBe(200);
    expect(ok(await resend.contacts.get({ email: 'lou@remote.test' })).unsubscribed).toBe(false);
    // Hostile input: not an address, a header-injection attempt in the name, an unknown form.
    expect((await post(`/subscribe/${formId}`, { email: 'nope' }, '127.0.0.4')).status).toBe(422);
    expect((await post(`/subscribe/${formId}`, { email: 'x@remote.test', first_name: 'a\r\nBcc: all@remote.test' }, '127.0.0.4')).status).toBe(422);
    expect((await post('/subscribe/00000000-0000-0000-0000-000000000000', { email: 'x@remote.test' }, '127.0.0.4')).status).toBe(404);
  }, 60_000);

  it('limits posts per client address', async () => {
    const results: number[] = [];
    for (let i = 0; i <= SUBSCRIBE_POSTS_PER_MINUTE; i++) results.push((await post(`/subscribe/${formId}`, { email: `flood${i}@remote.test` }, '127.0.0.5')).status);
    expect(results.slice(0, SUBSCRIBE_POSTS_PER_MINUTE).every((s) => s === 200)).toBe(true);
    expect(results.at(-1)).toBe(429);
    // Another visitor is not affected.
    expect((await post(`/subscribe/${formId}`, { email: 'calm@remote.test' }, '127.0.0.6')).status).toBe(200);
  });

  it('without double opt-in a form applies at once (and a browser is sent to the form’s redirect)', async () => {
    const f = await api('POST', '/v1/subscribe-forms', key, { segment_id: segmentId, from: 'letters@list.test', double_opt_in: false, redirect_url: 'https://list.test/thanks' });
    expect(f.status).toBe(201);
    const r = await post(`/subscribe/${f.json.id}`, { email: 'quick@remote.test' }, '127.0.0.7');
    expect(r.status).toBe(303);
    expect(r.location).toBe('https://list.test/thanks');
    expect(ok(await resend.contacts.segments.list({ email: 'quick@remote.test' } as any)).data.map((s: any) => s.id)).toEqual([segmentId]);
    expect(confirmationTo('quick@remote.test')).toEqual([]);
  });
});

describe('CSV export', () => {
  it('is RFC 4180, names the properties, and defuses cells a spreadsheet would evaluate', async () => {
    ok(await resend.contactProperties.create({ key: 'note', type: 'string' }));
    ok(await resend.contactProperties.create({ key: 'score', type: 'number' }));
    ok(await resend.contacts.create({ email: 'evil@remote.test', firstName: '=cmd|\' /C calc\'!A0', lastName: 'O"Neil, Jr.', properties: { note: '@SUM(1+1)\r\nline 2', score: -5 } }));
    const r = await fetch(`${server.url}/v1/contacts/export`, { headers: { authorization: `Bearer ${key}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await r.text();
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual(['id', 'email', 'first_name', 'last_name', 'unsubscribed', 'created_at', 'note', 'score']);
    const evil = rows.find((x) => x.email === 'evil@remote.test')!;
    expect(evil.first_name).toBe('\'=cmd|\' /C calc\'!A0');
    expect(evil.last_name).toBe('O"Neil, Jr.');
    expect(evil.note).toBe("'@SUM(1+1)\r\nline 2");
    expect(evil.score).toBe('-5');
    expect(text.split('\r\n').every((l) => !/^[=+\-@]/.test(l))).toBe(true);
    // A segment's contacts only; another workspace sees none of these.
    const seg = parse(await (await fetch(`${server.url}/v1/contacts/export?segment_id=${segmentId}`, { headers: { authorization: `Bearer ${key}` } })).text(), { columns: true }) as any[];
    expect(seg.map((x) => x.email).sort()).toEqual(['kim@remote.test', 'lou@remote.test', 'pat@remote.test', 'quick@remote.test']);
    const theirs = await (await fetch(`${server.url}/v1/contacts/export`, { headers: { authorization: `Bearer ${otherKey}` } })).text();
    expect(theirs.trim().split('\r\n')).toHaveLength(1);
    expect((await fetch(`${server.url}/v1/contacts/export?segment_id=${segmentId}`, { headers: { authorization: `Bearer ${otherKey}` } })).status).toBe(404);
  });
});

describe('imports from a URL', () => {
  it('fetches the CSV and imports it; redirects, errors and private addresses (with the guard on) are refused', async () => {
    const site = http.createServer((req, res) => {
      if (req.url === '/list.csv') return res.writeHead(200, { 'content-type': 'text/csv' }).end('email,first_name\nurl1@remote.test,Una\nbad,Row\n');
      if (req.url === '/moved') return res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    try {
      const r = await api('POST', '/v1/contacts/imports', key, { url: `${base}/list.csv`, segments: [{ id: segmentId }] });
      expect(r.status).toBe(201);
      const done = await waitFor('import', async () => {
        const d = (await resend.contacts.imports.get(r.json.id)).data as any;
        return d?.status === 'completed' ? d : null;
      }, 30_000);
      expect(done.counts).toMatchObject({ total: 2, created: 1, failed: 1 });
      expect(ok(await resend.contacts.get({ email: 'url1@remote.test' })).first_name).toBe('Una');
      const moved = await api('POST', '/v1/contacts/imports', key, { url: `${base}/moved` });
      expect(moved.status).toBe(422);
      expect(moved.json.message).toMatch(/redirect/);
      expect((await api('POST', '/v1/contacts/imports', key, { url: `${base}/missing` })).status).toBe(422);
      expect((await api('POST', '/v1/contacts/imports', key, { url: 'file:///etc/passwd' })).status).toBe(422);

      // A node with the SSRF guard on (the default) refuses loopback and metadata addresses.
      strict = await startTestServer();
      const s = await strict.setup('owner@strict.test', 'Strict');
      for (const url of [`${base}/list.csv`, 'http://169.254.169.254/latest/meta-data/', 'http://[::ffff:127.0.0.1]/x.csv']) {
        const res = await fetch(`${strict.url}/v1/contacts/imports`, { method: 'POST', headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ url }) });
        expect(res.status, url).toBe(422);
        expect(((await res.json()) as any).message).toMatch(/public addresses/);
      }
    } finally {
      site.close();
    }
  }, 60_000);
});
