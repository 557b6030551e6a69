// Resend's receiving API through the official SDK over a real socket: emails.receiving.list, get
// (html_format data_uri | cid), attachments.list/get with byte-for-byte downloads, the signed raw
// download, and emails.receiving.forward (which the SDK does client-side: GET, download raw
// without a key, POST /emails) reaching a remote MX on loopback. Hostile stored messages still
// give JSON, never a 500.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import type { Core } from '../core/core.ts';
import { type TestMx, until } from '../testkit/remote-mx.ts';
import { type TestMailbox, appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type RemoteWorld, ok, startRemoteWorld } from '../testkit/remote-world.ts';
import { type TestServer, api } from '../testkit/server.ts';

let world: RemoteWorld;
let server: TestServer;
let mx: TestMx;
let core: Core;
let resend: Resend;
let other: Resend;
let A: TestMailbox;
const clock = new ManualClock();

const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from([0, 1, 2, 255, 254, 10, 13]), Buffer.from('binary tail')]);
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
let richRaw: Buffer;
let richId: string;
let replyId: string;

beforeAll(async () => {
  world = await startRemoteWorld({ remoteIp: '127.0.0.6', clock });
  ({ server, mx } = world);
  core = server.platform.core;
  A = await createTestMailbox(core, { domainName: 'recv.test', localPart: 'hello' });
  resend = server.resend(A.apiKey!);
  const B = await createTestMailbox(core, { domainName: 'elsewhere.test' });
  other = server.resend(B.apiKey!);

  richRaw = await new MailComposer({
    newline: 'win',
    from: 'Zoë Sender <zoe@remote.test>',
    to: 'Hello Desk <hello@recv.test>',
    cc: 'team@remote.test',
    replyTo: 'replies@remote.test',
    subject: 'Rich message ✓',
    messageId: '<rich-1@remote.test>',
    headers: { 'X-Custom': 'custom value' },
    text: 'Plain body with kiwifruit.',
    html: '<p>Hello <img src="cid:logo@remote.test" alt="logo"><script>alert(1)</script></p>',
    attachments: [
      { filename: 'report.pdf', content: PDF, contentType: 'application/pdf' },
      { filename: 'logo.png', content: PNG, contentType: 'image/png', cid: 'logo@remote.test' },
    ],
  })
    .compile()
    .build();
  richId = (await appendRaw(core, A.mailbox, richRaw)).id;
  replyId = (
    await appendRaw(
      core,
      A.mailbox,
      rawMessage({ from: 'zoe@remote.test', to: 'hello@recv.test', subject: 'Re: Rich message', messageId: 'rich-2@remote.test', inReplyTo: 'rich-1@remote.test', text: 'Sounds good!\n\nOn Mon, 1 Jan 2024, Hello wrote:\n> the original\n> text' }),
    )
  ).id;
});

afterAll(async () => {
  await world?.stop();
});

describe('emails.receiving', () => {
  it('lists the received emails of every inbox, newest first, without bodies', async () => {
    const list = ok(await resend.emails.receiving.list());
    expect(list.data.map((e) => e.id)).toEqual([replyId, richId]);
    const rich = list.data[1] as any;
    expect(rich).toMatchObject({ id: richId, from: 'Zoë Sender <zoe@remote.test>', subject: 'Rich message ✓', message_id: '<rich-1@remote.test>', cc: ['team@remote.test'], reply_to: ['replies@remote.test'], bcc: null });
    expect(rich.to).toEqual(['Hello Desk <hello@recv.test>']);
    expect(rich.html).toBeUndefined();
    expect(rich.attachments.map((a: any) => [a.filename, a.content_type, a.size]).sort()).toEqual([
      ['logo.png', 'image/png', PNG.length],
      ['report.pdf', 'application/pdf', PDF.length],
    ]);
    const page = ok(await resend.emails.receiving.list({ limit: 1 }));
    expect(page).toMatchObject({ has_more: true });
    expect(ok(await resend.emails.receiving.list({ limit: 1, after: page.data[0].id })).data.map((e) => e.id)).toEqual([richId]);
  });

  it('gets one with text, html (inline images as data: URIs by default), headers and attachments', async () => {
    const e = ok(await resend.emails.receiving.get(richId)) as any;
    expect(e).toMatchObject({ object: 'email', id: richId, subject: 'Rich message ✓', message_id: '<rich-1@remote.test>' });
    expect(e.text.trim()).toBe('Plain body with kiwifruit.');
    expect(e.html).toContain(`src="data:image/png;base64,${PNG.toString('base64')}"`);
    expect(e.html_sanitized).not.toContain('<script');
    expect(e.html_sanitized).toContain('data:image/png;base64,');
    expect(e.headers['x-custom']).toBe('custom value');
    expect(e.headers['message-id']).toBe('<rich-1@remote.test>');
    expect(e.raw.download_url.startsWith(`${server.url}/v1/emails/receiving/${richId}/raw?token=`)).toBe(true);
    expect(Date.parse(e.raw.expires_at)).toBeGreaterThan(clock.now());
    expect(e.attachments.find((a: any) => a.filename === 'logo.png')).toMatchObject({ content_id: 'logo@remote.test', content_disposition: 'inline' });

    const cid = ok(await resend.emails.receiving.get(richId, { html_format: 'cid' }));
    expect(cid.html).toContain('src="cid:logo@remote.test"');
    expect(cid.html).not.toContain('data:image/png');
    expect((await resend.emails.receiving.get(richId, { html_format: 'svg' as any })).error).toMatchObject({ statusCode: 422 });

    const reply = ok(await resend.emails.receiving.get(replyId)) as any;
    expect(reply.extracted_text).toBe('Sounds good!');
    expect(reply.text).toContain('> the original');
  });

  it('serves the raw message and attachments byte for byte by signed links, without a key', async () => {
    const e = ok(await resend.emails.receiving.get(richId));
    const raw = await fetch(e.raw!.download_url);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toMatch(/^message\/rfc822/);
    expect(Buffer.from(await raw.arrayBuffer()).equals(richRaw)).toBe(true);

    const atts = ok(await resend.emails.receiving.attachments.list({ emailId: richId }));
    expect(atts.data).toHaveLength(2);
    const pdfId = atts.data.find((a) => a.filename === 'report.pdf')!.id;
    const pngUrl = atts.data.find((a) => a.filename === 'logo.png')!.download_url;
    const pdf = ok(await resend.emails.receiving.attachments.get({ emailId: richId, id: pdfId }));
    expect(pdf).toMatchObject({ object: 'attachment', filename: 'report.pdf', content_type: 'application/pdf', content_disposition: 'attachment', size: PDF.length });
    const got = await fetch(pdf.download_url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; filename="report.pdf"/);
    expect(Buffer.from(await got.arrayBuffer()).equals(PDF)).toBe(true);
    const png = await fetch(pngUrl);
    expect(Buffer.from(await png.arrayBuffer()).equals(PNG)).toBe(true);

    // A token is bound to its message and part, and cannot be forged.
    const token = new URL(pdf.download_url).searchParams.get('token')!;
    expect((await fetch(`${server.url}/v1/emails/receiving/${replyId}/raw?token=${encodeURIComponent(token)}`)).status).toBe(403);
    expect((await fetch(`${server.url}/v1/emails/receiving/${richId}/raw?token=${encodeURIComponent(token)}`)).status).toBe(403);
    expect((await fetch(`${server.url}/v1/emails/receiving/${richId}/raw?token=${encodeURIComponent(`${token.slice(0, -4)}AAAA`)}`)).status).toBe(403);
    expect((await fetch(`${server.url}/v1/emails/receiving/${richId}/raw`)).status).toBe(422);
    // Links expire after an hour.
    clock.advance(3_600_000 + 1000);
    try {
      const expired = await api(server.url, 'GET', new URL(e.raw!.download_url).pathname + new URL(e.raw!.download_url).search);
      expect(expired.status).toBe(403);
      expect(expired.json.message).toMatch(/expired/);
    } finally {
      clock.advance(-(3_600_000 + 1000));
    }
  });

  it('forwards through the SDK (passthrough and wrapped) to a remote MX', async () => {
    const r = ok(await resend.emails.receiving.forward({ emailId: richId, from: 'hello@recv.test', to: 'boss@remote.test' }));
    const got = await until('the passthrough forward', () => mx.messages.find((m) => m.to.includes('boss@remote.test')));
    const parsed = await PostalMime.parse(got.raw);
    expect(parsed.subject).toBe('Rich message ✓');
    expect(parsed.text).toContain('kiwifruit');
    const pdf = parsed.attachments.find((a) => a.filename === 'report.pdf')!;
    expect(Buffer.from(pdf.content as ArrayBuffer).equals(PDF)).toBe(true);
    expect(ok(await resend.emails.get(r.id)).subject).toBe('Rich message ✓');

    ok(await resend.emails.receiving.forward({ emailId: richId, from: 'hello@recv.test', to: 'auditor@remote.test', passthrough: false, text: 'See attached.' }));
    const wrapped = await until('the wrapped forward', () => mx.messages.find((m) => m.to.includes('auditor@remote.test')));
    const w = await PostalMime.parse(wrapped.raw);
    expect(w.subject).toBe('Fwd: Rich message ✓');
    expect(w.text).toContain('See attached.');
    // The original travels whole as a message/rfc822 part.
    expect(wrapped.raw.toString()).toMatch(/Content-Type: message\/rfc822;?\s*(name=)?"?forwarded_message\.eml/i);
    expect(wrapped.raw.toString()).toContain('rich-1@remote.test');
  });

  it('keeps other workspaces out', async () => {
    expect((await other.emails.receiving.get(richId)).error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect((await other.emails.receiving.attachments.list({ emailId: richId })).error).toMatchObject({ statusCode: 404 });
    const atts = ok(await resend.emails.receiving.attachments.list({ emailId: richId }));
    expect((await other.emails.receiving.attachments.get({ emailId: richId, id: atts.data[0].id })).error).toMatchObject({ statusCode: 404 });
    expect(ok(await other.emails.receiving.list()).data).toEqual([]);
    expect((await other.emails.receiving.forward({ emailId: richId, from: 'x@elsewhere.test', to: 'y@remote.test' })).error).toMatchObject({ statusCode: 404 });
    // An attachment id of one email under another email's id is not found either.
    expect((await resend.emails.receiving.attachments.get({ emailId: replyId, id: atts.data[0].id })).error).toMatchObject({ statusCode: 404 });
    for (const id of ['nope', '00000000-0000-7000-8000-000000000000', "1' or '1'='1"]) {
      expect((await resend.emails.receiving.get(id)).error?.statusCode, id).toBe(404);
    }
    expect((await api(server.url, 'GET', '/v1/emails/receiving/%2e%2e%2f%2e%2e%2fetc%2fpasswd', { key: A.apiKey! })).status).toBe(404);
  });

  it('gives JSON for hostile stored messages, never a 500', async () => {
    const hostile = [
      Buffer.from('From: a@remote.test\r\nSubject: =?x-unknown?B?////?=\r\nContent-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64\u0000\u0000\r\n'),
      Buffer.from(`Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n${Array.from({ length: 300 }, (_, i) => `--b${i}\r\nContent-Type: multipart/mixed; boundary=b${i + 1}\r\n\r\n`).join('')}text\r\n`),
      Buffer.from(`X-Long: ${'a'.repeat(200_000)}\r\nFrom: <>\r\nContent-Type: text/html\r\n\r\n<img src=x onerror=alert(1)><script>alert(2)</script><a href="javascript:alert(3)">x</a>`),
      Buffer.from('no headers at all, just text\r\n'),
    ];
    for (const raw of hostile) {
      const { id } = await appendRaw(core, A.mailbox, raw);
      const r = await api(server.url, 'GET', `/v1/emails/receiving/${id}`, { key: A.apiKey! });
      expect(r.status, raw.subarray(0, 40).toString()).toBe(200);
      expect(r.json.object).toBe('email');
      if (r.json.html_sanitized) {
        expect(r.json.html_sanitized).not.toMatch(/<script|onerror|javascript:/i);
      }
      const atts = await api(server.url, 'GET', `/v1/emails/receiving/${id}/attachments`, { key: A.apiKey! });
      expect(atts.status).toBe(200);
    }
  });
});
