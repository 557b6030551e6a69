// Development mode's DNS: the node answers for its own domains with exactly the records it asks
// their owners to publish, and knows no other name. Domain verification (src/domains/verify.ts)
// and the SPF/DKIM/DMARC checks of mail delivered locally (src/inbound/authenticate.ts) ask it
// instead of the network, so "verify" succeeds without DNS and a message between two hosted
// inboxes passes authentication as it would in production. Nothing here ever leaves the process.
//
// Implementation notes:
// - Only used when settings.mode is 'development' (the callers check): in production a domain is
//   verified by public DNS alone.
// - Names are compared without case and trailing dot. Every domain of the node counts, whatever
//   its workspace: development mode proves no ownership (which is why its store is marked and a
//   production node refuses it, src/devmode/mode.ts).
// - Errors carry node's codes (ENOTFOUND for a name we do not know, ENODATA for a known name
//   without that type), which is what both callers treat as "no such record".
import type { Core } from '../core/core.ts';
import type { DnsLookups } from '../domains/dns.ts';
import { expectedRecords } from '../domains/records.ts';

const norm = (name: string) => String(name).replace(/\.$/, '').toLowerCase();

function noRecord(name: string, code: 'ENOTFOUND' | 'ENODATA'): Error {
  return Object.assign(new Error(`${code} ${name} (development mode answers only for this node's domains)`), { code });
}

/** The records of every domain on this node whose name is `fqdn` or an ancestor of it. */
async function recordsAt(core: Core, fqdn: string) {
  const labels = fqdn.split('.');
  const candidates = labels.map((_, i) => labels.slice(i).join('.')).filter((n) => n.includes('.') || n === fqdn);
  const rows = await core.db.selectFrom('domains').selectAll().where('name', 'in', candidates).execute();
  return rows.flatMap((row) => expectedRecords(row, core.settings.hostname, core.settings)).filter((r) => norm(r.fqdn) === fqdn);
}

/** A resolver in the shape of `dns.promises.resolve(name, rrtype)` (what mailauth takes). */
export function developmentResolve(core: Core) {
  return async (rawName: string, rrtype: string): Promise<unknown> => {
    const name = norm(rawName);
    const type = String(rrtype).toUpperCase();
    if (name === norm(core.settings.hostname) || name === 'localhost') {
      if (type === 'A') return ['127.0.0.1'];
      if (type === 'AAAA') return ['::1'];
      throw noRecord(name, 'ENODATA');
    }
    const records = await recordsAt(core, name);
    if (!records.length) throw noRecord(name, 'ENOTFOUND');
    const matching = records.filter((r) => r.type === type);
    if (!matching.length) throw noRecord(name, 'ENODATA');
    // De-duplicated: the root SPF advice and the return-path SPF can hold the same text.
    if (type === 'TXT') return [...new Set(matching.map((r) => r.value))].map((v) => [v]);
    if (type === 'CNAME') return matching.map((r) => r.value);
    if (type === 'SRV') {
      return matching.map((r) => {
        const [weight, port, target] = r.value.split(' ');
        return { name: target, port: Number(port), priority: r.priority ?? 0, weight: Number(weight) };
      });
    }
    return matching.map((r) => ({ exchange: r.value, priority: r.priority ?? 10 }));
  };
}

/** Domain verification's look-ups, answered by this node (see above). */
export function developmentLookups(core: Core): DnsLookups {
  const resolve = developmentResolve(core);
  const lookup = async <T>(name: string, type: string): Promise<{ kind: 'found'; values: T[] } | { kind: 'absent' }> => {
    try {
      return { kind: 'found', values: (await resolve(name, type)) as T[] };
    } catch {
      return { kind: 'absent' };
    }
  };
  return {
    txt: async (name) => {
      const r = await lookup<string[]>(name, 'TXT');
      return r.kind === 'found' ? { kind: 'found', values: r.values.map((chunks) => chunks.join('')) } : r;
    },
    mx: (name) => lookup<{ exchange: string; priority: number }>(name, 'MX'),
    srv: (name) => lookup<{ name: string; port: number; priority: number; weight: number }>(name, 'SRV'),
    cname: (name) => lookup<string>(name, 'CNAME'),
  };
}
