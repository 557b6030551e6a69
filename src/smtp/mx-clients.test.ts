// The MX door with the clients real senders use, over real sockets: swaks (its transcript shows
// every line on the wire), Python's smtplib and nodemailer. EHLO lists the extensions, STARTTLS
// works with the node's self-signed certificate (verified), PIPELINING and SMTPUTF8 are used when
// offered, and replies carry one enhanced status code.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendingDomain } from '../domains/domains.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { runClient } from '../testkit/smtp-senders.ts';
import { verifiedDomain } from '../testkit/remote-mx.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { freePort } from '../testkit/smtp-client.ts';

let server: TestServer;
let dns: TestDns;
let port: number;
let domain: SendingDomain;
let postmaster: string;
let caPath: string;

beforeAll(async () => {
  dns = await startTestDns();
  port = await freePort();
  server = await startTestServer({
    env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_WORKER_CONCURRENCY: '0' },
  });
  const ws = (await server.setup('owner@example.com', 'W')).workspaceId;
  domain = await verifiedDomain(server.platform.core, dns, ws, 'clients.example.com');
  postmaster = `postmaster@${domain.returnPathHost}`;
  caPath = path.join(server.db.dataDir, 'tls', 'self-signed.crt');
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await dns?.close();
});

describe('swaks', () => {
  it('sees the extensions in EHLO and gets enhanced codes on every reply, with PIPELINING', async () => {
    const r = await runClient('swaks', ['--server', `127.0.0.1:${port}`, '--ehlo', 'client.remote.test', '--from', 'sender@remote.test', '--to', postmaster, '--pipeline', '--header', 'Subject: swaks test', '--body', 'hello from swaks']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const received = r.stdout.split('\n').filter((l) => l.startsWith('<-') || l.startsWith('<~') || l.startsWith('<**'));
    const ehlo = received.filter((l) => /^<-\s+250[- ]/.test(l)).map((l) => l.replace(/^<-\s+250[- ]/, ''));
    for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'SIZE 52428800']) expect(ehlo, ext).toContain(ext);
    // swaks pipelined MAIL, RCPT and DATA (it says so), and each reply has one code.
    expect(r.stdout).toMatch(/MAIL FROM:<sender@remote\.test>\n -> RCPT TO:<postmaster@/);
    expect(r.stdout).toMatch(/<-\s+250 2\.1\.0 Accepted/);
    expect(r.stdout).toMatch(/<-\s+250 2\.1\.5 Accepted/);
    expect(r.stdout).toMatch(/<-\s+250 2\.0\.0 (?![245]\.\d)\S/);
    expect(r.stdout).toMatch(/<-\s+221 2\.0\.0 Bye/);
  });

  it('upgrades with STARTTLS, verifying the certificate, and sends over TLS', async () => {
    const r = await runClient('swaks', ['--server', `127.0.0.1:${port}`, '--ehlo', 'client.remote.test', '--from', 'sender@remote.test', '--to', postmaster, '--tls', '--tls-verify', '--tls-ca-path', caPath, '--body', 'over tls']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-> STARTTLS\n<-\s+220 2\.0\.0 Ready to start TLS/);
    expect(r.stdout).toMatch(/=== TLS started with cipher TLSv1\.[23]/);
    expect(r.stdout).toMatch(/=== TLS peer DN="\/CN=mx\.mailstack\.test"/);
    // After TLS, EHLO no longer offers STARTTLS (RFC 3207 §4.2) and the message is taken.
    const afterTls = r.stdout.slice(r.stdout.indexOf('TLS started'));
    expect(afterTls).not.toMatch(/<~\s+250[- ]STARTTLS/);
    expect(afterTls).toMatch(/<~\s+250[- ]ENHANCEDSTATUSCODES/);
    expect(afterTls).toMatch(/<~\s+250 2\.0\.0 /);

    // The verification is real: against the system's CAs, the self-signed certificate fails.
    const wrongCa = await runClient('swaks', ['--server', `127.0.0.1:${port}`, '--ehlo', 'client.remote.test', '--from', 'sender@remote.test', '--to', postmaster, '--tls', '--tls-verify', '--tls-ca-path', '/etc/ssl/certs', '--body', 'x']);
    expect(wrongCa.code).not.toBe(0);
    expect(wrongCa.stdout + wrongCa.stderr).toMatch(/TLS/);
    expect(wrongCa.stdout).not.toMatch(/<~\s+250 2\.0\.0 /);
  });

  it('is refused relaying with 550 5.7.1', async () => {
    const r = await runClient('swaks', ['--server', `127.0.0.1:${port}`, '--ehlo', 'client.remote.test', '--from', 'sender@remote.test', '--to', 'someone@gmail.com', '--body', 'relay me']);
    // swaks exits 24 when no recipient was accepted.
    expect(r.code).toBe(24);
    expect(r.stdout).toMatch(/<\*\*\s+550 5\.7\.1 Relaying denied/);
  });
});

describe('Python smtplib', () => {
  it('sees the extensions, upgrades with a verified certificate, sends 8-bit UTF-8 with SMTPUTF8', async () => {
    const script = `
import json, smtplib, ssl, sys
port, rcpt, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.remote.test', timeout=20) as s:
    s.ehlo()
    out['plain'] = sorted(s.esmtp_features.keys())
    out['size'] = s.esmtp_features.get('size')
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True
    s.starttls(context=ctx)  # checks the certificate and its IP SAN 127.0.0.1
    out['tls'] = s.sock.version()
    s.ehlo()
    out['secure'] = sorted(s.esmtp_features.keys())
    out['mail'] = list(map(lambda x: x.decode() if isinstance(x, bytes) else x, s.mail('jörg@bücher.test', ['SMTPUTF8', 'BODY=8BITMIME'])))
    out['rcpt'] = list(map(lambda x: x.decode() if isinstance(x, bytes) else x, s.rcpt(rcpt)))
    msg = 'From: jörg@bücher.test\\r\\nSubject: Grüße\\r\\n\\r\\nGrüße aus Köln\\r\\n'.encode('utf-8')
    out['data'] = list(map(lambda x: x.decode() if isinstance(x, bytes) else x, s.data(msg)))
print(json.dumps(out))
`;
    const r = await runClient('python3', ['-c', script, String(port), postmaster, caPath]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.plain).toEqual(['8bitmime', 'enhancedstatuscodes', 'pipelining', 'size', 'smtputf8', 'starttls']);
    expect(out.size).toBe('52428800');
    expect(out.tls).toMatch(/^TLSv1\.[23]$/);
    expect(out.secure).toEqual(['8bitmime', 'enhancedstatuscodes', 'pipelining', 'size', 'smtputf8']);
    expect(out.mail).toEqual([250, '2.1.0 Accepted']);
    expect(out.rcpt).toEqual([250, '2.1.5 Accepted']);
    expect(out.data[0]).toBe(250);
    expect(out.data[1]).toMatch(/^2\.0\.0 (?![245]\.\d)/);
  });

  it('gets 550 5.1.1 for an unknown user and 550 5.7.1 for relaying, as SMTPRecipientsRefused', async () => {
    const script = `
import json, smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP('127.0.0.1', port, local_hostname='client.remote.test', timeout=20) as s:
    try:
        s.sendmail('a@remote.test', [sys.argv[2], 'x@gmail.com'], b'Subject: x\\r\\n\\r\\nx\\r\\n')
        print('accepted')
    except smtplib.SMTPRecipientsRefused as e:
        print(json.dumps({k: [v[0], v[1].decode()] for k, v in e.recipients.items()}))
`;
    const r = await runClient('python3', ['-c', script, String(port), `nobody@${domain.returnPathHost}`]);
    expect(r.stderr).toBe('');
    const refused = JSON.parse(r.stdout);
    expect(refused[`nobody@${domain.returnPathHost}`]).toEqual([550, '5.1.1 No such user here']);
    expect(refused['x@gmail.com'][0]).toBe(550);
    expect(refused['x@gmail.com'][1]).toMatch(/^5\.7\.1 Relaying denied/);
  });
});

describe('nodemailer', () => {
  it('sends over STARTTLS with the certificate verified; SMTPUTF8 for an internationalised sender', async () => {
    const ca = readFileSync(caPath);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { ca, servername: 'mx.mailstack.test' }, name: 'client.remote.test' });
    const info = await transport.sendMail({ envelope: { from: 'jörg@bücher.test', to: [postmaster] }, from: 'jörg@bücher.test', to: postmaster, subject: 'Grüße', text: 'Grüße aus Köln' });
    expect(info.accepted).toEqual([postmaster]);
    expect(info.response).toMatch(/^250 2\.0\.0 (?![245]\.\d)/);
    transport.close();
  });

  it('refuses to send when the certificate does not verify (no CA given), as it should', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, name: 'client.remote.test' });
    await expect(transport.sendMail({ envelope: { from: 'a@remote.test', to: [postmaster] }, raw: 'Subject: x\r\n\r\nx\r\n' })).rejects.toThrow(/certificate/i);
    transport.close();
  });
});
