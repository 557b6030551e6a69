// End to end through the MX with real clients: a message DKIM-signed by a domain whose key is in
// the loopback DNS is stored with dkim=pass in its Authentication-Results header and in
// messages.auth_json; the same message with its body changed is stored with dkim=fail; a DMARC
// failure under p=reject is refused with 550 5.7.1; forged Authentication-Results of our
// authserv-id never reach the mailbox (RFC 8601 §5).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dkimSign } from 'mailauth';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { sendWithPython, sendWithSwaks, storedMessages } from '../testkit/smtp-senders.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { freePort } from '../testkit/smtp-client.ts';

const HOST = 'mx.mailstack.test';
const SENDER = 'sender-signed.test';
const STRICT = 'strict-sender.test';

let server: TestServer;
let dns: TestDns;
let port: number;
let mailbox: Mailbox;
let privateKey: string;
let ca: Buffer;

beforeAll(async () => {
  dns = await startTestDns();
  port = await freePort();
  server = await startTestServer({
    env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_HOSTNAME: HOST, MAILSTACK_WORKER_CONCURRENCY: '0' },
  });
  mailbox = (await createTestMailbox(server.platform.core, { address: 'bob@hosted-auth.example.com' })).mailbox;
  ca = readFileSync(path.join(server.db.dataDir, 'tls', 'self-signed.crt'));

  // The sending domain: its DKIM key, SPF allowing loopback (where the test clients connect
  // from), DMARC p=reject.
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  dns.txt(`mail2025._domainkey.${SENDER}`, `v=DKIM1; k=rsa; p=${pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`);
  dns.txt(SENDER, 'v=spf1 ip4:127.0.0.1 -all');
  dns.txt(`_dmarc.${SENDER}`, 'v=DMARC1; p=reject');
  // A domain that allows nobody to send and rejects what fails.
  dns.txt(STRICT, 'v=spf1 -all');
  dns.txt(`_dmarc.${STRICT}`, 'v=DMARC1; p=reject');
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await dns?.close();
});

const core = () => server.platform.core;

/** The header section of a stored message. */
const headOf = (raw: Buffer) => raw.toString('utf8').split('\r\n\r\n')[0];

async function newest() {
  const all = await storedMessages(core(), mailbox.id);
  return all.at(-1)!;
}

describe('authentication results through the MX', () => {
  it('stores a message DKIM-signed by nodemailer with dkim=pass, spf=pass, dmarc=pass', async () => {
    const before = (await storedMessages(core(), mailbox.id)).length;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      tls: { ca, servername: HOST },
      name: `mail.${SENDER}`,
      dkim: { domainName: SENDER, keySelector: 'mail2025', privateKey },
    });
    const info = await transport.sendMail({ envelope: { from: `bounces@${SENDER}`, to: [mailbox.address] }, from: `Alice <alice@${SENDER}>`, to: mailbox.address, subject: 'Signed', text: 'This one is signed.' });
    transport.close();
    expect(info.response).toMatch(/^250 2\.0\.0 /);

    const all = await storedMessages(core(), mailbox.id);
    expect(all).toHaveLength(before + 1);
    const stored = all.at(-1)!;
    const head = headOf(stored.raw);
    // Exactly one Authentication-Results, ours, below our Received.
    expect(head.match(/^Authentication-Results:/gim)).toHaveLength(1);
    expect(head).toMatch(new RegExp(`Authentication-Results: ${HOST.replace(/\./g, '\\.')};\\r\\n spf=pass [^\\r]*smtp\\.mailfrom=bounces@${SENDER}`));
    expect(head).toMatch(new RegExp(`\\r\\n dkim=pass header\\.d=${SENDER} header\\.i=@${SENDER} header\\.s=mail2025 header\\.a=rsa-sha256`));
    expect(head).toMatch(new RegExp(`\\r\\n dmarc=pass [^\\r]*header\\.from=${SENDER}`));
    const auth = JSON.parse(stored.auth_json!);
    expect(auth).toMatchObject({ spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    expect(auth.details.dkim).toEqual([expect.objectContaining({ result: 'pass', domain: SENDER, selector: 'mail2025' })]);
  });

  it('stores the same message with its body changed in transit with dkim=fail', async () => {
    const original = Buffer.from(`From: Alice <alice@${SENDER}>\r\nTo: ${mailbox.address}\r\nSubject: Invoice\r\nDate: Tue, 1 Apr 2025 10:00:00 +0000\r\nMessage-ID: <forged-1@${SENDER}>\r\n\r\nPlease pay to account 1111.\r\n`);
    const options = { signatureData: [{ signingDomain: SENDER, selector: 'mail2025', privateKey }] };
    const signed = await dkimSign(original, options as unknown as Parameters<typeof dkimSign>[1]);
    const forged = Buffer.from(Buffer.concat([Buffer.from(signed.signatures), original]).toString().replace('account 1111', 'account 6666'));
    // With a MAIL FROM in another domain nothing aligns with From: DMARC fails under the sender
    // domain's p=reject, and the forgery is refused.
    const r = await sendWithPython(port, { from: 'relay@elsewhere.test', to: [mailbox.address] }, forged);
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/^5\.7\.1 /);

    // With the sender domain's own MAIL FROM from an address its SPF lists, DMARC passes through
    // SPF: the message is stored, and its broken signature is recorded as dkim=fail.
    const lax = await createTestMailbox(core(), { workspaceId: mailbox.workspace_id, address: 'carol@hosted-auth.example.com' });
    const laxRaw = Buffer.from(forged.toString().replace(`To: ${mailbox.address}`, `To: ${lax.mailbox.address}`));
    const ok = await sendWithPython(port, { from: `bounces@${SENDER}`, to: [lax.mailbox.address] }, laxRaw);
    expect(ok.code).toBe(250);
    const stored = (await storedMessages(core(), lax.mailbox.id)).at(-1)!;
    const head = headOf(stored.raw);
    expect(head).toMatch(new RegExp(`\\r\\n dkim=fail \\(body hash did not verify\\) header\\.d=${SENDER}`));
    expect(head).toMatch(/\r\n spf=pass /);
    expect(head).toMatch(/\r\n dmarc=pass /);
    expect(JSON.parse(stored.auth_json!)).toMatchObject({ dkim: 'fail', spf: 'pass' });
    expect(stored.raw.toString()).toContain('account 6666');
  });

  it('refuses a DMARC failure under p=reject with 550 5.7.1 (swaks), and stores nothing', async () => {
    const before = (await storedMessages(core(), mailbox.id)).length;
    const raw = Buffer.from(`From: The CEO <ceo@${STRICT}>\r\nTo: ${mailbox.address}\r\nSubject: Wire transfer\r\n\r\nDo it now.\r\n`);
    const r = await sendWithSwaks(port, { from: `ceo@${STRICT}`, to: [mailbox.address] }, raw);
    expect(r.code).toBe(550);
    expect(r.transcript).toMatch(/<\*\*\s+550 5\.7\.1 (?![245]\.\d)\S/);
    expect(await storedMessages(core(), mailbox.id)).toHaveLength(before);
  });

  it('removes forged Authentication-Results of our authserv-id; keeps other hosts\' ones', async () => {
    const raw = Buffer.from(
      `Authentication-Results: ${HOST}; dkim=pass header.d=bank.test; spf=pass\r\nAuthentication-Results: mx.other.test; spf=neutral\r\nFrom: x@no-records.test\r\nTo: ${mailbox.address}\r\nSubject: trust me\r\n\r\nhello\r\n`,
    );
    const r = await sendWithPython(port, { from: 'x@no-records.test', to: [mailbox.address] }, raw);
    expect(r.code).toBe(250);
    const stored = await newest();
    const head = headOf(stored.raw);
    const ours = head.split(/\r\n(?![ \t])/).filter((f) => /^Authentication-Results:/i.test(f));
    expect(ours).toHaveLength(2);
    expect(ours[0]).toMatch(new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, '\\.')};\\r\\n spf=none`));
    expect(ours[0]).toContain('dkim=none');
    expect(ours[1]).toBe('Authentication-Results: mx.other.test; spf=neutral');
    expect(head).not.toContain('header.d=bank.test');
    expect(JSON.parse(stored.auth_json!)).toMatchObject({ spf: 'none', dkim: 'none', dmarc: 'none' });
  });
});
