// DNS blocklists (RFC 5782): the client's IPv4 address, octets reversed, under each zone of
// MAILSTACK_DNSBL, looked up through MAILSTACK_DNS_SERVERS. An A record in 127.0.0.0/8 means
// listed; NXDOMAIN means not listed; a timeout or error counts as not listed (a blocklist that is
// down must not stop mail), and is logged.
import { isIPv4, isIPv6 } from 'node:net';
import type { Core } from '../core/core.ts';
import { configuredResolver } from '../domains/dns.ts';

/** The query name of an address under a zone, or null for an address a blocklist cannot list. */
export function dnsblName(ip: string, zone: string): string | null {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIPv4(v4)) return `${v4.split('.').reverse().join('.')}.${zone}`;
  if (isIPv6(ip)) {
    // RFC 5782 §2.4: every nibble, reversed.
    const parts = ip.split('::');
    const head = parts[0] ? parts[0].split(':') : [];
    const tail = parts[1] ? parts[1].split(':') : [];
    const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
    const nibbles = groups.map((g) => g.padStart(4, '0')).join('').split('');
    return `${nibbles.reverse().join('.')}.${zone}`;
  }
  return null;
}

/** The zones that list `ip` (each with its answer). */
export async function dnsblListings(core: Core, ip: string | null): Promise<{ zone: string; answer: string }[]> {
  const zones = core.settings.spam.dnsbl;
  if (!ip || !zones.length) return [];
  const resolver = configuredResolver(core.settings, { timeoutMs: 1500, tries: 1 });
  const found = await Promise.all(
    zones.map(async (zone) => {
      const name = dnsblName(ip, zone);
      if (!name) return null;
      try {
        const answers = await resolver.resolve4(name);
        const hit = answers.find((a) => a.startsWith('127.'));
        return hit ? { zone, answer: hit } : null;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTFOUND' && code !== 'ENODATA') core.log.warn({ zone, code }, 'DNSBL look-up failed; counted as not listed');
        return null;
      }
    }),
  );
  return found.filter((f): f is { zone: string; answer: string } => f !== null);
}
