// GET /v1/deliverability over real sockets: a workspace sends through the MTA to a loopback
// remote MX that refuses some recipients (hard bounces); the route shows its 7- and 30-day rates
// for the workspace and the sending domain beside the pause thresholds, and another workspace
// sees only its own (zero) figures. DMARC aggregate reports mailed over SMTP to the `rua` of the
// suggested DMARC record (dmarc@<return-path host>), as gzip and as zip, show per domain (sources,
// pass/fail, volume); a resent report is stored once; hostile reports (an XML bomb, a 50 MB gzip
// bomb, a wrong schema, a report about somebody else's domain) get a clear SMTP error and change
// nothing, and the node goes on answering.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { reportXml } from '../testkit/dmarc.ts';
import { type TestMx, startMx, verifiedDomain } from '../testkit/remote-mx.ts';
import { type TestServer, api, freePort, startTestServer } from '../testkit/server.ts';
import { sendWithNodemailer } from '../testkit/smtp-senders.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';
import { makeZip } from '../testkit/zip.ts';

let dns: TestDns;
let mx: TestMx;
let server: TestServer;
let core: Core;
let smtpPort: number;

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  mx = await startMx('127.0.0.34', mxPort, { rcpt: (a) => (a.startsWith('bad') ? { code: 550, message: '5.1.1 No such user' } : null) });
  dns.mx('remote.test', 'mx.remote.test');
  dns.a('mx.remote.test', '127.0.0.34');
  smtpPort = await freePort();
  server = await startTestServer({
    env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(mxPort), MAILSTACK_HOSTNAME: 'mx.mailstack.test', MAILSTACK_SMTP_PORT: String(smtpPort), MAILSTACK_PAUSE_MIN_SENDS: '100', MAILSTACK_WARMUP_START: '0' },
  });
  core = server.platform.core;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await dns?.close();
});

/** A report as a reporter mails it: multipart/mixed with the report attached (RFC 7489 §7.2.1.1). */
function reportMail(to: string, attachment: Buffer, filename: string, contentType: string): Buffer {
  const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: noreply-dmarc-support@google.com',
      `To: ${to}`,
      `Subject: Report domain: x Submitter: google.com Report-ID: ${filename}`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: <${Math.random().toString(36).slice(2)}@google.com>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'This is an aggregate report from google.com.',
      '--b1',
      `Content-Type: ${contentType}; name="${filename}"`,
      `Content-Disposition: attachment; filename="${filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

describe('GET /v1/deliverability', () => {
  it('shows bounce and complaint rates per workspace and sending domain beside the thresholds, and DMARC reports per domain', async () => {
    const a = await server.setup('owner-deliv@remote.test', 'Deliv');
    const b = await server.setup('owner-other@remote.test', 'Other');
    const domain = 'deliv.send.test';
    await verifiedDomain(core, dns, a.workspaceId, domain);
    const resend = server.resend(a.apiKey);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await resend.emails.send({ from: `app@${domain}`, to: i === 0 ? 'bad0@remote.test' : `good${i}@remote.test`, subject: `n${i}`, text: 'hello' });
      expect(r.error).toBeNull();
      ids.push(r.data!.id);
    }
    await waitFor('all five settled', async () => {
      const rows = await core.db.selectFrom('email_recipients').select('status').where('workspace_id', '=', a.workspaceId).execute();
      return rows.length === 5 && rows.every((r) => r.status === 'delivered' || r.status === 'bounced') ? true : undefined;
    }, 60_000);

    const got = await api(server.url, 'GET', '/v1/deliverability', { key: a.apiKey });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      object: 'deliverability',
      thresholds: { bounce_rate: 0.05, complaint_rate: 0.001, min_sends: 100 },
      sending: { paused: false, window: { sends: 5, bounce_rate: 0.2, complaint_rate: 0 } },
      last_7_days: { sent: 5, hard_bounces: 1, complaints: 0, bounce_rate: 0.2, complaint_rate: 0 },
      last_30_days: { sent: 5, hard_bounces: 1, bounce_rate: 0.2 },
    });
    const d = got.json.domains.find((x: any) => x.name === domain);
    expect(d).toMatchObject({ last_7_days: { sent: 5, hard_bounces: 1, bounce_rate: 0.2 }, dmarc: { reports: 0, messages: 0 } });

    // The suggested DMARC record points rua at the return-path host, and reports mailed there show.
    const dom = await api(server.url, 'GET', `/v1/domains/${d.id}`, { key: a.apiKey });
    const dmarcRecord = dom.json.records.find((r: any) => r.record === 'DMARC');
    const rua = /rua=mailto:([^;\s]+)/.exec(dmarcRecord.value)![1];
    expect(rua).toBe(`dmarc@send.${domain}`);
    const xml1 = reportXml(domain, 'r-1', [
      { ip: '192.0.2.10', count: 40, dkim: 'pass', spf: 'pass' },
      { ip: '198.51.100.7', count: 3, dkim: 'fail', spf: 'fail' },
    ]);
    const xml2 = reportXml(domain, 'r-2', [{ ip: '192.0.2.10', count: 7, dkim: 'pass', spf: 'fail' }]);
    const gz = await sendWithNodemailer(smtpPort, { from: 'noreply-dmarc-support@google.com', to: [rua] }, reportMail(rua, gzipSync(Buffer.from(xml1)), `google.com!${domain}!1!2.xml.gz`, 'application/gzip'));
    expect(gz.code, gz.response).toBe(250);
    expect(gz.response).toMatch(/1 DMARC report received \(1 new\)/);
    const zip = await sendWithNodemailer(smtpPort, { from: 'noreply-dmarc-support@google.com', to: [rua] }, reportMail(rua, makeZip(`google.com!${domain}!3!4.xml`, Buffer.from(xml2)), `google.com!${domain}!3!4.zip`, 'application/zip'));
    expect(zip.code, zip.response).toBe(250);
    // Sent again: stored once.
    const again = await sendWithNodemailer(smtpPort, { from: 'noreply-dmarc-support@google.com', to: [rua] }, reportMail(rua, gzipSync(Buffer.from(xml1)), 'again.xml.gz', 'application/gzip'));
    expect(again.response).toMatch(/\(0 new\)/);

    const after = (await api(server.url, 'GET', '/v1/deliverability', { key: a.apiKey })).json.domains.find((x: any) => x.name === domain);
    expect(after.dmarc).toMatchObject({ reports: 2, messages: 50, pass: 47, fail: 3, pass_rate: 0.94 });
    expect(after.dmarc.sources).toEqual([
      { source_ip: '192.0.2.10', messages: 47, pass: 47, fail: 0 },
      { source_ip: '198.51.100.7', messages: 3, pass: 0, fail: 3 },
    ]);
    expect(after.dmarc.recent_reports.map((r: any) => r.report_id).sort()).toEqual(['r-1', 'r-2']);
    expect(after.dmarc.recent_reports[0]).toMatchObject({ org_name: 'google.com', policy: { domain, p: 'none' } });

    // Another workspace sees its own figures only.
    const other = await api(server.url, 'GET', '/v1/deliverability', { key: b.apiKey });
    expect(other.json).toMatchObject({ last_30_days: { sent: 0, hard_bounces: 0 }, domains: [] });

    // Hostile reports: a clear error each, nothing stored, the node still answers.
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><feedback>&lol2;</feedback>`;
    const hostile: [Buffer, string, string, RegExp][] = [
      [Buffer.from(bomb), 'bomb.xml', 'text/xml', /^554 5\.6\.0 DMARC report refused: the XML has a DOCTYPE/],
      [gzipSync(Buffer.concat([Buffer.from('<feedback>'), Buffer.alloc(50 * 1024 * 1024, 0x20)])), 'big.xml.gz', 'application/gzip', /^554 5\.6\.0 DMARC report refused: it is larger than 20 MB once decompressed/],
      [Buffer.from('<?xml version="1.0"?><report><whatever/></report>'), 'wrong.xml', 'text/xml', /^554 5\.6\.0 DMARC report refused: .*root element is <report>, not <feedback>/],
      [gzipSync(Buffer.from(reportXml('victim.example', 'r-9', [{ ip: '192.0.2.1', count: 1, dkim: 'pass', spf: 'pass' }]))), 'v.xml.gz', 'application/gzip', /^550 5\.7\.1 DMARC report refused: it is about victim\.example/],
    ];
    for (const [data, name, type, pattern] of hostile) {
      const r = await sendWithNodemailer(smtpPort, { from: 'reports@remote.test', to: [rua] }, reportMail(rua, data, name, type));
      expect(r.response, name).toMatch(pattern);
    }
    expect((await core.db.selectFrom('dmarc_reports').select('report_id').where('workspace_id', '=', a.workspaceId).execute()).length).toBe(2);
    expect((await api(server.url, 'GET', '/v1/deliverability', { key: a.apiKey })).status).toBe(200);
  }, 120_000);
});
