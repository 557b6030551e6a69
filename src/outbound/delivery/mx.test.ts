// MX routing (RFC 5321 §5.1, RFC 7505) against a real DNS server on loopback, and the reading of
// enhanced status codes (RFC 3463) into bounce sub-types.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDns, startTestDns } from '../../testkit/dns-server.ts';
import { bounceSubType, enhancedCode } from './deliver.ts';
import { resolveRoute } from './mx.ts';

let dns: TestDns;

beforeAll(async () => {
  dns = await startTestDns();
  dns.mx('ordered.test', 'c.ordered.test', 30);
  dns.mx('ordered.test', 'a.ordered.test', 10);
  dns.mx('ordered.test', 'b.ordered.test', 20);
  dns.a('a.ordered.test', '127.0.0.11');
  dns.a('b.ordered.test', '127.0.0.12');
  dns.a('b.ordered.test', '127.0.0.13');
  dns.a('c.ordered.test', '127.0.0.14');
  dns.mx('half.test', 'gone.half.test', 10);
  dns.mx('half.test', 'ok.half.test', 20);
  dns.txt('gone.half.test', 'exists but has no address');
  dns.a('ok.half.test', '127.0.0.15');
  dns.a('implicit.test', '127.0.0.16');
  dns.mx('null.test', '.', 0);
  dns.txt('noaddress.test', 'v=spf1 -all');
});
afterAll(async () => {
  await dns?.close();
});

describe('resolveRoute', () => {
  it('orders MX hosts by preference, lowest first, each with its addresses', async () => {
    const route = await resolveRoute(dns.resolver(), 'ordered.test');
    expect(route).toMatchObject({ kind: 'hosts', implicit: false });
    if (route.kind !== 'hosts') return;
    expect(route.hosts.map((h) => [h.name, h.priority])).toEqual([['a.ordered.test', 10], ['b.ordered.test', 20], ['c.ordered.test', 30]]);
    expect(route.hosts[1].addresses.sort()).toEqual(['127.0.0.12', '127.0.0.13']);
  });

  it('skips an MX host without addresses and keeps the rest', async () => {
    const route = await resolveRoute(dns.resolver(), 'half.test');
    expect(route.kind === 'hosts' && route.hosts.map((h) => h.name)).toEqual(['ok.half.test']);
  });

  it('falls back to the domain\'s own A record when there is no MX (implicit MX)', async () => {
    const route = await resolveRoute(dns.resolver(), 'implicit.test');
    expect(route).toEqual({ kind: 'hosts', implicit: true, hosts: [{ name: 'implicit.test', priority: 0, addresses: ['127.0.0.16'] }] });
  });

  it('a null MX means no mail: 5.1.10', async () => {
    expect(await resolveRoute(dns.resolver(), 'null.test')).toMatchObject({ kind: 'none', status: '5.1.10' });
  });

  it('NXDOMAIN, or no MX and no address, is a permanent 5.1.2', async () => {
    expect(await resolveRoute(dns.resolver(), 'missing.test')).toMatchObject({ kind: 'none', status: '5.1.2' });
    expect(await resolveRoute(dns.resolver(), 'noaddress.test')).toMatchObject({ kind: 'none', status: '5.1.2' });
  });
});

describe('enhanced status codes (RFC 3463)', () => {
  it('finds the code after the reply code', () => {
    expect(enhancedCode('550 5.1.1 <x@y>: User unknown')).toBe('5.1.1');
    expect(enhancedCode('550-5.7.1 blocked')).toBe('5.7.1');
    expect(enhancedCode('550 User unknown')).toBeNull();
  });

  it('maps subject and detail to bounce sub-types', () => {
    expect(bounceSubType('550 5.1.1 User unknown')).toBe('NoEmail');
    expect(bounceSubType('556 5.1.10 null MX')).toBe('NoEmail');
    expect(bounceSubType('552 5.2.2 Mailbox full')).toBe('MailboxFull');
    expect(bounceSubType('552 5.3.4 Message too big')).toBe('MessageTooLarge');
    expect(bounceSubType('550 5.7.1 Message rejected as spam')).toBe('ContentRejected');
    expect(bounceSubType('554 Transaction failed')).toBe('General');
  });
});
