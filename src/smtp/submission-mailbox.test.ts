// Submission for mailbox users (issue 5 §4), with nodemailer over real sockets: an inbox address
// and its app password send as itself or its aliases, DKIM-signed by its domain, delivered to a
// loopback remote MX, with a copy in Sent; anything else is refused with 550 5.7.1 and leaves
// nothing behind; API-key AUTH is unchanged beside it.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword, revokeAppPassword } from '../accounts/app-passwords.ts';
import { systemActor } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';
import { type TestMx, freePort, startMx } from '../testkit/remote-mx.ts';
import { blobStore } from '../outbound/accept.ts';
import { type TestMailbox, createTestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { rawSmtp } from '../testkit/submission.ts';
import { runClient } from '../testkit/smtp-senders.ts';

let server: TestServer;
let dns: TestDns;
let mx: TestMx;
let submissionPort = 0;
let submissionsPort = 0;
let box: TestMailbox;
let other: TestMailbox;
let password = '';
let alias = '';

const core = () => server.platform.core;

// smtplib over STARTTLS (the certificate is the node's self-signed one): prints the refusal code and text.
const PY_SUBMIT = `
import smtplib, ssl, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port, timeout=30); s.starttls(context=ctx); s.login(user, pw)
try:
    s.sendmail(user, ['friend@remote.test'], sys.stdin.buffer.read()); print('250 ok')
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()
`;

function transport(user: string, pass: string, secure = false) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: secure ? submissionsPort : submissionPort,
    secure,
    requireTLS: !secure,
    auth: { user, pass },
    tls: { rejectUnauthorized: false },
  });
}

async function send(user: string, pass: string, mail: SendMailOptions, secure = false) {
  const t = transport(user, pass, secure);
  try {
    return await t.sendMail(mail);
  } finally {
    t.close();
  }
}

async function dkimResult(raw: Buffer) {
  const r = dns.resolver();
  const result = await dkimVerify(raw, { resolver: (name: string, type: string) => r.resolve(name, type as any) as any });
  return result.results[0]?.status;
}

/** The messages in the mailbox's Sent folder. */
async function sentOf(mailboxId: string) {
  return core()
    .db.selectFrom('messages')
    .innerJoin('folders', 'folders.id', 'messages.folder_id')
    .selectAll('messages')
    .where('messages.mailbox_id', '=', mailboxId)
    .where('folders.special_use', '=', 'sent')
    .orderBy('messages.uid')
    .execute();
}

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  submissionPort = await freePort();
  submissionsPort = await freePort();
  mx = await startMx('127.0.0.5', mxPort);
  dns.mx('remote.test', 'mx.remote.test', 10);
  dns.a('mx.remote.test', '127.0.0.5');
  server = await startTestServer({
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_MX_PORT: String(mxPort),
      MAILSTACK_SUBMISSION_PORT: String(submissionPort),
      MAILSTACK_SUBMISSIONS_PORT: String(submissionsPort),
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
    },
  });
  box = await createTestMailbox(core(), { dns, name: 'Mia' });
  other = await createTestMailbox(core(), { workspaceId: box.workspaceId, domainName: box.domainName });
  password = (await createAppPassword(core(), systemActor, box.workspaceId, box.mailbox.id, { name: 'laptop' })).password;
  // An alias that delivers to the mailbox (and to the other one: still the mailbox's alias).
  alias = `sales@${box.domainName}`;
  const aliasId = newId();
  const now = Date.now();
  await core().db.insertInto('aliases').values({ id: aliasId, workspace_id: box.workspaceId, domain_id: box.domainId, address: alias, created_at: now, updated_at: now }).execute();
  await core().db.insertInto('alias_targets').values([{ alias_id: aliasId, mailbox_id: box.mailbox.id }, { alias_id: aliasId, mailbox_id: other.mailbox.id }]).execute();
});

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await dns?.close();
});

describe('a mailbox user submitting', () => {
  it('sends as itself: delivered DKIM-signed by its domain, with the same message in Sent (\\Seen, outbound, email id)', async () => {
    const info = await send(box.mailbox.address, password, { from: `Mia <${box.mailbox.address}>`, to: 'friend@remote.test', subject: 'From my mail client', text: 'Hello from Thunderbird' });
    expect(info.response).toMatch(/^250 2\.6\.0 Queued as /);
    const emailId = info.response.split(' ').pop()!;
    const delivered = await waitFor('delivery at the remote MX', () => mx.messages.find((m) => m.raw.toString().includes('Subject: From my mail client')), 20_000);
    expect(delivered.to).toEqual(['friend@remote.test']);
    const dkim = await dkimResult(delivered.raw);
    expect(dkim?.result).toBe('pass');
    const sent = await sentOf(box.mailbox.id);
    const copy = sent.find((m) => m.email_id === emailId);
    expect(copy).toMatchObject({ direction: 'outbound', seen: 1, subject: 'From my mail client', from_address: box.mailbox.address });
    // The copy is the signed message as it left.
    const stored = await blobStore(core()).get(copy!.blob_id);
    expect(stored.toString()).toContain('DKIM-Signature:');
    expect(delivered.raw.toString('latin1').endsWith(stored.toString('latin1'))).toBe(true);
    const email = await core().db.selectFrom('emails').selectAll().where('id', '=', emailId).executeTakeFirstOrThrow();
    expect(email).toMatchObject({ from_address: box.mailbox.address, source: 'smtp', api_key_id: null, raw_blob: copy!.blob_id });
  });

  it('sends as one of its aliases over implicit TLS, and that lands in Sent too', async () => {
    const info = await send(box.mailbox.address.toUpperCase(), password, { from: alias, to: 'friend@remote.test', subject: 'As the alias', text: 'Sales here' }, true);
    expect(info.response).toMatch(/^250 /);
    const delivered = await waitFor('alias delivery', () => mx.messages.find((m) => m.raw.toString().includes('Subject: As the alias')), 20_000);
    expect((await dkimResult(delivered.raw))?.result).toBe('pass');
    expect((await sentOf(box.mailbox.id)).some((m) => m.subject === 'As the alias')).toBe(true);
    // The alias's other target did not get a Sent copy.
    expect(await sentOf(other.mailbox.id)).toEqual([]);
  });

  it('refuses to send as anyone else with 550 5.7.1, storing and queueing nothing', async () => {
    const emailsBefore = await core().db.selectFrom('emails').select('id').execute();
    const sentBefore = (await sentOf(box.mailbox.id)).length;
    const cases: SendMailOptions[] = [
      // Envelope and header as another mailbox of the same domain.
      { from: other.mailbox.address, to: 'friend@remote.test', subject: 'x', text: 'x' },
      // Own envelope, someone else's From.
      { envelope: { from: box.mailbox.address, to: 'friend@remote.test' }, from: `ceo@${box.domainName}`, to: 'friend@remote.test', subject: 'x', text: 'x' },
      // Someone else's envelope, own From.
      { envelope: { from: `ceo@${box.domainName}`, to: 'friend@remote.test' }, from: box.mailbox.address, to: 'friend@remote.test', subject: 'x', text: 'x' },
      // A From field with two addresses, one of them not ours.
      { envelope: { from: box.mailbox.address, to: 'friend@remote.test' }, from: [box.mailbox.address, 'boss@elsewhere.example'] as any, to: 'friend@remote.test', subject: 'x', text: 'x' },
      // Another domain entirely.
      { from: 'someone@gmail.example', to: 'friend@remote.test', subject: 'x', text: 'x' },
    ];
    for (const mail of cases) {
      const err = await send(box.mailbox.address, password, mail).then(() => null, (e) => e);
      expect(err?.responseCode).toBe(550);
      expect(err.response).toMatch(/^550 5\.7\.1 .*may send only as/);
    }
    expect(await core().db.selectFrom('emails').select('id').execute()).toEqual(emailsBefore);
    expect((await sentOf(box.mailbox.id)).length).toBe(sentBefore);
  });

  it('holds Sender, Resent-From and Resent-Sender to the same rule as From (issue 9)', async () => {
    const emailsBefore = (await core().db.selectFrom('emails').select('id').execute()).length;
    const base = { from: box.mailbox.address, to: 'friend@remote.test', text: 'x' };
    const refused: [string, SendMailOptions][] = [
      ['Sender', { ...base, subject: 'sender boss', sender: `boss@${box.domainName}` }],
      ['Sender', { ...base, subject: 'sender outside', sender: 'boss@elsewhere.example' }],
      ['Resent-From', { ...base, subject: 'resent-from', headers: { 'Resent-From': `ceo@${box.domainName}` } }],
      ['Resent-Sender', { ...base, subject: 'resent-sender', headers: { 'Resent-Sender': other.mailbox.address } }],
      ['Resent-From', { ...base, subject: 'resent-from list', headers: { 'Resent-From': `${box.mailbox.address}, boss@elsewhere.example` } }],
    ];
    for (const [label, mail] of refused) {
      const err = await send(box.mailbox.address, password, mail).then(() => null, (e) => e);
      expect(err?.responseCode, mail.subject as string).toBe(550);
      expect(err.response).toMatch(new RegExp(`^550 5\\.7\\.1 ${label} address .* is not yours`));
    }
    expect((await core().db.selectFrom('emails').select('id').execute()).length).toBe(emailsBefore);
    // Its own alias in Sender and its own address in Resent-From are fine.
    const info = await send(box.mailbox.address, password, { ...base, subject: 'sender ok', sender: alias, headers: { 'Resent-From': box.mailbox.address } });
    expect(info.response).toMatch(/^250 /);
    // Python's smtplib, raw header lines: the same refusal.
    const raw = `From: ${box.mailbox.address}\r\nSender: boss@${box.domainName}\r\nTo: friend@remote.test\r\nSubject: py\r\n\r\nx\r\n`;
    const py = await runClient('python3', ['-c', PY_SUBMIT, String(submissionPort), box.mailbox.address, password], raw);
    expect(py.stdout.trim(), py.stderr).toMatch(/^550 .*Sender address/);
  });

  it('refuses a wrong or revoked app password with 535 5.7.8, and a password revoked mid-session', async () => {
    for (const pass of ['wrong-password', password.replace(/^..../, 'aaaa')]) {
      const err = await send(box.mailbox.address, pass, { from: box.mailbox.address, to: 'friend@remote.test', subject: 'x', text: 'x' }).catch((e) => e);
      expect(err.responseCode).toBe(535);
      expect(err.response).toMatch(/^535 5\.7\.8 /);
    }
    // Another mailbox's address with this mailbox's password.
    const err = await send(other.mailbox.address, password, { from: other.mailbox.address, to: 'friend@remote.test', subject: 'x', text: 'x' }).catch((e) => e);
    expect(err.responseCode).toBe(535);

    const temp = await createAppPassword(core(), systemActor, box.workspaceId, box.mailbox.id, { name: 'temp' });
    const s = await rawSmtp(submissionsPort, 'implicit');
    await s.cmd('EHLO client.test');
    expect((await s.auth(temp.password, box.mailbox.address)).code).toBe(235);
    await revokeAppPassword(core(), systemActor, box.workspaceId, box.mailbox.id, temp.id);
    expect((await s.cmd(`MAIL FROM:<${box.mailbox.address}>`)).text).toMatch(/^535 5\.7\.8 /);
    s.close();
    const after = await send(box.mailbox.address, temp.password, { from: box.mailbox.address, to: 'friend@remote.test', subject: 'x', text: 'x' }).catch((e) => e);
    expect(after.responseCode).toBe(535);
    await core().db.deleteFrom('login_throttle').execute();
  });

  it('leaves API-key AUTH as it was: any sender of the verified domain, no Sent copy', async () => {
    const sentBefore = (await sentOf(box.mailbox.id)).length;
    const info = await send('resend', box.apiKey!, { from: `ceo@${box.domainName}`, to: 'friend@remote.test', subject: 'Via the API key', text: 'k' });
    expect(info.response).toMatch(/^250 /);
    await waitFor('key delivery', () => mx.messages.find((m) => m.raw.toString().includes('Subject: Via the API key')), 20_000);
    expect((await sentOf(box.mailbox.id)).length).toBe(sentBefore);
    const err = await send('resend', 'ms_not-a-key', { from: `ceo@${box.domainName}`, to: 'friend@remote.test', subject: 'x', text: 'x' }).catch((e) => e);
    expect(err.response).toMatch(/^535 5\.7\.8 .*API key/);
    // With a key, a Sender (or Resent-*) must be in a verified domain of the workspace, as From.
    const foreign = await send('resend', box.apiKey!, { from: `ceo@${box.domainName}`, sender: 'boss@unverified.example', to: 'friend@remote.test', subject: 'x', text: 'x' }).catch((e) => e);
    expect(foreign.response).toMatch(/^550 5\.7\.1 Sender header domain unverified\.example is not a verified domain/);
    const ok = await send('resend', box.apiKey!, { from: `ceo@${box.domainName}`, sender: `assistant@${box.domainName}`, to: 'friend@remote.test', subject: 'sender in domain', text: 'k' });
    expect(ok.response).toMatch(/^250 /);
  });
});
