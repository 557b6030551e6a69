// MAILSTACK_SMARTHOST: every message goes through the one relay, with STARTTLS when offered and
// AUTH with the URL's credentials; the recipient's domain is never looked up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendingDomain } from '../../domains/domains.ts';
import { type TestDns, startTestDns } from '../../testkit/dns-server.ts';
import { type TestServer, startTestServer } from '../../testkit/server.ts';
import { loadTlsMaterial } from '../../tls/certificate.ts';
import { type TestMx, eventTypes, freePort, send, startMx, untilStatus, verifiedDomain } from '../../testkit/remote-mx.ts';

let dns: TestDns;
let server: TestServer;
let workspaceId: string;
let domain: SendingDomain;
let relay: TestMx;
const core = () => server.platform.core;

beforeAll(async () => {
  dns = await startTestDns();
  const port = await freePort();
  server = await startTestServer({
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_SMARTHOST: `smtp://relay%40user:s3cret%3Apass@127.0.0.7:${port}`,
    },
  });
  relay = await startMx('127.0.0.7', port, { tls: loadTlsMaterial(core().settings), auth: { user: 'relay@user', pass: 's3cret:pass' } });
  const ws = await server.setup('owner@example.com', 'Acme');
  workspaceId = ws.workspaceId;
  domain = await verifiedDomain(core(), dns, workspaceId, 'relayed.example.com');
});

afterAll(async () => {
  await server?.stop();
  await relay?.close();
  await dns?.close();
});

describe('smarthost mode', () => {
  it('relays through the smarthost over STARTTLS with AUTH, without looking up the recipient\'s MX', async () => {
    const queries = dns.queries;
    const id = await send(core(), workspaceId, domain, ['someone@unresolvable.example', 'other@also-not-in-dns.example']);
    const rows = await untilStatus(core(), id, 'delivered');
    expect(rows.every((r) => r.mx_host === '127.0.0.7')).toBe(true);
    expect(dns.queries).toBe(queries);
    expect(relay.messages).toHaveLength(2);
    for (const m of relay.messages) {
      expect(m.secure).toBe(true);
      expect(m.user).toBe('relay@user');
      expect(m.from).toMatch(/^bounce\+[0-9a-f]+@send\.relayed\.example\.com$/);
    }
    expect(relay.messages.flatMap((m) => m.to).sort()).toEqual(['other@also-not-in-dns.example', 'someone@unresolvable.example']);
    expect(await eventTypes(core(), id)).toEqual(['email.sent', 'email.sent', 'email.delivered', 'email.delivered']);
  });
});
