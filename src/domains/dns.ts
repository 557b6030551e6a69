// DNS look-ups for domain verification, through the resolvers in MAILSTACK_DNS_SERVERS (the
// system's when unset). Each answer is found / absent (NXDOMAIN or no data: the record is simply
// not there yet) / error (timeout, SERVFAIL, refused: we learnt nothing, try again later).
import { Resolver } from 'node:dns/promises';
import type { Settings } from '../config/settings.ts';
import type { Lookup } from './records.ts';

const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

export interface DnsLookups {
  txt(name: string): Promise<Lookup<string>>;
  mx(name: string): Promise<Lookup<{ exchange: string; priority: number }>>;
  srv?(name: string): Promise<Lookup<{ name: string; port: number; priority: number; weight: number }>>;
  cname?(name: string): Promise<Lookup<string>>;
}

/** A resolver on the configured servers (host:port; IPv6 hosts bracketed as node expects). */
export function configuredResolver(settings: Pick<Settings, 'dnsServers'>, opts: { timeoutMs?: number; tries?: number } = {}): Resolver {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 3000, tries: opts.tries ?? 2 });
  if (settings.dnsServers.length > 0) {
    resolver.setServers(settings.dnsServers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)));
  }
  return resolver;
}

async function lookup<T>(run: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const values = await run();
    return values.length ? { kind: 'found', values } : { kind: 'absent' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    return ABSENT.has(code) ? { kind: 'absent' } : { kind: 'error', code };
  }
}

export function dnsLookups(settings: Pick<Settings, 'dnsServers'>): DnsLookups {
  const resolver = configuredResolver(settings);
  return {
    // A TXT record may be split into several character-strings (RFC 1035 §3.3.14); SPF (RFC 7208
    // §3.3) and DKIM (RFC 6376 §3.6.2.2) join them with nothing between.
    txt: (name) => lookup(async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''))),
    mx: (name) => lookup(() => resolver.resolveMx(name)),
    srv: (name) => lookup(() => resolver.resolveSrv(name)),
    cname: (name) => lookup(() => resolver.resolveCname(name)),
  };
}
