// Mail clients configure themselves for an address at a receiving domain: Thunderbird autoconfig,
// Microsoft autodiscover and an Apple profile, each read back with a real parser (Python's
// ElementTree and plistlib), and the SRV / autoconfig CNAME records listed with the domain.
import http from 'node:http';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type TestServer, api, startTestServer } from '../testkit/server.ts';
import { runClient } from '../testkit/smtp-senders.ts';

let server: TestServer;
let resend: Resend;
let key: string;
let inboxId: string;
const ports: Record<string, number> = {};

/** Parses a document with Python's standard library and returns what `code` prints as JSON. */
async function python(code: string, doc: string): Promise<any> {
  const r = await runClient('python3', ['-c', `import sys, json\ndoc = sys.stdin.buffer.read()\n${code}`], doc);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  for (const p of ['IMAP_PORT', 'IMAPS_PORT', 'SUBMISSION_PORT', 'SUBMISSIONS_PORT']) ports[p] = await freePort();
  // Development mode verifies the receiving domain without DNS; the documents are the same as in production.
  server = await startTestServer({ env: { MAILSTACK_MODE: 'development', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [`MAILSTACK_${k}`, String(v)])) } });
  key = (await server.setup('mc@example.com', 'Mail clients')).apiKey;
  resend = server.resend(key);
  const d = (await resend.domains.create({ name: 'clients.test', capabilities: { receiving: 'enabled' } } as any)).data!;
  await resend.domains.verify(d.id);
  inboxId = (await resend.inboxes.create({ emailAddress: 'ana@clients.test', name: 'Ana' } as any)).data!.id;
});

afterAll(async () => {
  await server?.stop();
});

const THUNDERBIRD = `
import xml.etree.ElementTree as ET
root = ET.fromstring(doc)
p = root.find('emailProvider')
def server(e):
    return {c.tag: c.text for c in e} | {'type': e.get('type')}
print(json.dumps({'root': root.tag, 'version': root.get('version'), 'id': p.get('id'), 'domain': p.findtext('domain'),
  'incoming': [server(e) for e in p.findall('incomingServer')], 'outgoing': [server(e) for e in p.findall('outgoingServer')]}))
`;

describe('mail-client configuration', () => {
  it('Thunderbird autoconfig at /.well-known and at autoconfig.<domain>', async () => {
    const r = await fetch(`${server.url}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ana%40clients.test`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/xml');
    const doc = await python(THUNDERBIRD, await r.text());
    expect(doc).toMatchObject({ root: 'clientConfig', version: '1.1', id: 'clients.test', domain: 'clients.test' });
    expect(doc.incoming).toEqual([
      { type: 'imap', hostname: 'mailstack.test', port: String(ports.IMAPS_PORT), socketType: 'SSL', authentication: 'password-cleartext', username: '%EMAILADDRESS%' },
      { type: 'imap', hostname: 'mailstack.test', port: String(ports.IMAP_PORT), socketType: 'STARTTLS', authentication: 'password-cleartext', username: '%EMAILADDRESS%' },
    ]);
    expect(doc.outgoing.map((s: any) => [s.type, s.port, s.socketType])).toEqual([
      ['smtp', String(ports.SUBMISSIONS_PORT), 'SSL'],
      ['smtp', String(ports.SUBMISSION_PORT), 'STARTTLS'],
    ]);
    // As a client reaching https://autoconfig.clients.test/mail/config-v1.1.xml (fetch may not set Host).
    const byHost = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get(`${server.url}/mail/config-v1.1.xml`, { headers: { host: 'autoconfig.clients.test' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
    expect(byHost.status).toBe(200);
    expect((await python(THUNDERBIRD, byHost.body)).domain).toBe('clients.test');
  });

  it('answers 404 for a domain this node does not receive for, and never echoes hostile input', async () => {
    for (const q of ['someone@elsewhere.example', '<script>@clients.test', 'x@clients.test"><a', '']) {
      const r = await api(server.url, 'GET', `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(q)}`);
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ statusCode: 404, name: 'not_found' });
      expect(r.text).not.toContain('<script>');
    }
  });

  it('Microsoft autodiscover for an Outlook POX request', async () => {
    const request = `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>ana@clients.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`;
    const r = await fetch(`${server.url}/autodiscover/autodiscover.xml`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: request });
    expect(r.status).toBe(200);
    const doc = await python(
      `
import xml.etree.ElementTree as ET
ns = {'a': 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006', 'o': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
root = ET.fromstring(doc)
acct = root.find('o:Response/o:Account', ns)
print(json.dumps({'root': root.tag, 'type': acct.findtext('o:AccountType', None, ns), 'action': acct.findtext('o:Action', None, ns),
  'protocols': [{c.tag.split('}')[1]: c.text for c in p} for p in acct.findall('o:Protocol', ns)]}))
`,
      await r.text(),
    );
    expect(doc).toMatchObject({ root: '{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}Autodiscover', type: 'email', action: 'settings' });
    const imap = doc.protocols.find((p: any) => p.Type === 'IMAP');
    expect(imap).toMatchObject({ Server: 'mailstack.test', Port: String(ports.IMAPS_PORT), LoginName: 'ana@clients.test', SSL: 'on', Encryption: 'SSL', AuthRequired: 'on' });
    expect(doc.protocols.find((p: any) => p.Type === 'SMTP')).toMatchObject({ Port: String(ports.SUBMISSIONS_PORT) });

    const unknown = await fetch(`${server.url}/Autodiscover/Autodiscover.xml`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: request.replace('ana@clients.test', 'bob@elsewhere.example') });
    const err = await python(`import xml.etree.ElementTree as ET\nr = ET.fromstring(doc)\nprint(json.dumps(r.find('.//{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}ErrorCode').text))`, await unknown.text());
    expect(err).toBe('600');
    const huge = await fetch(`${server.url}/autodiscover/autodiscover.xml`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: 'x'.repeat(70_000) });
    expect(huge.status).toBe(413);
  });

  it('an Apple .mobileconfig per inbox, without the password, for its own workspace only', async () => {
    const r = await fetch(`${server.url}/v1/inboxes/${inboxId}/mobileconfig`, { headers: { authorization: `Bearer ${key}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/x-apple-aspen-config');
    expect(r.headers.get('content-disposition')).toContain('ana@clients.test.mobileconfig');
    const text = await r.text();
    const p = await python('import plistlib\nprint(json.dumps(plistlib.loads(doc)))', text);
    expect(p).toMatchObject({ PayloadType: 'Configuration', PayloadVersion: 1 });
    const mail = p.PayloadContent[0];
    expect(mail).toMatchObject({
      PayloadType: 'com.apple.mail.managed',
      EmailAccountType: 'EmailTypeIMAP',
      EmailAddress: 'ana@clients.test',
      EmailAccountName: 'Ana',
      IncomingMailServerHostName: 'mailstack.test',
      IncomingMailServerPortNumber: ports.IMAPS_PORT,
      IncomingMailServerUseSSL: true,
      IncomingMailServerUsername: 'ana@clients.test',
      OutgoingMailServerPortNumber: ports.SUBMISSIONS_PORT,
    });
    expect(Object.keys(mail).filter((k) => /password/i.test(k))).toEqual(['OutgoingPasswordSameAsIncomingPassword']);
    // Stable identifiers: downloading it again replaces the installed profile.
    expect((await (await fetch(`${server.url}/v1/inboxes/ana@clients.test/mobileconfig`, { headers: { authorization: `Bearer ${key}` } })).text())).toBe(text);
    const other = await server.setup('other@example.com', 'Other');
    expect((await api(server.url, 'GET', `/v1/inboxes/${inboxId}/mobileconfig`, { key: other.apiKey })).status).toBe(404);
  });

  it('lists RFC 6186 SRV records and the autoconfig CNAME with a receiving domain’s records', async () => {
    const list = (await resend.domains.list()).data!.data;
    const d = (await resend.domains.get(list.find((x) => x.name === 'clients.test')!.id)).data!;
    const records = d.records as any[];
    expect(records.find((r) => r.name === '_imaps._tcp')).toMatchObject({ type: 'SRV', value: `1 ${ports.IMAPS_PORT} mailstack.test`, priority: 0, required: false, record: 'Receiving' });
    expect(records.find((r) => r.name === '_submissions._tcp')).toMatchObject({ type: 'SRV', value: `1 ${ports.SUBMISSIONS_PORT} mailstack.test` });
    expect(records.find((r) => r.name === '_submission._tcp')).toMatchObject({ type: 'SRV', value: `1 ${ports.SUBMISSION_PORT} mailstack.test` });
    // The POP3 doors are off on this node: no records for them.
    expect(records.some((r) => r.name.startsWith('_pop3'))).toBe(false);
    expect(records.find((r) => r.name === 'autoconfig')).toMatchObject({ type: 'CNAME', value: 'mailstack.test', required: false });
    // This node's development DNS answers them, so they verify like the rest.
    expect(records.filter((r) => r.type === 'SRV' || r.type === 'CNAME').every((r) => r.status === 'verified')).toBe(true);
    // A sending-only domain lists none.
    const s = (await resend.domains.create({ name: 'sendonly.test' })).data!;
    expect((s.records as any[]).some((r) => r.type === 'SRV' || r.type === 'CNAME')).toBe(false);
  });
});
