// The send API through the official resend SDK against a real node: what is stored and queued for
// a send with every option, batches, limits, reading back (get, list with filters and cursors),
// and attachments (list, get, download). The job worker is off: nothing is delivered here.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../testkit/server.ts';
import { DELIVER_JOB } from './accept.ts';
import { type SendingWorld, startSendingWorld } from '../testkit/sending.ts';

let w: SendingWorld;
let fileServer: http.Server;
let fileUrl: string;
const PDF = Buffer.from('%PDF-1.4 fake pdf bytes \u0000\u0001\u0002 end', 'latin1');
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const REMOTE = Buffer.from('remote report body\n');

beforeAll(async () => {
  w = await startSendingWorld({ env: { MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  await w.verifyDomain('acme.test');
  fileServer = http.createServer((req, res) => {
    if (req.url === '/files/report.txt') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(REMOTE);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: '/files/report.txt' });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => fileServer.listen(0, '127.0.0.1', r));
  fileUrl = `http://127.0.0.1:${(fileServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await w?.stop();
  await new Promise((r) => fileServer?.close(r));
});

const core = () => w.server.platform.core;

async function jobsFor(emailId: string) {
  const recipients = await core().db.selectFrom('email_recipients').selectAll().where('email_id', '=', emailId).orderBy('address').execute();
  const jobs = await core().db.selectFrom('jobs').selectAll().where('kind', '=', DELIVER_JOB).execute();
  return { recipients, jobs: jobs.filter((j) => recipients.some((r) => JSON.parse(j.payload).recipientId === r.id)) };
}

describe('emails.send', () => {
  it('stores a fully-optioned message: headers, DKIM signature, attachments (inline too), recipients and one delivery job each', async () => {
    const { data, error } = await w.resend.emails.send({
      from: 'Zoë Støre 📦 <hello@acme.test>',
      to: ['alice@example.net', 'Bob <bob@example.org>'],
      cc: 'carol@example.net',
      bcc: ['dave@example.com'],
      replyTo: 'support@acme.test',
      subject: 'Grüße — your order 🎉 is on its way',
      html: '<p>Hello <img src="cid:logo-1"></p>',
      text: 'Hello',
      headers: { 'X-Entity-Ref-ID': 'ref-123', 'List-Unsubscribe': '<https://acme.test/u/1>', 'X-Note': 'café ☕' },
      attachments: [
        { filename: 'invoice.pdf', content: PDF.toString('base64') },
        { filename: 'logo.png', content: PNG, contentId: 'logo-1' },
        { path: `${fileUrl}/files/report.txt` },
      ],
      tags: [{ name: 'category', value: 'confirm_email' }, { name: 'user-id', value: 'u-42' }],
    });
    expect(error).toBeNull();
    const id = data!.id;

    // The answer came after everything was durable: rows, blob and jobs are there now.
    const row = await core().db.selectFrom('emails').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ source: 'api', from_address: 'hello@acme.test', last_event: 'sent', scheduled_at: null });
    expect(row.message_id).toMatch(/^<[0-9a-f-]{36}@acme\.test>$/);

    const { recipients, jobs } = await jobsFor(id);
    expect(recipients.map((r) => [r.address, r.kind, r.status])).toEqual([
      ['alice@example.net', 'to', 'sent'],
      ['bob@example.org', 'to', 'sent'],
      ['carol@example.net', 'cc', 'sent'],
      ['dave@example.com', 'bcc', 'sent'],
    ]);
    expect(jobs).toHaveLength(4);
    expect(jobs.every((j) => j.status === 'queued')).toBe(true);

    const raw = await w.rawOf(id);
    const text = raw.toString('utf8');
    expect(text.startsWith('DKIM-Signature: ')).toBe(true);
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^Message-ID: <[0-9a-f-]{36}@acme\.test>$/m);
    expect(head).toMatch(/^Date: /m);
    expect(head).toMatch(/^X-Entity-Ref-ID: ref-123$/m);
    expect(head).not.toMatch(/^Bcc:/im);
    expect(text).not.toContain('dave@example.com');
    // Non-ASCII subject and display name are RFC 2047 encoded-words, never raw 8-bit headers.
    expect(head).toMatch(/^Subject: =\?UTF-8\?/m);
    expect(/[^\x00-\x7f]/.test(head)).toBe(false);

    const parsed = await PostalMime.parse(raw);
    expect(parsed.subject).toBe('Grüße — your order 🎉 is on its way');
    expect(parsed.from).toMatchObject({ name: 'Zoë Støre 📦', address: 'hello@acme.test' });
    expect(parsed.to!.map((a) => a.address)).toEqual(['alice@example.net', 'bob@example.org']);
    expect(parsed.cc!.map((a) => a.address)).toEqual(['carol@example.net']);
    expect(parsed.replyTo!.map((a) => a.address)).toEqual(['support@acme.test']);
    // A non-ASCII custom header value is an RFC 2047 encoded-word of its UTF-8 bytes.
    expect(parsed.headers.find((h) => h.key === 'x-note')?.value).toBe('=?UTF-8?Q?caf=C3=A9_=E2=98=95?=');
    expect(parsed.headers.find((h) => h.key === 'list-unsubscribe')?.value).toBe('<https://acme.test/u/1>');
    expect(parsed.html).toContain('cid:logo-1');
    expect(parsed.text?.trim()).toBe('Hello');
    const byName = Object.fromEntries(parsed.attachments.map((a) => [a.filename, a]));
    expect(Buffer.from(byName['invoice.pdf'].content as ArrayBuffer)).toEqual(PDF);
    expect(byName['invoice.pdf'].mimeType).toBe('application/pdf');
    expect(byName['logo.png']).toMatchObject({ contentId: '<logo-1>', disposition: 'inline', mimeType: 'image/png' });
    expect(Buffer.from(byName['logo.png'].content as ArrayBuffer)).toEqual(PNG);
    expect(Buffer.from(byName['report.txt'].content as ArrayBuffer)).toEqual(REMOTE);

    // The DKIM signature verifies against the record published in our DNS server.
    const resolver = w.dns.resolver();
    const v = await dkimVerify(raw, { resolver: (name: string, type: string) => resolver.resolve(name, type as any) as any });
    expect(v.results[0].status.result).toBe('pass');
    expect(v.results[0].signingDomain).toBe('acme.test');

    // get: Resend's shape.
    const got = await w.resend.emails.get(id);
    expect(got.error).toBeNull();
    expect(got.data).toMatchObject({
      object: 'email',
      id,
      from: 'Zoë Støre 📦 <hello@acme.test>',
      to: ['alice@example.net', 'Bob <bob@example.org>'],
      cc: ['carol@example.net'],
      bcc: ['dave@example.com'],
      reply_to: ['support@acme.test'],
      subject: 'Grüße — your order 🎉 is on its way',
      html: '<p>Hello <img src="cid:logo-1"></p>',
      text: 'Hello',
      last_event: 'sent',
      scheduled_at: null,
      tags: [{ name: 'category', value: 'confirm_email' }, { name: 'user-id', value: 'u-42' }],
    });
    expect(Date.parse(got.data!.created_at)).toBeGreaterThan(0);

    // Attachments: list, get, and the download link serves the bytes without an API key.
    const list = await w.resend.emails.attachments.list({ emailId: id });
    expect(list.error).toBeNull();
    expect(list.data).toMatchObject({ object: 'list', has_more: false });
    expect(list.data!.data.map((a) => [a.filename, a.content_type, a.size, a.content_disposition, a.content_id])).toEqual([
      ['invoice.pdf', 'application/pdf', PDF.length, 'attachment', undefined],
      ['logo.png', 'image/png', PNG.length, 'inline', 'logo-1'],
      ['report.txt', 'text/plain', REMOTE.length, 'attachment', undefined],
    ]);
    const page1 = await w.resend.emails.attachments.list({ emailId: id, limit: 2 });
    expect(page1.data!.has_more).toBe(true);
    const page2 = await w.resend.emails.attachments.list({ emailId: id, limit: 2, after: page1.data!.data[1].id });
    expect(page2.data!.data.map((a) => a.filename)).toEqual(['report.txt']);
    expect(page2.data!.has_more).toBe(false);

    const one = await w.resend.emails.attachments.get({ emailId: id, id: list.data!.data[1].id });
    expect(one.error).toBeNull();
    expect(one.data).toMatchObject({ object: 'attachment', filename: 'logo.png', content_disposition: 'inline', content_id: 'logo-1' });
    expect(Date.parse(one.data!.expires_at)).toBeGreaterThan(Date.now());
    const dl = await fetch(one.data!.download_url);
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await dl.arrayBuffer())).toEqual(PNG);
    // A tampered token is refused.
    const bad = await fetch(one.data!.download_url.replace(/token=.{12}/, 'token=AAAAAAAAAAAA'));
    expect(bad.status).toBe(403);
    // A token for one attachment does not open another.
    const other = one.data!.download_url.replace(`/attachments/${one.data!.id}/`, `/attachments/${list.data!.data[0].id}/`);
    expect((await fetch(other)).status).toBe(403);
  });

  it('follows a redirect for a path attachment and takes the name from the final URL', async () => {
    const { data, error } = await w.resend.emails.send({
      from: 'hello@acme.test',
      to: 'x@example.net',
      subject: 'redirected',
      text: 'see attached',
      attachments: [{ path: `${fileUrl}/redirect` }],
    });
    expect(error).toBeNull();
    const list = await w.resend.emails.attachments.list({ emailId: data!.id });
    expect(list.data!.data[0]).toMatchObject({ filename: 'report.txt', size: REMOTE.length });
  });

  it('refuses a path attachment that cannot be fetched (404) with invalid_attachment, storing nothing', async () => {
    const before = await core().db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const { error } = await w.resend.emails.send({
      from: 'hello@acme.test',
      to: 'x@example.net',
      subject: 'missing',
      text: 'x',
      attachments: [{ path: `${fileUrl}/nope.pdf` }],
    });
    expect(error).toMatchObject({ statusCode: 422, name: 'invalid_attachment' });
    const after = await core().db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('accepts 50 recipients in `to` and refuses 51 with a 422', async () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `r${i}@example.net`);
    const ok = await w.resend.emails.send({ from: 'hello@acme.test', to: fifty, subject: 'fifty', text: 'x' });
    expect(ok.error).toBeNull();
    expect((await jobsFor(ok.data!.id)).recipients).toHaveLength(50);
    const { error } = await w.resend.emails.send({ from: 'hello@acme.test', to: [...fifty, 'one-more@example.net'], subject: 'fifty-one', text: 'x' });
    expect(error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(error!.message).toContain('at most 50');
  });

  it('sends a recipient given twice (to and cc) once', async () => {
    const { data } = await w.resend.emails.send({ from: 'hello@acme.test', to: 'Twice@Example.net', cc: 'twice@example.net', subject: 'dup', text: 'x' });
    const { recipients, jobs } = await jobsFor(data!.id);
    expect(recipients.map((r) => r.address)).toEqual(['twice@example.net']);
    expect(jobs).toHaveLength(1);
  });
});

describe('batch.send', () => {
  it('sends a batch of 3 as three emails, each stored and queued', async () => {
    const { data, error } = await w.resend.batch.send([
      { from: 'hello@acme.test', to: 'b1@example.net', subject: 'one', text: '1' },
      { from: 'Acme <hello@acme.test>', to: ['b2@example.net', 'b3@example.net'], subject: 'two', html: '<b>2</b>', tags: [{ name: 'batch', value: 'yes' }] },
      { from: 'hello@acme.test', to: 'b4@example.net', subject: 'three', text: '3' },
    ]);
    expect(error).toBeNull();
    expect(data!.data).toHaveLength(3);
    const ids = data!.data.map((d) => d.id);
    expect(new Set(ids).size).toBe(3);
    const counts = await Promise.all(ids.map(async (id) => (await jobsFor(id)).jobs.length));
    expect(counts).toEqual([1, 2, 1]);
    const second = await w.resend.emails.get(ids[1]);
    expect(second.data).toMatchObject({ subject: 'two', to: ['b2@example.net', 'b3@example.net'], tags: [{ name: 'batch', value: 'yes' }] });
    const row = await core().db.selectFrom('emails').select('source').where('id', '=', ids[0]).executeTakeFirstOrThrow();
    expect(row.source).toBe('batch');
  });

  it('refuses 101 items with a 422 and stores none', async () => {
    const items = Array.from({ length: 101 }, (_, i) => ({ from: 'hello@acme.test', to: `n${i}@example.net`, subject: `n${i}`, text: 'x' }));
    const { error } = await w.resend.batch.send(items);
    expect(error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const stored = await core().db.selectFrom('emails').select('id').where('subject', '=', 'n0').execute();
    expect(stored).toHaveLength(0);
  });

  it('strict mode refuses the whole batch when one item is invalid, naming it', async () => {
    const { data, error } = await w.resend.batch.send([
      { from: 'hello@acme.test', to: 'ok@example.net', subject: 'strict-ok', text: 'x' },
      { from: 'hello@acme.test', to: 'not an address', subject: 'strict-bad', text: 'x' },
    ]);
    expect(data).toBeNull();
    expect(error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(error!.message).toMatch(/^emails\[1\]: Invalid `to` field/);
    expect(await core().db.selectFrom('emails').select('id').where('subject', '=', 'strict-ok').execute()).toHaveLength(0);
  });

  it('permissive mode sends the valid items and reports the others by index', async () => {
    const { data, error } = await w.resend.batch.send(
      [
        { from: 'hello@acme.test', to: 'p1@example.net', subject: 'perm-1', text: 'x' },
        { from: 'hello@unverified.test', to: 'p2@example.net', subject: 'perm-2', text: 'x' },
        { from: 'hello@acme.test', to: 'p3@example.net', subject: 'perm-3', text: 'x', attachments: [{ filename: 'a.txt', content: 'eA==' }] } as any,
        { from: 'hello@acme.test', to: 'p4@example.net', subject: 'perm-4', text: 'x' },
      ],
      { batchValidation: 'permissive' },
    );
    expect(error).toBeNull();
    expect(data!.data).toHaveLength(2);
    expect(data!.errors.map((e) => e.index)).toEqual([1, 2]);
    expect(data!.errors[0].message).toContain('not verified');
    expect(data!.errors[1].message).toContain('attachments');
    const subjects = await Promise.all(data!.data.map(async (d) => (await w.resend.emails.get(d.id)).data!.subject));
    expect(subjects).toEqual(['perm-1', 'perm-4']);
  });

  it('refuses an unknown x-batch-validation value and a non-array body', async () => {
    const r = await api(w.server.url, 'POST', '/v1/emails/batch', { key: w.apiKey, body: [], headers: { 'x-batch-validation': 'lenient' } });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const o = await api(w.server.url, 'POST', '/v1/emails/batch', { key: w.apiKey, body: { from: 'hello@acme.test' } });
    expect(o.status).toBe(422);
    expect(o.json.message).toContain('array');
  });
});

describe('emails.list', () => {
  const ids: Record<string, string> = {};
  let t0: string;
  let t1: string;

  beforeAll(async () => {
    // A workspace of its own so earlier tests' emails do not disturb the counts.
    const ws = await w.server.setup('lister@sender.test', 'Lister');
    const resend = w.server.resend(ws.apiKey);
    await w.verifyDomain('list.test', resend);
    (w as any).listResend = resend;
    t0 = new Date(Date.now() - 1000).toISOString();
    for (const [name, to, tag] of [
      ['a', 'x@example.net', 'alpha'],
      ['b', 'y@example.net', 'beta'],
      ['c', 'x@example.net', 'alpha'],
    ] as const) {
      const { data, error } = await resend.emails.send({ from: 'l@list.test', to, bcc: 'audit@example.com', subject: `list-${name}`, text: name, tags: [{ name: 'kind', value: tag }] });
      expect(error).toBeNull();
      ids[name] = data!.id;
    }
    const { data } = await resend.emails.send({ from: 'l@list.test', to: 'z@example.net', subject: 'list-d', text: 'd', scheduledAt: 'in 1 hour' });
    ids.d = data!.id;
    t1 = new Date(Date.now() + 1000).toISOString();
  });

  const resend = () => (w as any).listResend as typeof w.resend;

  it('lists newest first in Resend\'s shape, without bodies, with cursors both ways', async () => {
    const all = await resend().emails.list();
    expect(all.error).toBeNull();
    expect(all.data).toMatchObject({ object: 'list', has_more: false });
    expect(all.data!.data.map((e) => e.subject)).toEqual(['list-d', 'list-c', 'list-b', 'list-a']);
    expect((all.data!.data[0] as any).html).toBeUndefined();
    expect(all.data!.data[1]).toMatchObject({ to: ['x@example.net'], bcc: ['audit@example.com'], cc: null, last_event: 'sent' });
    expect(all.data!.data[0].scheduled_at).not.toBeNull();

    const p1 = await resend().emails.list({ limit: 2 });
    expect(p1.data!.has_more).toBe(true);
    expect(p1.data!.data.map((e) => e.subject)).toEqual(['list-d', 'list-c']);
    const p2 = await resend().emails.list({ limit: 2, after: p1.data!.data[1].id });
    expect(p2.data!.data.map((e) => e.subject)).toEqual(['list-b', 'list-a']);
    expect(p2.data!.has_more).toBe(false);
    const back = await resend().emails.list({ limit: 2, before: p2.data!.data[0].id });
    expect(back.data!.data.map((e) => e.subject)).toEqual(['list-d', 'list-c']);
  });

  it('filters by status, recipient (bcc too), tag and date range', async () => {
    const q = async (query: string) => {
      const r = await resend().get<any>(`/emails?${query}`);
      expect(r.error).toBeNull();
      return r.data.data.map((e: any) => e.subject);
    };
    expect(await q('status=scheduled')).toEqual(['list-d']);
    expect(await q('status=sent')).toEqual(['list-c', 'list-b', 'list-a']);
    expect(await q('recipient=X%40Example.net')).toEqual(['list-c', 'list-a']);
    expect(await q('recipient=audit%40example.com')).toEqual(['list-c', 'list-b', 'list-a']);
    expect(await q('tag=kind:alpha')).toEqual(['list-c', 'list-a']);
    expect(await q('tag=kind')).toEqual(['list-c', 'list-b', 'list-a']);
    expect(await q('tag=kind:alph')).toEqual([]);
    expect(await q(`start_date=${encodeURIComponent(t0)}&end_date=${encodeURIComponent(t1)}`)).toHaveLength(4);
    expect(await q(`start_date=${encodeURIComponent(t1)}`)).toEqual([]);
    expect(await q('status=sent&recipient=y%40example.net&limit=1')).toEqual(['list-b']);
    const bad = await resend().get<any>('/emails?status=exploded');
    expect(bad.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const badTag = await resend().get<any>('/emails?tag=%25');
    expect(badTag.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });
});
