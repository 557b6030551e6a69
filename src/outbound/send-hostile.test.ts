// Hostile input to the send API, answered in Resend's error shape ({ statusCode, name, message })
// and never with a 500: bad addresses, header injection through subject, names and custom
// headers, structural header overrides, NUL bytes, absurd sizes (a 10 KB subject, a body over the
// HTTP limit → 413), bad attachments, SSRF through attachment `path`, and emoji that must survive.
// This node keeps MAILSTACK_WEBHOOK_ALLOW_PRIVATE off and a small body limit (64 KB).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../testkit/server.ts';
import { type SendingWorld, startSendingWorld } from '../testkit/sending.ts';

let w: SendingWorld;
let target: http.Server;
let targetHits = 0;
let targetUrl: string;

beforeAll(async () => {
  w = await startSendingWorld({ env: { MAILSTACK_HTTP_BODY_LIMIT: String(64 * 1024) } });
  await w.verifyDomain('safe.test');
  target = http.createServer((_req, res) => {
    targetHits++;
    res.end('internal secret');
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/secret.txt`;
});
afterAll(async () => {
  await w?.stop();
  await new Promise((r) => target?.close(r));
});

const good = { from: 'hello@safe.test', to: 'r@example.net', subject: 'hi', text: 'x' };

/** POSTs a raw body to /v1/emails and checks the error shape. */
async function refused(body: unknown, status: number, name?: string, path = '/v1/emails') {
  const r = await api(w.server.url, 'POST', path, { key: w.apiKey, body });
  expect(r.status, r.text).toBe(status);
  expect(r.json).toMatchObject({ statusCode: status, ...(name ? { name } : {}) });
  expect(typeof r.json.message).toBe('string');
  return r.json.message as string;
}

async function emailCount() {
  const r = await w.server.platform.core.db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('addresses', () => {
  it('refuses missing and malformed senders with Resend\'s names', async () => {
    await refused({ ...good, from: undefined }, 422, 'missing_required_field');
    for (const from of ['not-an-email', 'a@b', '@safe.test', 'x@safe.test, y@safe.test', 'X <x@safe.test', 'a b@safe.test', 'x@-safe.test', 42]) {
      const m = await refused({ ...good, from }, 422, 'invalid_from_address');
      expect(m).toContain('`from`');
    }
  });

  it('refuses bad recipients, and addresses or names smuggling a header line', async () => {
    await refused({ ...good, to: undefined }, 422, 'missing_required_field');
    await refused({ ...good, to: [] }, 422, 'missing_required_field');
    for (const to of ['nope', 'a@example.net\r\nBcc: evil@attacker.test', 'a@example.net, b@example.net', ['ok@example.net', 'bad'], 'Evil\r\nBcc: x@y.test <a@example.net>', { address: 'a@example.net' }]) {
      await refused({ ...good, to }, 422, 'validation_error');
    }
    await refused({ ...good, cc: 'bad@' }, 422, 'validation_error');
    await refused({ ...good, bcc: ['x@example.net', 'y'] }, 422, 'validation_error');
    await refused({ ...good, reply_to: 'not an address' }, 422, 'validation_error');
    await refused({ ...good, from: 'Evil\nBcc: x@y.test <hello@safe.test>' }, 422, 'invalid_from_address');
  });
});

describe('header injection', () => {
  it('refuses CR or LF in the subject', async () => {
    for (const subject of ['Hi\r\nBcc: evil@attacker.test', 'Hi\nX-Evil: 1', 'Hi\rthere']) {
      expect(await refused({ ...good, subject }, 422, 'validation_error')).toContain('subject');
    }
  });

  it('refuses CR/LF in custom header values, bad names and structural headers', async () => {
    await refused({ ...good, headers: { 'X-Track': 'v\r\nBcc: evil@attacker.test' } }, 422, 'validation_error');
    await refused({ ...good, headers: { 'X-Track': 'v\nSubject: spoof' } }, 422, 'validation_error');
    await refused({ ...good, headers: { 'X-Bad Name': 'v' } }, 422, 'validation_error');
    await refused({ ...good, headers: { 'X-Bad:Name': 'v' } }, 422, 'validation_error');
    await refused({ ...good, headers: { 'X-Bad\r\nBcc': 'v' } }, 422, 'validation_error');
    await refused({ ...good, headers: { 'X-Number': 5 } }, 422, 'validation_error');
    await refused({ ...good, headers: ['X-A: b'] }, 422, 'validation_error');
    for (const name of ['From', 'to', 'BCC', 'Subject', 'Message-ID', 'Date', 'Content-Type', 'MIME-Version', 'Content-Transfer-Encoding', 'DKIM-Signature', 'Return-Path', 'Received', 'Reply-To', 'ARC-Seal']) {
      const m = await refused({ ...good, headers: { [name]: 'x' } }, 422, 'validation_error');
      expect(m).toContain(name);
    }
    await refused({ ...good, headers: { 'X-Dup': 'a', 'x-dup': 'b' } }, 422, 'validation_error');
  });

  it('stores nothing for any of the refused requests above', async () => {
    const before = await emailCount();
    await refused({ ...good, subject: 'a\r\nb' }, 422);
    expect(await emailCount()).toBe(before);
  });
});

describe('sizes, NUL bytes and encodings', () => {
  it('refuses a 10 KB subject with a 422', async () => {
    expect(await refused({ ...good, subject: 's'.repeat(10 * 1024) }, 422, 'validation_error')).toContain('subject');
  });

  it('refuses NUL bytes anywhere in the body', async () => {
    await refused({ ...good, subject: 'a\u0000b' }, 422, 'validation_error');
    await refused({ ...good, text: 'a\u0000b' }, 422, 'validation_error');
    await refused({ ...good, headers: { 'X-A': '\u0000' } }, 422, 'validation_error');
    await refused({ ...good, to: 'a\u0000@example.net' }, 422, 'validation_error');
  });

  it('answers 413 for a body over the HTTP limit (a big attachment), in Resend\'s shape', async () => {
    const big = Buffer.alloc(100 * 1024, 7).toString('base64');
    const r = await api(w.server.url, 'POST', '/v1/emails', { key: w.apiKey, body: { ...good, attachments: [{ filename: 'big.bin', content: big }] } });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ statusCode: 413, name: 'validation_error' });
    const batch = await api(w.server.url, 'POST', '/v1/emails/batch', { key: w.apiKey, body: Array.from({ length: 100 }, () => ({ ...good, html: 'x'.repeat(1000) })) });
    expect(batch.status).toBe(413);
  });

  it('refuses bad JSON, a non-object body, a missing body and unsupported fields', async () => {
    const r = await api(w.server.url, 'POST', '/v1/emails', { key: w.apiKey, raw: '{"from": ' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ statusCode: 400, name: 'validation_error' });
    await refused([good], 422, 'validation_error');
    await refused('just a string', 422, 'validation_error');
    const empty = await api(w.server.url, 'POST', '/v1/emails', { key: w.apiKey, raw: '' });
    expect(empty.status).toBe(422);
    await refused({ ...good, text: undefined }, 422, 'missing_required_field');
    await refused({ ...good, subject: undefined }, 422, 'missing_required_field');
    await refused({ ...good, subject: ['x'] }, 422, 'validation_error');
    await refused({ ...good, html: { a: 1 } }, 422, 'validation_error');
    await refused({ ...good, template: { id: 't' } }, 422, 'validation_error');
  });

  it('refuses bad tags', async () => {
    await refused({ ...good, tags: [{ name: 'has space', value: 'v' }] }, 422, 'validation_error');
    await refused({ ...good, tags: [{ name: 'ok', value: 'é' }] }, 422, 'validation_error');
    await refused({ ...good, tags: [{ name: 'n'.repeat(257), value: 'v' }] }, 422, 'validation_error');
    await refused({ ...good, tags: [{ value: 'v' }] }, 422, 'missing_required_field');
    await refused({ ...good, tags: 'x' }, 422, 'validation_error');
  });

  it('keeps emoji and other scripts intact from request to stored message', async () => {
    const subject = '🚀 Launch — 日本語 — Ελληνικά — emoji 👩‍👩‍👧‍👦';
    const { data, error } = await w.resend.emails.send({
      from: '🦄 Ünïcorn <hello@safe.test>',
      to: '"Ωmega, Ltd." <omega@example.net>',
      subject,
      text: 'Body with emoji 😀 and 中文',
      html: '<p>😀</p>',
    });
    expect(error).toBeNull();
    const raw = await w.rawOf(data!.id);
    const head = raw.toString('utf8').split('\r\n\r\n')[0];
    expect(/[^\x00-\x7f]/.test(head)).toBe(false);
    const parsed = await PostalMime.parse(raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from).toMatchObject({ name: '🦄 Ünïcorn', address: 'hello@safe.test' });
    expect(parsed.to![0]).toMatchObject({ name: 'Ωmega, Ltd.', address: 'omega@example.net' });
    expect(parsed.text?.trim()).toBe('Body with emoji 😀 and 中文');
    expect((await w.resend.emails.get(data!.id)).data).toMatchObject({ subject, from: '🦄 Ünïcorn <hello@safe.test>', to: ['"Ωmega, Ltd." <omega@example.net>'] });
  });
});

describe('attachments', () => {
  it('refuses malformed attachments with invalid_attachment', async () => {
    const cases: unknown[] = [
      [{ filename: 'a.txt', content: 'not base64!!' }],
      [{ filename: 'a.txt' }],
      [{ filename: 'a.txt', content: 'eA==', path: 'https://example.com/a.txt' }],
      [{ content: 'eA==' }],
      [{ filename: '../../etc/passwd', content: 'eA==' }],
      [{ filename: 'a\r\nb.txt', content: 'eA==' }],
      [{ filename: 'a.txt', content: 'eA==', content_type: 'text/plain\r\nX-Evil: 1' }],
      [{ filename: 'a.png', content: 'eA==', content_id: 'x>\r\n<y' }],
      [{ filename: 'a.txt', content: 42 }],
      'not-an-array',
    ];
    for (const attachments of cases) await refused({ ...good, attachments }, 422, 'invalid_attachment');
  });

  it('refuses a path that is not http(s) or that resolves to a private address, without fetching it', async () => {
    await refused({ ...good, attachments: [{ path: 'file:///etc/passwd' }] }, 422, 'invalid_attachment');
    await refused({ ...good, attachments: [{ path: 'gopher://127.0.0.1/' }] }, 422, 'invalid_attachment');
    for (const path of [targetUrl, targetUrl.replace('127.0.0.1', 'localhost'), 'http://[::1]/x.txt', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/x']) {
      const m = await refused({ ...good, attachments: [{ path }] }, 422, 'invalid_attachment');
      expect(m).toMatch(/public addresses|could not be resolved/);
    }
    expect(targetHits).toBe(0);
  });

  it('refuses attachments in a batch', async () => {
    await refused([{ ...good, attachments: [{ filename: 'a.txt', content: 'eA==' }] }], 422, 'validation_error', '/v1/emails/batch');
  });
});

describe('ids and methods', () => {
  it('answers 404 in Resend\'s shape for malformed and unknown ids', async () => {
    for (const id of ['nope', '0190f0f0-0000-7000-8000-000000000000', "1' or '1'='1", '%00', '..%2f..%2fetc']) {
      const r = await api(w.server.url, 'GET', `/v1/emails/${encodeURIComponent(id)}`, { key: w.apiKey });
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ statusCode: 404, name: 'not_found' });
      const c = await api(w.server.url, 'POST', `/v1/emails/${encodeURIComponent(id)}/cancel`, { key: w.apiKey });
      expect(c.status).toBe(404);
      const at = await api(w.server.url, 'GET', `/v1/emails/${encodeURIComponent(id)}/attachments`, { key: w.apiKey });
      expect(at.status).toBe(404);
    }
    const long = await api(w.server.url, 'GET', `/v1/emails/${'x'.repeat(150)}`, { key: w.apiKey });
    expect(long.status).toBe(422);
    expect(long.json).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const dl = await api(w.server.url, 'GET', '/v1/emails/x/attachments/y/content?token=garbage');
    expect(dl.status).toBe(403);
    expect(dl.json).toMatchObject({ statusCode: 403, name: 'invalid_access' });
    const noToken = await api(w.server.url, 'GET', '/v1/emails/x/attachments/y/content');
    expect(noToken.status).toBe(422);
  });

  it('needs an API key', async () => {
    const r = await api(w.server.url, 'POST', '/v1/emails', { body: good });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ statusCode: 401, name: 'missing_api_key' });
  });
});
