// Connection reuse and the per-destination limit: many messages to one MX host travel over a few
// connections (RSET between messages), and never more than MAILSTACK_MX_CONCURRENCY at once,
// even when the worker runs more delivery jobs than that in parallel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendingDomain } from '../../domains/domains.ts';
import { type TestDns, startTestDns } from '../../testkit/dns-server.ts';
import { type TestServer, startTestServer } from '../../testkit/server.ts';
import { deliveryPool } from './deliver.ts';
import { type TestMx, freePort, send, startMx, untilStatus, verifiedDomain } from '../../testkit/remote-mx.ts';

let dns: TestDns;
let server: TestServer;
let workspaceId: string;
let domain: SendingDomain;
let mx: TestMx;
const core = () => server.platform.core;

beforeAll(async () => {
  dns = await startTestDns();
  const port = await freePort();
  server = await startTestServer({
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_MX_PORT: String(port),
      MAILSTACK_MX_CONCURRENCY: '2',
      MAILSTACK_WORKER_CONCURRENCY: '6',
    },
  });
  // A slow MX, so that jobs overlap and the limit is what holds them back.
  mx = await startMx('127.0.0.6', port, { dataDelayMs: 100 });
  dns.mx('busy.example.net', 'mx.busy.example.net', 10);
  dns.a('mx.busy.example.net', '127.0.0.6');
  const ws = await server.setup('owner@example.com', 'Acme');
  workspaceId = ws.workspaceId;
  domain = await verifiedDomain(core(), dns, workspaceId, 'pool.example.com');
});

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await dns?.close();
});

describe('the SMTP connection pool', () => {
  it('carries many messages over few connections, at most MAILSTACK_MX_CONCURRENCY at once', async () => {
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push(await send(core(), workspaceId, domain, [`user${i}@busy.example.net`], `message ${i}`));
    for (const id of ids) await untilStatus(core(), id, 'delivered');

    expect(mx.messages).toHaveLength(12);
    // Six jobs ran at once, but the MX never saw more than two connections open together.
    expect(mx.maxOpen).toBeLessThanOrEqual(2);
    expect(mx.connections).toBeLessThan(12);
    // Some connection carried several transactions: reused after RSET.
    const perSession = new Map<string, number>();
    for (const m of mx.messages) perSession.set(m.sessionId, (perSession.get(m.sessionId) ?? 0) + 1);
    expect(Math.max(...perSession.values())).toBeGreaterThan(1);
    expect(mx.messages.some((m) => m.transaction > 1)).toBe(true);
    expect(deliveryPool(core()).stats.reused).toBeGreaterThan(0);
  });
});
