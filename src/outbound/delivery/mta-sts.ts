// Outbound MTA-STS (RFC 8461): before delivering to a domain, find its policy and apply it to the
// MX hosts. mailauth (lib/mta-sts) reads the `_mta-sts` TXT record and parses the policy text;
// the HTTPS fetch is ours, so it goes to the address our configured resolvers give and can trust
// an extra CA (MAILSTACK_MTA_STS_CA_FILE, for tests on loopback).
//
// Implementation notes (invariants a newcomer must not break):
// - Look-ups go through MAILSTACK_DNS_SERVERS like every other (the caller passes that resolver).
// - The policy is fetched only over HTTPS with a certificate valid for mta-sts.<domain> (§3.3),
//   no redirects followed (§3.3), a text/plain body of at most 64 KiB, within 15 s.
// - Cache (§5.1, table mta_sts_policies): a policy is re-fetched when the TXT id changes or it
//   expired; a failed fetch, or a TXT record that vanished, leaves an unexpired cached policy in
//   force, so blocking DNS or HTTPS cannot downgrade delivery. max_age is capped at one year (§3.2).
// - `enforce` (§5): only MX hosts that match a policy `mx:` pattern are tried (a `*.` pattern
//   matches exactly one left-most label, §4.1), each with STARTTLS required and a certificate valid
//   for the MX name (§4.2). No matching host, or none with valid TLS, is a temporary failure: the
//   message is deferred, never bounced for it (§5.1), and the policy is looked at again next time.
// - `testing`: delivery goes on as without a policy; what enforce would have refused is logged
//   (the report-only mode of §5). `none`, or no policy: nothing changes.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Resolver } from 'node:dns/promises';
import { rootCertificates } from 'node:tls';
import { parsePolicy, resolvePolicy } from 'mailauth/lib/mta-sts.js';
import type { Core } from '../../core/core.ts';

export interface StsPolicy {
  domain: string;
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  mx: string[];
  maxAge: number;
  expiresAt: number;
}

const MAX_POLICY_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 15_000;
const MAX_AGE_CAP = 31_557_600;

const caCache = new Map<string, string[]>();

/** The CAs trusted for policy hosts and MX hosts under a policy: the system's plus the configured file. */
export function trustedCas(core: Core): string[] | undefined {
  const file = core.settings.mtaStsCaFile;
  if (!file) return undefined;
  let cas = caCache.get(file);
  if (!cas) {
    cas = [...rootCertificates, readFileSync(file, 'utf8')];
    caCache.set(file, cas);
  }
  return cas;
}

/** RFC 8461 §4.1: an MX host name matches a pattern exactly, or `*.rest` with one label before rest. */
export function mxMatches(mx: string, patterns: string[]): boolean {
  const host = mx.toLowerCase().replace(/\.$/, '');
  return patterns.some((raw) => {
    const p = raw.toLowerCase().replace(/\.$/, '');
    if (!p.startsWith('*.')) return p === host;
    const rest = p.slice(1); // ".example.com"
    if (!host.endsWith(rest)) return false;
    const label = host.slice(0, host.length - rest.length);
    return label.length > 0 && !label.includes('.');
  });
}

type Row = { domain: string; policy_id: string; mode: string; mx_json: string; max_age: number; fetched_at: number; expires_at: number };

const fromRow = (r: Row): StsPolicy => ({ domain: r.domain, id: r.policy_id, mode: r.mode as StsPolicy['mode'], mx: JSON.parse(r.mx_json), maxAge: Number(r.max_age), expiresAt: Number(r.expires_at) });

/** GET https://mta-sts.<domain>/.well-known/mta-sts.txt at the address our resolvers give. */
async function fetchPolicyText(core: Core, resolver: Resolver, domain: string): Promise<string> {
  const host = `mta-sts.${domain}`;
  const addresses = await resolver.resolve4(host).catch(async () => resolver.resolve6(host));
  if (!addresses.length) throw new Error(`${host} has no address`);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: addresses[0],
        port: core.settings.mtaStsHttpsPort,
        path: '/.well-known/mta-sts.txt',
        method: 'GET',
        servername: host,
        headers: { host, 'user-agent': 'Mailstack MTA-STS' },
        ca: trustedCas(core),
        rejectUnauthorized: true,
        timeout: FETCH_TIMEOUT_MS,
        minVersion: 'TLSv1.2',
      },
      (res) => {
        // §3.3: no redirects; §3.2: text/plain.
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`policy fetch answered HTTP ${res.statusCode}`));
        }
        if (!/^text\/plain\b/i.test(String(res.headers['content-type'] ?? ''))) {
          res.resume();
          return reject(new Error(`policy is not text/plain (${res.headers['content-type'] ?? 'no type'})`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_POLICY_BYTES) {
            req.destroy(new Error('policy larger than 64 KiB'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('policy fetch timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The policy in force for `domain`, or null when there is none. Never throws: a failure to learn
 * the policy leaves the cached one (if unexpired) or none, and is logged.
 */
export async function policyFor(core: Core, resolver: Resolver, domain: string): Promise<StsPolicy | null> {
  const log = core.log.child({ part: 'delivery.mta-sts', domain });
  const now = core.clock.now();
  const row = (await core.db.selectFrom('mta_sts_policies').selectAll().where('domain', '=', domain).executeTakeFirst()) as Row | undefined;
  const cached = row && Number(row.expires_at) > now ? fromRow(row) : null;
  let id: string | false;
  try {
    id = await resolvePolicy(domain, { resolver: (name: string, rr: string) => resolver.resolve(name, rr as 'TXT') as Promise<any> });
  } catch (err) {
    log.info({ err }, 'MTA-STS TXT look-up failed; the cached policy (if any) stays in force');
    return cached;
  }
  if (!id) return cached; // §5.1: a vanished TXT record does not end an unexpired policy
  if (cached && cached.id === id) return cached;
  try {
    const parsed = parsePolicy(await fetchPolicyText(core, resolver, domain));
    const maxAge = Math.min(Number(parsed.maxAge ?? 0), MAX_AGE_CAP);
    const policy: StsPolicy = { domain, id, mode: parsed.mode, mx: parsed.mx ?? [], maxAge, expiresAt: now + maxAge * 1000 };
    const values = { policy_id: id, mode: policy.mode, mx_json: JSON.stringify(policy.mx), max_age: maxAge, fetched_at: now, expires_at: policy.expiresAt };
    await core.db
      .insertInto('mta_sts_policies')
      .values({ domain, ...values })
      .onConflict((oc) => oc.column('domain').doUpdateSet(values))
      .execute();
    log.info({ mode: policy.mode, mx: policy.mx, maxAge }, 'MTA-STS policy fetched');
    return policy;
  } catch (err) {
    log.warn({ err }, 'MTA-STS policy could not be fetched; the cached policy (if any) stays in force');
    return cached;
  }
}
