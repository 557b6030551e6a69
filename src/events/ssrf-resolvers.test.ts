// The SSRF guard asks the configured resolvers (MAILSTACK_DNS_SERVERS), once, and connects to the
// address it checked (issue 9: it asked the system resolver, so a name that the configured
// resolvers map to a private address was checked against other answers than the ones used).
// A loopback DNS server maps names to 127.0.0.1 and 10.x; the system resolver knows none of them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Settings } from '../config/settings.ts';
import { fetchAttachment } from '../outbound/attachment-fetch.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { TargetRefused, resolveTarget } from './address.ts';
import { postWebhook } from './delivery.ts';

let dns: TestDns;
let servers: Settings['dnsServers'];
let receiver: Receiver;
let server: TestServer;
let key: string;

beforeAll(async () => {
  dns = await startTestDns();
  dns.a('rebind.ssrf-test.example.net', '127.0.0.1');
  dns.a('intranet.ssrf-test.example.net', '10.20.30.40');
  dns.a('metadata.ssrf-test.example.net', '169.254.169.254');
  dns.a('mixed.ssrf-test.example.net', '93.184.216.34');
  dns.a('mixed.ssrf-test.example.net', '10.0.0.7');
  dns.a('hooks.ssrf-test.example.net', '127.0.0.1');
  const [host, port] = dns.address.split(':');
  servers = [{ host, port: Number(port) }];
  receiver = await startReceiver();
  server = await startTestServer({ env: { MAILSTACK_DNS_SERVERS: dns.address } });
  ({ apiKey: key } = await server.setup('owner@ssrf.example.com', 'SSRF'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
  await dns?.close();
});

describe('names the configured resolvers map to non-public addresses', () => {
  it('are refused by the guard with the address those resolvers gave', async () => {
    await expect(resolveTarget('rebind.ssrf-test.example.net', false, servers)).rejects.toThrow(/resolves to 127\.0\.0\.1, a loopback address/);
    await expect(resolveTarget('intranet.ssrf-test.example.net', false, servers)).rejects.toThrow(/resolves to 10\.20\.30\.40, a private address/);
    await expect(resolveTarget('metadata.ssrf-test.example.net', false, servers)).rejects.toThrow(/link-local/);
    // One private answer among public ones refuses the lot.
    await expect(resolveTarget('mixed.ssrf-test.example.net', false, servers)).rejects.toThrow(/10\.0\.0\.7/);
    await expect(resolveTarget('nothing.ssrf-test.example.net', false, servers)).rejects.toThrow(TargetRefused);
  });

  it('are refused when a webhook is created over HTTP (422)', async () => {
    for (const endpoint of ['http://rebind.ssrf-test.example.net/hook', 'https://intranet.ssrf-test.example.net/x']) {
      const r = await api(server.url, 'POST', '/v1/webhooks', { key, body: { endpoint, events: ['email.sent'] } });
      expect(r.status, endpoint).toBe(422);
      expect(r.json.message).toMatch(/resolves to (127\.0\.0\.1|10\.20\.30\.40)/);
    }
  });

  it('are refused as attachment URLs', async () => {
    await expect(fetchAttachment('http://intranet.ssrf-test.example.net/file.pdf', { allowPrivate: false, maxBytes: 1000, timeoutMs: 2000, dnsServers: servers })).rejects.toThrow(/10\.20\.30\.40/);
  });

  it('and delivery connects to the address the configured resolvers gave (allowed private here)', async () => {
    const port = new URL(receiver.url).port;
    const result = await postWebhook(`http://hooks.ssrf-test.example.net:${port}/pinned`, '{"ok":true}', { 'content-type': 'application/json' }, { allowPrivate: true, timeoutMs: 5000, dnsServers: servers });
    expect(result.status).toBe(200);
    const got = await waitFor('the delivery', () => receiver.received.find((r) => r.path === '/pinned'));
    expect(got.headers.host).toBe(`hooks.ssrf-test.example.net:${port}`);
    // Without private addresses allowed, the same name is refused before any connection.
    const refused = await postWebhook(`http://hooks.ssrf-test.example.net:${port}/refused`, '{}', {}, { allowPrivate: false, timeoutMs: 5000, dnsServers: servers });
    expect(refused.error).toMatch(/loopback/);
    expect(receiver.received.some((r) => r.path === '/refused')).toBe(false);
  });
});
