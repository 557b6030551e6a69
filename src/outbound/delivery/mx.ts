// Where mail for a domain goes: the MX look-up of RFC 5321 §5.1, through the resolvers in
// MAILSTACK_DNS_SERVERS (src/domains/dns.ts), with the null MX of RFC 7505.
//
// - MX records are tried in preference order, lowest first; records of equal preference are
//   shuffled so load spreads over them (RFC 5321 §5.1).
// - No MX record at all (the name exists, NODATA) means the domain itself is the one MX: its A and
//   AAAA records (the "implicit MX", RFC 5321 §5.1).
// - A single MX of "." (node reports an empty exchange) is a null MX: the domain accepts no mail
//   (RFC 7505 §3) and the message bounces at once with 5.1.10.
// - A domain that does not exist (NXDOMAIN) bounces with 5.1.2 (RFC 3463 §3.2: bad destination
//   system address). A resolver that times out or fails (SERVFAIL, refused) teaches us nothing:
//   that is a temporary failure, tried again later.
import { isIP } from 'node:net';
import type { Resolver } from 'node:dns/promises';

export interface MxHost {
  /** The MX host name (or the domain itself for an implicit MX, or an IP literal). */
  name: string;
  priority: number;
  /** Its addresses, IPv4 first; empty when the host name resolves to nothing (skipped). */
  addresses: string[];
}

export type Route =
  | { kind: 'hosts'; hosts: MxHost[]; implicit: boolean }
  /** Permanent: the domain says it accepts no mail, or does not exist. */
  | { kind: 'none'; status: string; reason: string }
  /** Temporary: DNS did not answer; try again later. */
  | { kind: 'dns-error'; reason: string };

const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
}

/** The addresses of a host name: A then AAAA; absent records are simply not there. */
export async function hostAddresses(resolver: Resolver, name: string): Promise<string[] | { error: string }> {
  if (isIP(name)) return [name];
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const out: string[] = [];
  const errors: string[] = [];
  for (const r of [v4, v6]) {
    if (r.status === 'fulfilled') out.push(...r.value);
    else if (!ABSENT.has(code(r.reason))) errors.push(code(r.reason));
  }
  // Only when nothing was found and a look-up failed do we know nothing.
  if (out.length === 0 && errors.length) return { error: errors.join(',') };
  return out;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Looks up the MX hosts of `domain` and their addresses. */
export async function resolveRoute(resolver: Resolver, domain: string): Promise<Route> {
  let mx: { exchange: string; priority: number }[];
  try {
    mx = await resolver.resolveMx(domain);
  } catch (err) {
    const c = code(err);
    if (c === 'ENOTFOUND' || c === 'NXDOMAIN') {
      return { kind: 'none', status: '5.1.2', reason: `550 5.1.2 The domain ${domain} does not exist (NXDOMAIN)` };
    }
    if (c !== 'ENODATA') return { kind: 'dns-error', reason: `MX look-up of ${domain} failed: ${c}` };
    mx = [];
  }

  // RFC 7505 §3: a null MX is a single record with the root as exchange.
  if (mx.some((m) => m.exchange === '' || m.exchange === '.')) {
    if (mx.length === 1) {
      return { kind: 'none', status: '5.1.10', reason: `556 5.1.10 The domain ${domain} accepts no mail (null MX, RFC 7505)` };
    }
    mx = mx.filter((m) => m.exchange !== '' && m.exchange !== '.');
  }

  let implicit = false;
  if (mx.length === 0) {
    // RFC 5321 §5.1: no MX, so the domain itself is treated as the MX, preference 0.
    implicit = true;
    mx = [{ exchange: domain, priority: 0 }];
  }

  // Preference order; equal preferences in random order (RFC 5321 §5.1).
  const byPriority = new Map<number, string[]>();
  for (const m of mx) byPriority.set(m.priority, [...(byPriority.get(m.priority) ?? []), m.exchange.replace(/\.$/, '').toLowerCase()]);
  const ordered = [...byPriority.keys()].sort((a, b) => a - b).flatMap((p) => shuffle([...new Set(byPriority.get(p)!)]).map((name) => ({ name, priority: p })));

  const hosts: MxHost[] = [];
  const errors: string[] = [];
  for (const h of ordered) {
    const addrs = await hostAddresses(resolver, h.name);
    if (Array.isArray(addrs)) hosts.push({ ...h, addresses: addrs });
    else errors.push(`${h.name}: ${addrs.error}`);
  }
  const usable = hosts.filter((h) => h.addresses.length > 0);
  if (usable.length === 0) {
    if (errors.length) return { kind: 'dns-error', reason: `address look-up failed (${errors.join('; ')})` };
    if (implicit) return { kind: 'none', status: '5.1.2', reason: `550 5.1.2 The domain ${domain} has no MX and no address records` };
    // MX hosts that exist in DNS but have no address: a misconfiguration that may be fixed soon.
    return { kind: 'dns-error', reason: `no MX host of ${domain} has an address (${ordered.map((h) => h.name).join(', ')})` };
  }
  return { kind: 'hosts', hosts: usable, implicit };
}
