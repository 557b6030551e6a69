// Where a webhook may be sent: the SSRF guard.
//
// A webhook URL is chosen by a tenant, and the server POSTs to it from inside the operator's
// network, so a target that resolves to loopback, a private network, link-local (cloud metadata at
// 169.254.169.254), CGNAT, multicast, unspecified or reserved space is refused, in every spelling:
// IPv4, IPv6, and IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, the deprecated
// IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16).
//
// `resolveTarget` resolves a host once and checks every address it returns (one bad address refuses
// the lot: a resolver that answers with both would otherwise be a coin toss). The delivery then
// connects only to the addresses that were checked (see delivery.ts), so a second DNS answer (rebinding)
// cannot switch the target after the check.
// The resolvers are the configured ones (MAILSTACK_DNS_SERVERS, A and AAAA asked directly), the
// same the rest of the node trusts; only without that setting does the system resolver answer.
// Checking one resolver's answer and connecting to another's would check nothing (issue 9).
// `localhost` and `*.localhost` are loopback by definition (RFC 6761 §6.3), never asked of DNS.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Settings } from '../config/settings.ts';
import { configuredResolver } from '../domains/dns.ts';

/** Why an address is not public, or null when it is a public unicast address. */
export function nonPublicReason(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return ipv4Reason(parseIpv4(address)!);
  if (family === 6) {
    const bytes = parseIpv6(address);
    return bytes ? ipv6Reason(bytes) : 'an unparsable IPv6 address';
  }
  return 'not an IP address';
}

export function isPublicAddress(address: string): boolean {
  return nonPublicReason(address) === null;
}

type V4 = [number, number, number, number];

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 and updates), minus the globally reachable
// entries that matter for HTTP (none of these are).
const V4_BLOCKS: [V4, number, string][] = [
  [[0, 0, 0, 0], 8, 'an unspecified ("this network") address'],
  [[10, 0, 0, 0], 8, 'a private address (RFC 1918)'],
  [[100, 64, 0, 0], 10, 'a carrier-grade NAT address (RFC 6598)'],
  [[127, 0, 0, 0], 8, 'a loopback address'],
  [[169, 254, 0, 0], 16, 'a link-local address'],
  [[172, 16, 0, 0], 12, 'a private address (RFC 1918)'],
  [[192, 0, 0, 0], 24, 'an IETF protocol assignment address'],
  [[192, 0, 2, 0], 24, 'a documentation address'],
  [[192, 88, 99, 0], 24, 'a 6to4 relay anycast address'],
  [[192, 168, 0, 0], 16, 'a private address (RFC 1918)'],
  [[198, 18, 0, 0], 15, 'a benchmarking address'],
  [[198, 51, 100, 0], 24, 'a documentation address'],
  [[203, 0, 113, 0], 24, 'a documentation address'],
  [[224, 0, 0, 0], 4, 'a multicast address'],
  [[240, 0, 0, 0], 4, 'a reserved address'],
];

function parseIpv4(s: string): V4 | null {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.map(Number) as V4;
}

function ipv4Reason(a: V4): string | null {
  const n = ((a[0] << 24) >>> 0) + (a[1] << 16) + (a[2] << 8) + a[3];
  for (const [base, bits, why] of V4_BLOCKS) {
    const b = ((base[0] << 24) >>> 0) + (base[1] << 16) + (base[2] << 8) + base[3];
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === ((b & mask) >>> 0)) return why;
  }
  return null;
}

/** 16 bytes, or null. Accepts `::`, embedded dotted IPv4 tails and a `%zone` suffix. */
function parseIpv6(input: string): number[] | null {
  let s = input.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseIpv4(dotted[2]);
    if (!v4) return null;
    tail = v4;
    // "::ffff:1.2.3.4" keeps its "::"; "1:2:3:4:5:6:1.2.3.4" loses the colon before the IPv4 part.
    s = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const want = 8 - tail.length / 2;
  const fill = halves.length === 2 ? want - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== want)) return null;
  const all = [...head, ...Array(fill).fill('0'), ...rest];
  if (all.length !== want || all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  const bytes: number[] = [];
  for (const g of all) {
    const v = parseInt(g, 16);
    bytes.push(v >> 8, v & 0xff);
  }
  return [...bytes, ...tail];
}

function startsWith(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const bit = 7 - (i & 7);
    if (((bytes[byte] >> bit) & 1) !== ((prefix[byte] >> bit) & 1)) return false;
  }
  return true;
}

const zeros = (n: number) => Array(n).fill(0);

function ipv6Reason(b: number[]): string | null {
  if (b.every((x) => x === 0)) return 'an unspecified address';
  if (startsWith(b, [...zeros(15), 1], 128)) return 'a loopback address';
  // Forms that carry an IPv4 address: judge the IPv4 address they lead to.
  const embedded = (v4: number[], form: string) => {
    const why = ipv4Reason(v4 as V4);
    return why ? `${why} (${form})` : null;
  };
  if (startsWith(b, [...zeros(10), 0xff, 0xff], 96)) return embedded(b.slice(12), 'IPv4-mapped IPv6');
  if (startsWith(b, zeros(12), 96)) return embedded(b.slice(12), 'IPv4-compatible IPv6') ?? 'a reserved IPv4-compatible IPv6 address';
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, ...zeros(8)], 96)) return embedded(b.slice(12), 'NAT64');
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48)) return 'a local-use NAT64 address';
  if (startsWith(b, [0x20, 0x02], 16)) return embedded(b.slice(2, 6), '6to4');
  if (startsWith(b, [0x01, 0x00, ...zeros(6)], 64)) return 'a discard-only address';
  if (startsWith(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return 'a documentation address';
  if (startsWith(b, [0x20, 0x01, 0x00, 0x00], 32)) return 'a Teredo address';
  if (startsWith(b, [0xfc], 7)) return 'a private (unique local) address';
  if (startsWith(b, [0xfe, 0x80], 10)) return 'a link-local address';
  if (startsWith(b, [0xfe, 0xc0], 10)) return 'a site-local address';
  if (startsWith(b, [0xff], 8)) return 'a multicast address';
  return null;
}

export interface ResolvedTarget {
  /** Every address the host resolved to, each one checked; connect only to these. */
  addresses: { address: string; family: 4 | 6 }[];
}

/** Thrown when a host cannot be used as a webhook target; the message is fit for the caller. */
export class TargetRefused extends Error {}

/**
 * Resolves `hostname` (a name or an IP literal, IPv6 with or without brackets) and checks every
 * address. Returns the addresses to connect to. With `allowPrivate`, any address is accepted.
 */
export async function resolveTarget(hostname: string, allowPrivate: boolean, dnsServers: Settings['dnsServers'] = []): Promise<ResolvedTarget> {
  const host = hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else if (/(^|\.)localhost\.?$/i.test(host)) {
    addresses = [{ address: '127.0.0.1', family: 4 }];
  } else {
    try {
      addresses = dnsServers.length ? await resolveWith(host, dnsServers) : await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new TargetRefused(`The host ${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'}).`);
    }
    if (addresses.length === 0) throw new TargetRefused(`The host ${host} has no addresses.`);
  }
  if (!allowPrivate) {
    for (const a of addresses) {
      const why = nonPublicReason(a.address);
      if (why) throw new TargetRefused(`The host ${host} resolves to ${a.address}, ${why}; webhooks may only be sent to public addresses.`);
    }
  }
  return { addresses: addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })) };
}

/** A and AAAA of `host` from the configured resolvers; throws (with a code) when neither answers. */
async function resolveWith(host: string, dnsServers: Settings['dnsServers']): Promise<{ address: string; family: number }[]> {
  const resolver = configuredResolver({ dnsServers });
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const out = [
    ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
    ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
  ];
  if (out.length === 0 && v4.status === 'rejected') throw v4.reason;
  return out;
}
