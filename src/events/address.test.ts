// The SSRF guard's address classifier and resolver (address.ts).
import { describe, expect, it } from 'vitest';
import { TargetRefused, isPublicAddress, nonPublicReason, resolveTarget } from './address.ts';

describe('nonPublicReason', () => {
  const refused: [string, RegExp][] = [
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['10.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.255', /carrier-grade NAT/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /reserved/],
    ['192.0.2.1', /documentation/],
    ['198.18.0.1', /benchmarking/],
    ['::1', /loopback/],
    ['0:0:0:0:0:0:0:1', /loopback/],
    ['::', /unspecified/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['fc00::1', /unique local/],
    ['fd12:3456:789a::1', /unique local/],
    ['ff02::1', /multicast/],
    ['2001:db8::1', /documentation/],
    // IPv6 spellings of IPv4 addresses are judged by the IPv4 address they carry.
    ['::ffff:127.0.0.1', /loopback.*IPv4-mapped/],
    ['::ffff:7f00:1', /loopback.*IPv4-mapped/],
    ['::FFFF:10.1.2.3', /private.*IPv4-mapped/],
    ['::ffff:169.254.169.254', /link-local.*IPv4-mapped/],
    ['::ffff:0.0.0.0', /unspecified.*IPv4-mapped/],
    ['::127.0.0.1', /loopback.*IPv4-compatible/],
    ['64:ff9b::10.0.0.1', /private.*NAT64/],
    ['2002:7f00:1::1', /loopback.*6to4/],
  ];
  for (const [address, why] of refused) {
    it(`refuses ${address}`, () => {
      expect(nonPublicReason(address)).toMatch(why);
      expect(isPublicAddress(address)).toBe(false);
    });
  }

  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8']) {
    it(`accepts the public address ${address}`, () => {
      expect(nonPublicReason(address)).toBeNull();
    });
  }

  it('refuses what is not an IP address', () => {
    for (const s of ['', 'localhost', '1.2.3', '1.2.3.256', '1::2::3', '::ffff:1.2.3', 'fe80::g']) expect(isPublicAddress(s)).toBe(false);
  });
});

describe('resolveTarget', () => {
  it('refuses a name that resolves to loopback, and IP literals in private space', async () => {
    await expect(resolveTarget('localhost', false)).rejects.toThrow(TargetRefused);
    await expect(resolveTarget('127.0.0.1', false)).rejects.toThrow(/loopback/);
    await expect(resolveTarget('[::1]', false)).rejects.toThrow(/loopback/);
    await expect(resolveTarget('::ffff:127.0.0.1', false)).rejects.toThrow(/IPv4-mapped/);
  });

  it('returns the checked literal without a lookup, and allows private space when told to', async () => {
    expect(await resolveTarget('1.1.1.1', false)).toEqual({ addresses: [{ address: '1.1.1.1', family: 4 }] });
    expect(await resolveTarget('127.0.0.1', true)).toEqual({ addresses: [{ address: '127.0.0.1', family: 4 }] });
    expect(await resolveTarget('[::1]', true)).toEqual({ addresses: [{ address: '::1', family: 6 }] });
  });

  it('refuses a name that does not resolve', async () => {
    await expect(resolveTarget('no-such-host.invalid', true)).rejects.toThrow(/could not be resolved/);
  });
});
