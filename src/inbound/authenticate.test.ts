// SPF, DKIM, DMARC and ARC checks through a real DNS server on loopback (dns2): signed and
// forged messages, listed and unlisted client addresses, DMARC p=reject with the setting on and
// off, a domain with no records, a DNS server that never answers, and the removal of forged
// Authentication-Results headers (RFC 8601 §5), including hostile header sections.
import { generateKeyPairSync } from 'node:crypto';
import dgram from 'node:dgram';
import pino from 'pino';
import { authenticate, dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../config/settings.ts';
import type { Core } from '../core/core.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { openCore } from '../platform.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';
import { authenticateMessage, removeForgedResults } from './authenticate.ts';

const HOST = 'mx.mailstack.test';
const SIGNED = 'signed-domain.test';
const GOOD_IP = '192.0.2.10';
const BAD_IP = '198.51.100.99';

let dns: TestDns;
let db: TestDatabase;
let core: Core;
let env: Record<string, string>;
let privateKey: string;

beforeAll(async () => {
  dns = await startTestDns();
  db = await createTestDatabase();
  env = { MAILSTACK_DATA_DIR: db.dataDir, MAILSTACK_DATABASE_URL: db.url, MAILSTACK_HOSTNAME: HOST, MAILSTACK_DNS_SERVERS: dns.address };
  core = await openCore(loadSettings(env), pino({ level: 'silent' }));
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  dns.txt(`sel1._domainkey.${SIGNED}`, `v=DKIM1; k=rsa; p=${publicKey}`);
  dns.txt(SIGNED, `v=spf1 ip4:${GOOD_IP} -all`);
  dns.txt(`_dmarc.${SIGNED}`, 'v=DMARC1; p=reject; rua=mailto:dmarc@signed-domain.test');
  dns.a(`mail.${SIGNED}`, GOOD_IP);
}, 60_000);

afterAll(async () => {
  await core?.store.close();
  await db?.drop();
  await dns?.close();
});

function message(from = `Alice <alice@${SIGNED}>`, body = 'Hello Bob,\r\nthe figures are attached.\r\n') {
  return Buffer.from(
    [`From: ${from}`, 'To: bob@hosted.test', 'Subject: Quarterly figures', `Message-ID: <m${Math.random().toString(36).slice(2)}@${SIGNED}>`, 'Date: Tue, 1 Apr 2025 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body].join('\r\n'),
  );
}

async function sign(raw: Buffer, domain = SIGNED, selector = 'sel1'): Promise<Buffer> {
  // mailauth 4.13.3 reads `signatureData` (its README); its bundled typings name other fields.
  const options = { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: domain, selector, privateKey }] };
  const r = await dkimSign(raw, options as unknown as Parameters<typeof dkimSign>[1]);
  expect(r.errors).toEqual([]);
  return Buffer.concat([Buffer.from(r.signatures), raw]);
}

/** The header's lines: the field name, then folded lines, every one ending with CRLF. */
function checkHeaderShape(header: string) {
  expect(header.startsWith(`Authentication-Results: ${HOST};\r\n `)).toBe(true);
  expect(header.endsWith('\r\n')).toBe(true);
  expect(header.endsWith('\r\n\r\n')).toBe(false);
  const lines = header.slice(0, -2).split('\r\n');
  for (const line of lines.slice(1)) expect(line).toMatch(/^ \S/);
  // No bare CR or LF anywhere, no control characters.
  expect(header.replace(/\r\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f]/);
}

describe('authenticateMessage', () => {
  it('passes a DKIM-signed message from a listed IP: dkim, spf and dmarc pass, header is ours', async () => {
    const raw = await sign(message());
    const r = await authenticateMessage(core, { raw, mailFrom: `bounces@${SIGNED}`, remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` });
    expect(r.verdicts).toEqual({ spf: 'pass', dkim: 'pass', dmarc: 'pass', arc: 'none', dmarcPolicy: null });
    expect(r.reject).toBe(false);
    checkHeaderShape(r.header);
    expect(r.header).toMatch(new RegExp(`spf=pass \\([^)]*\\) smtp\\.mailfrom=bounces@${SIGNED} smtp\\.helo=mail\\.${SIGNED}`));
    expect(r.header).toMatch(new RegExp(`dkim=pass header\\.d=${SIGNED} header\\.i=@${SIGNED} header\\.s=sel1 header\\.a=rsa-sha256 header\\.b=\\S{8}`));
    expect(r.header).toMatch(new RegExp(`dmarc=pass \\(p=REJECT[^)]*\\) header\\.from=${SIGNED}`));
    expect(r.header).toContain('arc=none');
    // The details are JSON-able and say the same.
    const details = JSON.parse(JSON.stringify(r.details));
    expect(details.dkim).toEqual([expect.objectContaining({ result: 'pass', domain: SIGNED, selector: 'sel1' })]);
    expect(details.spf).toMatchObject({ result: 'pass', clientIp: GOOD_IP, mailFrom: `bounces@${SIGNED}` });
    expect(details.dmarc).toMatchObject({ result: 'pass', policy: 'reject' });
    // The stored message is our header followed by the message as received, and still verifies.
    expect(r.raw.equals(Buffer.concat([Buffer.from(r.header), raw]))).toBe(true);
    const again = await authenticateMessage(core, { raw: r.raw, mailFrom: `bounces@${SIGNED}`, remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` });
    expect(again.verdicts.dkim).toBe('pass');
  });

  it('fails DKIM when the body was changed after signing', async () => {
    const signed = await sign(message());
    const forged = Buffer.from(signed.toString('utf8').replace('the figures are attached.', 'please wire 10,000 EUR today.'));
    expect(forged.equals(signed)).toBe(false);
    const r = await authenticateMessage(core, { raw: forged, mailFrom: `bounces@${SIGNED}`, remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` });
    expect(r.verdicts.dkim).toBe('fail');
    expect(r.header).toMatch(new RegExp(`dkim=fail \\(body hash did not verify\\) header\\.d=${SIGNED}`));
    // SPF still passes for the listed IP, so DMARC passes through SPF alignment.
    expect(r.verdicts.spf).toBe('pass');
    expect(r.verdicts.dmarc).toBe('pass');
  });

  it('fails DKIM when a signed header was changed (bad signature)', async () => {
    const signed = await sign(message());
    const forged = Buffer.from(signed.toString('utf8').replace('Subject: Quarterly figures', 'Subject: Urgent invoice'));
    const r = await authenticateMessage(core, { raw: forged, mailFrom: `bounces@${SIGNED}`, remoteAddress: BAD_IP, heloName: 'evil.test' });
    expect(r.verdicts.dkim).toBe('fail');
    expect(r.verdicts.spf).toBe('fail');
    expect(r.verdicts.dmarc).toBe('fail');
  });

  it('fails SPF for an IP the domain does not list, passes it for one it lists', async () => {
    const raw = message();
    const bad = await authenticateMessage(core, { raw, mailFrom: `bounces@${SIGNED}`, remoteAddress: BAD_IP, heloName: 'relay.elsewhere.test' });
    expect(bad.verdicts.spf).toBe('fail');
    expect(bad.header).toMatch(new RegExp(`spf=fail \\([^)]*does not designate ${BAD_IP.replace(/\./g, '\\.')}[^)]*\\) smtp\\.mailfrom=bounces@${SIGNED}`));
    const good = await authenticateMessage(core, { raw, mailFrom: `bounces@${SIGNED}`, remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` });
    expect(good.verdicts.spf).toBe('pass');
    // The null reverse-path (a DSN): the HELO identity is checked instead (RFC 7208 §2.4).
    const dsn = await authenticateMessage(core, { raw, mailFrom: '', remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` });
    expect(dsn.verdicts.spf).toBe('none');
    expect(dsn.header).toContain(`smtp.mailfrom=postmaster@mail.${SIGNED}`);
  });

  it('refuses a DMARC failure under p=reject, and only records it with MAILSTACK_DMARC_REJECT=false', async () => {
    // Unsigned, from an unlisted IP, claiming the domain in From: neither identifier aligns.
    const raw = message(`"Alice" <alice@${SIGNED}>`);
    const input = { raw, mailFrom: 'spoofer@elsewhere.test', remoteAddress: BAD_IP, heloName: 'elsewhere.test' };
    const r = await authenticateMessage(core, input);
    expect(r.verdicts).toMatchObject({ dkim: 'none', dmarc: 'fail', dmarcPolicy: 'reject' });
    expect(r.reject).toBe(true);
    expect(r.header).toMatch(new RegExp(`dmarc=fail \\(p=REJECT[^)]*\\) header\\.from=${SIGNED}`));

    const lenient: Core = { ...core, settings: loadSettings({ ...env, MAILSTACK_DMARC_REJECT: 'false' }) };
    expect(lenient.settings.dmarcReject).toBe(false);
    const recorded = await authenticateMessage(lenient, input);
    expect(recorded.verdicts).toMatchObject({ dmarc: 'fail', dmarcPolicy: 'reject' });
    expect(recorded.reject).toBe(false);

    // A signature by another domain does not align: still a failure.
    const other = await sign(raw, 'other-signer.test');
    dns.txt('sel1._domainkey.other-signer.test', (await dnsTxt(`sel1._domainkey.${SIGNED}`))!);
    const unaligned = await authenticateMessage(core, { ...input, raw: other });
    expect(unaligned.verdicts).toMatchObject({ dkim: 'pass', dmarc: 'fail' });
    expect(unaligned.reject).toBe(true);
  });

  it('does not refuse a DMARC failure under p=quarantine or p=none', async () => {
    dns.txt('quarantine.test', 'v=spf1 -all');
    dns.txt('_dmarc.quarantine.test', 'v=DMARC1; p=quarantine');
    const r = await authenticateMessage(core, { raw: message('q@quarantine.test'), mailFrom: 'q@quarantine.test', remoteAddress: BAD_IP, heloName: 'x.test' });
    expect(r.verdicts).toMatchObject({ spf: 'fail', dmarc: 'fail', dmarcPolicy: 'quarantine' });
    expect(r.reject).toBe(false);
  });

  it('says none for a domain that publishes nothing', async () => {
    const r = await authenticateMessage(core, { raw: message('someone@no-records.test'), mailFrom: 'someone@no-records.test', remoteAddress: BAD_IP, heloName: 'host.no-records.test' });
    expect(r.verdicts).toEqual({ spf: 'none', dkim: 'none', dmarc: 'none', arc: 'none', dmarcPolicy: null });
    expect(r.reject).toBe(false);
    checkHeaderShape(r.header);
    expect(r.header).toContain('dkim=none');
    expect(r.header).toContain('dmarc=none');
  });

  it('says temperror, and does not throw, when the DNS server never answers', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    let queries = 0;
    silent.on('message', () => queries++);
    try {
      const deaf: Core = { ...core, settings: loadSettings({ ...env, MAILSTACK_DNS_SERVERS: `127.0.0.1:${silent.address().port}` }) };
      const raw = await sign(message());
      const r = await authenticateMessage(deaf, { raw, mailFrom: `bounces@${SIGNED}`, remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` }, { dnsTimeoutMs: 200, dnsTries: 1 });
      expect(queries).toBeGreaterThan(0);
      expect(r.verdicts).toMatchObject({ spf: 'temperror', dkim: 'temperror', dmarc: 'temperror' });
      expect(r.reject).toBe(false);
      checkHeaderShape(r.header);
      // The overall budget bounds the whole message too.
      const bounded = await authenticateMessage(deaf, { raw, mailFrom: `bounces@${SIGNED}`, remoteAddress: GOOD_IP, heloName: `mail.${SIGNED}` }, { dnsTimeoutMs: 60_000, dnsTries: 1, budgetMs: 300 });
      expect(bounded.verdicts).toMatchObject({ spf: 'temperror', dkim: 'temperror', dmarc: 'temperror' });
    } finally {
      silent.close();
    }
  });

  it('checks an ARC chain (RFC 8617): a forwarder\'s valid seal is arc=pass, a broken one arc=fail', async () => {
    // A forwarder (a mailing list) that authenticated the original and sealed its results.
    dns.txt(`arc1._domainkey.forwarder.test`, (await dnsTxt(`sel1._domainkey.${SIGNED}`))!);
    const original = await sign(message());
    const resolver = dns.resolver();
    const sealed = await authenticate(original, {
      ip: GOOD_IP,
      helo: `mail.${SIGNED}`,
      sender: `bounces@${SIGNED}`,
      mta: 'lists.forwarder.test',
      resolver: (name: string, rr: string) => resolver.resolve(name, rr as 'TXT') as any,
      seal: { signingDomain: 'forwarder.test', selector: 'arc1', privateKey },
    });
    const forwarded = Buffer.concat([Buffer.from(sealed.headers), original]);
    expect(forwarded.toString()).toMatch(/^ARC-Seal: i=1;/m);
    // It reaches us from the list's address, which the author's SPF does not list.
    const r = await authenticateMessage(core, { raw: forwarded, mailFrom: 'list-bounces@forwarder.test', remoteAddress: BAD_IP, heloName: 'lists.forwarder.test' });
    expect(r.verdicts.arc).toBe('pass');
    expect(r.header).toMatch(/\r\n arc=pass/);
    expect(r.verdicts.dkim).toBe('pass');
    // A seal whose signature was tampered with breaks the chain.
    const broken = Buffer.from(forwarded.toString().replace(/(ARC-Seal: [^]*?b=)([A-Za-z0-9+/])/, (_m, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`));
    expect(broken.equals(forwarded)).toBe(false);
    const bad = await authenticateMessage(core, { raw: broken, mailFrom: 'list-bounces@forwarder.test', remoteAddress: BAD_IP, heloName: 'lists.forwarder.test' });
    expect(bad.verdicts.arc).toBe('fail');
  });

  it('keeps hostile envelope values out of the header structure', async () => {
    const r = await authenticateMessage(core, {
      raw: message('x@no-records.test'),
      mailFrom: '"odd; (local) part\\"x"@no-records.test',
      remoteAddress: BAD_IP,
      heloName: 'host.no-records.test',
    });
    checkHeaderShape(r.header);
    // The address is a quoted-string value: its ';' cannot end the result.
    expect(r.header).toMatch(/smtp\.mailfrom="[^\r\n]*"/);
    expect(r.header.split(';').length).toBeGreaterThan(1);
  });

  it('never throws for messages that are not messages', async () => {
    const inputs = [Buffer.alloc(0), Buffer.from('\u0000\u0000\u0000'), Buffer.from(`DKIM-Signature: ${'v=1; '.repeat(1000)}\r\n\r\nx`), Buffer.from(`From: ${'a'.repeat(200_000)}\r\n\r\nbody`), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256))];
    for (const raw of inputs) {
      const r = await authenticateMessage(core, { raw, mailFrom: '', remoteAddress: null, heloName: null });
      checkHeaderShape(r.header);
      expect(r.raw.subarray(0, r.header.length).toString()).toBe(r.header);
    }
  });
});

async function dnsTxt(name: string): Promise<string | null> {
  const rows = await dns.resolver().resolveTxt(name);
  return rows.length ? rows[0].join('') : null;
}

describe('removeForgedResults (RFC 8601 §5)', () => {
  it('removes our authserv-id in every spelling and keeps the others and the body', () => {
    const raw = [
      `Authentication-Results: ${HOST}; dkim=pass header.d=bank.test`,
      'Received: from a by b; Tue, 1 Apr 2025 10:00:00 +0000',
      `authentication-results:   (forged) ${HOST.toUpperCase()}.;`,
      '\tspf=pass smtp.mailfrom=bank.test',
      'Authentication-Results:',
      ` ${HOST}; dmarc=pass`,
      `Authentication-Results: "${HOST}"; arc=pass`,
      'Authentication-Results: mx.google.com; dkim=pass header.d=bank.test',
      `Authentication-Results: ${HOST}.evil.test; spf=pass`,
      'From: a@bank.test',
      '',
      `Authentication-Results: ${HOST}; this line is body text`,
      '',
    ].join('\r\n');
    const out = removeForgedResults(Buffer.from(raw), HOST).toString();
    expect(out).toBe(
      [
        'Received: from a by b; Tue, 1 Apr 2025 10:00:00 +0000',
        'Authentication-Results: mx.google.com; dkim=pass header.d=bank.test',
        `Authentication-Results: ${HOST}.evil.test; spf=pass`,
        'From: a@bank.test',
        '',
        `Authentication-Results: ${HOST}; this line is body text`,
        '',
      ].join('\r\n'),
    );
  });

  it('returns the same bytes when there is nothing to remove, and copes with hostile header sections', () => {
    const plain = Buffer.from('From: a@b.test\r\nSubject: \u00e9t\u00e9\r\n\r\nbody\r\n');
    expect(removeForgedResults(plain, HOST).equals(plain)).toBe(true);
    // No header section at all: the body's lines are not touched.
    const bodyOnly = Buffer.from(`\r\nAuthentication-Results: ${HOST}; spf=pass\r\n`);
    expect(removeForgedResults(bodyOnly, HOST).equals(bodyOnly)).toBe(true);
    // NUL bytes, bare LF, a header without a body, 8-bit bytes: kept byte for byte.
    const odd = Buffer.concat([Buffer.from(`X: a\u0000b\nAuthentication-Results: ${HOST}; spf=pass\nY: `), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('\n')]);
    expect(removeForgedResults(odd, HOST).equals(Buffer.concat([Buffer.from('X: a\u0000b\nY: '), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('\n')]))).toBe(true);
    // 200 KB of nested comments before the id, and a 200 KB header line: one pass, no throw.
    const deep = Buffer.from(`Authentication-Results: ${'('.repeat(100_000)}${')'.repeat(100_000)} ${HOST}; x\r\nX-Long: ${'a'.repeat(200_000)}\r\n\r\nb`);
    expect(removeForgedResults(deep, HOST).toString()).toBe(`X-Long: ${'a'.repeat(200_000)}\r\n\r\nb`);
    const many = Buffer.from(`${'Authentication-Results: ()'.repeat(1)}${'() '.repeat(50_000)}${HOST};\r\n\r\n`);
    expect(removeForgedResults(many, HOST).toString()).toBe('\r\n');
  });
});
