// The SMTP relay over real sockets: nodemailer (STARTTLS and implicit TLS), Python's smtplib, and a
// line-level client for what libraries will not send. Delivery is off; what is checked is what the
// relay stored and queued, and what it answered.
import { spawn } from 'node:child_process';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobStore } from '../outbound/accept.ts';
import { type RelayNode, rawSmtp, startRelayNode } from '../testkit/submission.ts';

let node: RelayNode;
const MAX_BYTES = 64 * 1024;

beforeAll(async () => {
  node = await startRelayNode({ MAILSTACK_MAX_RECIPIENTS: '5', MAILSTACK_MAX_MESSAGE_BYTES: String(MAX_BYTES) });
  await node.verifiedDomain('acme.example');
  await node.verifiedDomain('other.example');
}, 60_000);
afterAll(async () => {
  await node?.stop();
});

const core = () => node.server.platform.core;

function transport(opts: { secure: boolean; key?: string; user?: string }) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: opts.secure ? node.submissionsPort : node.submissionPort,
    secure: opts.secure,
    requireTLS: !opts.secure,
    auth: { user: opts.user ?? 'resend', pass: opts.key ?? node.apiKey },
    tls: { rejectUnauthorized: false },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
}

/** The email row a relay answer names ("250 2.6.0 Queued as <id>"). */
async function emailOf(response: string) {
  const id = /Queued as ([0-9a-f-]{36})/.exec(response)?.[1];
  expect(id, response).toBeTruthy();
  const db = core().db;
  const email = await db.selectFrom('emails').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();
  const recipients = await db.selectFrom('email_recipients').selectAll().where('email_id', '=', id!).orderBy('address').execute();
  const raw = (await blobStore(core()).get(email.raw_blob!)).toString('latin1');
  return { email, recipients, raw };
}

describe('SMTP relay with a good key', () => {
  it('accepts a message over STARTTLS (587), signs it with DKIM, stores rows and queues delivery', async () => {
    const info = await transport({ secure: false }).sendMail({
      from: 'Acme Billing <billing@acme.example>',
      to: ['alice@example.net', 'Bob <bob@example.org>'],
      cc: 'carol@example.com',
      bcc: 'dave@example.com',
      subject: 'Your invoice',
      text: 'Plain body',
      html: '<p>HTML body</p>',
      attachments: [{ filename: 'invoice.txt', content: 'invoice bytes', contentType: 'text/plain' }],
    });
    expect(info.response).toMatch(/^250 2\.6\.0 Queued as /);
    expect(info.rejected).toEqual([]);
    const { email, recipients, raw } = await emailOf(info.response);

    expect(email).toMatchObject({
      workspace_id: node.workspaceId,
      source: 'smtp',
      from_address: 'billing@acme.example',
      from_header: 'Acme Billing <billing@acme.example>',
      subject: 'Your invoice',
      last_event: 'sent',
    });
    expect(email.html?.trim()).toBe('<p>HTML body</p>');
    expect(email.text?.trim()).toBe('Plain body');
    expect(JSON.parse(email.to_json)).toEqual(['alice@example.net', 'bob@example.org']);
    expect(JSON.parse(email.cc_json)).toEqual(['carol@example.com']);
    expect(JSON.parse(email.bcc_json)).toEqual(['dave@example.com']);
    const [attachment] = JSON.parse(email.attachments_json);
    expect(attachment).toMatchObject({ filename: 'invoice.txt', content_type: 'text/plain', size: 13 });
    expect((await blobStore(core()).get(attachment.blob_id)).toString()).toBe('invoice bytes');

    expect(recipients.map((r) => [r.address, r.kind, r.status])).toEqual([
      ['alice@example.net', 'to', 'sent'],
      ['bob@example.org', 'to', 'sent'],
      ['carol@example.com', 'cc', 'sent'],
      ['dave@example.com', 'bcc', 'sent'],
    ]);
    const jobs = await core().db.selectFrom('jobs').select(['payload']).where('kind', '=', 'outbound.deliver').execute();
    for (const r of recipients) expect(jobs.some((j) => JSON.parse(j.payload).recipientId === r.id)).toBe(true);

    // Bcc is gone from what recipients will see; the message is signed by acme.example's key.
    expect(raw).not.toMatch(/^bcc:/im);
    expect(raw).not.toContain('dave@example.com');
    expect(raw).toMatch(/^Received: by mx\.mailstack\.test \(Mailstack\) with ESMTPSA/m);
    const r = node.dns.resolver();
    const verdict = await dkimVerify(raw, { resolver: (name: string, type: string) => r.resolve(name, type as any) as any });
    expect(verdict.results[0]).toMatchObject({ signingDomain: 'acme.example', status: { result: 'pass' } });
  });

  it('accepts a message over implicit TLS (465, RFC 8314) and adds Message-ID and Date when missing', async () => {
    const s = await rawSmtp(node.submissionsPort, 'implicit');
    expect(s.greeting.code).toBe(220);
    const ehlo = await s.cmd('EHLO client.test');
    expect(ehlo.lines).toContain('AUTH PLAIN LOGIN');
    expect(ehlo.lines).not.toContain('STARTTLS');
    expect((await s.auth(node.apiKey)).code).toBe(235);
    expect((await s.cmd('MAIL FROM:<app@acme.example>')).code).toBe(250);
    expect((await s.cmd('RCPT TO:<erin@example.net>')).code).toBe(250);
    expect((await s.cmd('DATA')).code).toBe(354);
    const done = await s.send('From: app@acme.example\r\nTo: erin@example.net\r\nSubject: bare\r\n\r\nNo id, no date.\r\n.\r\n');
    expect(done.code).toBe(250);
    s.close();
    const { email, raw } = await emailOf(done.text);
    expect(email.message_id).toMatch(/^<[0-9a-f-]{36}@acme\.example>$/);
    expect(raw).toContain(`Message-ID: ${email.message_id}`);
    expect(raw).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/m);
  });

  it("accepts a message from Python's smtplib (starttls, login, sendmail)", async () => {
    const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', ${node.submissionPort}, timeout=20)
s.ehlo()
assert not s.has_extn('auth'), 'AUTH offered before TLS'
s.starttls(context=ctx)
s.ehlo()
assert s.has_extn('auth')
s.login('resend', sys.argv[1])
msg = 'From: Py <py@acme.example>\\r\\nTo: frank@example.net\\r\\nSubject: from python\\r\\nMessage-ID: <py-1@acme.example>\\r\\n\\r\\nhello from smtplib\\r\\n'
refused = s.sendmail('py@acme.example', ['frank@example.net'], msg)
print('refused', refused)
s.quit()
`;
    // Asynchronously: the node answering it runs in this process.
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('python3', ['-c', script, node.apiKey], { timeout: 30_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('error', reject);
      child.once('close', () => resolve({ stdout, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('refused {}');
    const email = await core().db.selectFrom('emails').selectAll().where('message_id', '=', '<py-1@acme.example>').executeTakeFirstOrThrow();
    expect(email).toMatchObject({ subject: 'from python', from_address: 'py@acme.example', source: 'smtp' });
    expect(email.text).toContain('hello from smtplib');
  });
});

describe('SMTP relay refusals', () => {
  it('answers a wrong key with 535 5.7.8', async () => {
    const err = await transport({ secure: false, key: 'ms_not-a-real-key' }).sendMail({ from: 'a@acme.example', to: 'x@example.net', subject: 's', text: 't' }).catch((e) => e);
    expect(err.responseCode).toBe(535);
    expect(err.response).toMatch(/^535 5\.7\.8 /);
  });

  it('offers and accepts AUTH only after STARTTLS, and no mail before AUTH', async () => {
    const s = await rawSmtp(node.submissionPort, 'plain');
    const ehlo = await s.cmd('EHLO client.test');
    expect(ehlo.lines).toContain('STARTTLS');
    expect(ehlo.lines.some((l) => l.startsWith('AUTH'))).toBe(false);
    const auth = await s.auth(node.apiKey);
    expect(auth.code).toBe(538);
    const mail = await s.cmd('MAIL FROM:<a@acme.example>');
    expect(mail.code).toBe(530);
    expect((await s.cmd('STARTTLS')).code).toBe(220);
    await s.starttls();
    const after = await s.cmd('EHLO client.test');
    expect(after.lines).toContain('AUTH PLAIN LOGIN');
    expect((await s.cmd('MAIL FROM:<a@acme.example>')).code).toBe(530);
    expect((await s.auth(node.apiKey)).code).toBe(235);
    expect((await s.cmd('MAIL FROM:<a@acme.example>')).code).toBe(250);
    s.close();
  });

  it('refuses a sender domain that is not verified in the workspace with 550 5.7.1', async () => {
    const err = await transport({ secure: true }).sendMail({ from: 'a@unverified.example', to: 'x@example.net', subject: 's', text: 't' }).catch((e) => e);
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/^550 5\.7\.1 Sender domain unverified\.example is not a verified domain/);
    // And a From header on an unverified domain under a verified envelope.
    const s = await rawSmtp(node.submissionsPort, 'implicit');
    await s.cmd('EHLO client.test');
    await s.auth(node.apiKey);
    await s.cmd('MAIL FROM:<a@acme.example>');
    await s.cmd('RCPT TO:<x@example.net>');
    await s.cmd('DATA');
    const r = await s.send('From: boss@unverified.example\r\nTo: x@example.net\r\nSubject: spoof\r\n\r\nbody\r\n.\r\n');
    expect(r.text).toMatch(/^550 5\.7\.1 From header domain unverified\.example is not a verified domain/);
    s.close();
  });

  it('holds a sending_access key limited to one domain to that domain', async () => {
    const domains = (await node.server.resend(node.apiKey).domains.list()).data!.data;
    const acme = domains.find((d) => d.name === 'acme.example')!;
    const created = await node.server.resend(node.apiKey).apiKeys.create({ name: 'acme only', permission: 'sending_access', domain_id: acme.id });
    const key = created.data!.token;
    const err = await transport({ secure: true, key }).sendMail({ from: 'a@other.example', to: 'x@example.net', subject: 's', text: 't' }).catch((e) => e);
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/^550 5\.7\.1 This API key may only send from its own domain, not other\.example/);
    const ok = await transport({ secure: true, key }).sendMail({ from: 'a@acme.example', to: 'x@example.net', subject: 's', text: 't' });
    expect(ok.response).toMatch(/^250 /);
    const { email } = await emailOf(ok.response);
    expect(email.api_key_id).toBe(created.data!.id);
  });

  it('answers a recipient over the limit with 452 4.5.3 and sends to the accepted ones', async () => {
    const s = await rawSmtp(node.submissionsPort, 'implicit');
    await s.cmd('EHLO client.test');
    await s.auth(node.apiKey);
    await s.cmd('MAIL FROM:<a@acme.example>');
    for (const n of [1, 2, 3, 4, 5]) expect((await s.cmd(`RCPT TO:<r${n}@example.net>`)).code).toBe(250);
    const sixth = await s.cmd('RCPT TO:<r6@example.net>');
    expect(sixth.text).toMatch(/^452 4\.5\.3 Too many recipients: at most 5 per message/);
    // The same address again is not a new recipient.
    expect((await s.cmd('RCPT TO:<R1@example.net>')).code).toBe(250);
    await s.cmd('DATA');
    const done = await s.send('From: a@acme.example\r\nTo: r1@example.net\r\nSubject: many\r\n\r\nbody\r\n.\r\n');
    expect(done.code).toBe(250);
    s.close();
    const { recipients } = await emailOf(done.text);
    expect(recipients.map((r) => [r.address, r.kind])).toEqual([
      ['r1@example.net', 'to'],
      ['r2@example.net', 'bcc'],
      ['r3@example.net', 'bcc'],
      ['r4@example.net', 'bcc'],
      ['r5@example.net', 'bcc'],
    ]);
  });

  it('announces SIZE and refuses a larger message with 552, storing nothing', async () => {
    const before = await core().db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const s = await rawSmtp(node.submissionsPort, 'implicit');
    const ehlo = await s.cmd('EHLO client.test');
    expect(ehlo.lines).toContain(`SIZE ${MAX_BYTES}`);
    await s.auth(node.apiKey);
    expect((await s.cmd(`MAIL FROM:<a@acme.example> SIZE=${MAX_BYTES + 1}`)).code).toBe(552);
    // Without a declared size, the DATA itself is measured.
    expect((await s.cmd('MAIL FROM:<a@acme.example>')).code).toBe(250);
    await s.cmd('RCPT TO:<x@example.net>');
    await s.cmd('DATA');
    const line = 'x'.repeat(76) + '\r\n';
    const big = 'From: a@acme.example\r\nTo: x@example.net\r\nSubject: big\r\n\r\n' + line.repeat(Math.ceil((MAX_BYTES * 1.5) / line.length)) + '.\r\n';
    const r = await s.send(big);
    expect(r.code).toBe(552);
    expect((await s.cmd('NOOP')).code).toBe(250);
    s.close();
    const after = await core().db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});

describe('hostile DATA', () => {
  async function session() {
    const s = await rawSmtp(node.submissionsPort, 'implicit');
    await s.cmd('EHLO client.test');
    expect((await s.auth(node.apiKey)).code).toBe(235);
    return s;
  }
  async function submit(s: Awaited<ReturnType<typeof session>>, data: string | Buffer) {
    expect((await s.cmd('MAIL FROM:<a@acme.example>')).code).toBe(250);
    expect((await s.cmd('RCPT TO:<x@example.net>')).code).toBe(250);
    expect((await s.cmd('DATA')).code).toBe(354);
    return s.send(data);
  }

  it('refuses NUL bytes with 554 5.6.0 and keeps the session usable', async () => {
    const s = await session();
    const r = await submit(s, Buffer.from('From: a@acme.example\r\nTo: x@example.net\r\nSubject: nul\0here\r\n\r\nbody\0\r\n.\r\n', 'latin1'));
    expect(r.text).toMatch(/^554 5\.6\.0 The message contains NUL bytes/);
    expect((await s.cmd('NOOP')).code).toBe(250);
    s.close();
  });

  it('turns bare LF and bare CR line ends into CRLF', async () => {
    const s = await session();
    const r = await submit(s, 'From: a@acme.example\nTo: x@example.net\nSubject: bare lf\n\nline one\nline two\rline three\r\n.\r\n');
    expect(r.code).toBe(250);
    s.close();
    const { email, raw } = await emailOf(r.text);
    expect(email.subject).toBe('bare lf');
    expect(raw).toContain('line one\r\nline two\r\nline three\r\n');
    expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('refuses a message with no From or two From fields, and one whose From holds no address', async () => {
    const s = await session();
    expect((await submit(s, 'To: x@example.net\r\nSubject: none\r\n\r\nbody\r\n.\r\n')).text).toMatch(/^554 5\.6\.0 .*exactly one From/);
    expect((await submit(s, 'From: a@acme.example\r\nFrom: b@acme.example\r\nSubject: two\r\n\r\nbody\r\n.\r\n')).text).toMatch(/^554 5\.6\.0 .*it has 2/);
    expect((await submit(s, 'From: undisclosed-recipients:;\r\nSubject: group\r\n\r\nbody\r\n.\r\n')).text).toMatch(/^554 5\.6\.0 The From header field must hold one address/);
    expect((await s.cmd('NOOP')).code).toBe(250);
    s.close();
  });

  it('survives header injection attempts, junk headers and a header-only message', async () => {
    const s = await session();
    // An encoded subject that decodes to a line break and a Bcc header stays one subject.
    const injected = await submit(s, 'From: a@acme.example\r\nTo: x@example.net\r\nSubject: =?UTF-8?B?aGkNCkJjYzogZXZpbEBleGFtcGxlLmNvbQ==?=\r\nX-Junk line without colon\r\n: empty name\r\n\r\nbody\r\n.\r\n');
    expect(injected.code).toBe(250);
    const first = await emailOf(injected.text);
    expect(first.recipients.map((r) => r.address)).toEqual(['x@example.net']);
    expect(first.raw).not.toMatch(/^Bcc:/im);
    // No blank line at all: everything is header.
    const headerOnly = await submit(s, 'From: a@acme.example\r\nTo: x@example.net\r\nSubject: header only\r\n.\r\n');
    expect(headerOnly.code).toBe(250);
    expect((await emailOf(headerOnly.text)).email.subject).toBe('header only');
    // A very long folded header and 8-bit bytes in a header.
    const long = 'X-Long: ' + Array.from({ length: 500 }, (_, i) => `word${i}`).join('\r\n ') + '\r\n';
    const odd = await submit(s, Buffer.from(`From: a@acme.example\r\nTo: x@example.net\r\n${long}Subject: caf\xe9 \xff\r\n\r\nbody\r\n.\r\n`, 'latin1'));
    expect(odd.code).toBe(250);
    expect((await s.cmd('NOOP')).code).toBe(250);
    s.close();
  });

  it('refuses the null sender and addresses without a domain', async () => {
    const s = await session();
    expect((await s.cmd('MAIL FROM:<>')).text).toMatch(/^550 5\.7\.1 /);
    // smtp-server refuses an address without a domain itself (501); ours would be 553.
    expect((await s.cmd('MAIL FROM:<nodomain>')).text).toMatch(/^5(01|53) /);
    expect((await s.cmd('MAIL FROM:<a@acme.example>')).code).toBe(250);
    expect((await s.cmd('RCPT TO:<nodomain>')).text).toMatch(/^5(01|53) /);
    s.close();
  });
});
