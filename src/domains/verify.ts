// The domain checker: the `domain.verify` job looks every record up and writes its status and the
// domain's; the `domains.recheck` schedule queues checks for domains that are due.
//
// Implementation notes:
// - Look-ups happen before the transaction; the write re-reads the row inside it and applies each
//   verdict only to a record whose expected value is still the one looked up (records.ts keys
//   statuses by purpose, name and value), so an update racing a check cannot mark a value verified
//   that was never looked up. A domain removed meanwhile is simply skipped.
// - DNS trouble (timeout, SERVFAIL) is not a job failure: it becomes `temporary_failure` (or keeps a
//   verified record verified) and the schedule tries again. Only a database error fails the job.
// - Re-check cadence: domains still being verified every UNVERIFIED_EVERY_MS; verified and failed
//   ones every VERIFIED_EVERY_MS, so a record that is later removed or fixed is noticed.
import type { Actor, Core } from '../core/core.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { Worker } from '../jobs/worker.ts';
import { DOMAIN_VERIFY_JOB, type DomainRow, domainUpdated, requestVerification } from './domains.ts';
import { type DnsLookups, dnsLookups } from './dns.ts';
import { settleOwnership } from './ownership.ts';
import { developmentLookups } from '../devmode/dns.ts';
import { type Lookup, type StoredStatus, VERIFY_GRACE_MS, domainStatusOf, judge, mergedRecords, recordStatusOf } from './records.ts';

export const DOMAINS_RECHECK_JOB = 'domains.recheck';
const MINUTE = 60_000;
export const RECHECK_TICK_MS = 5 * MINUTE;
export const UNVERIFIED_EVERY_MS = 10 * MINUTE;
export const VERIFIED_EVERY_MS = 24 * 60 * MINUTE;

/** Public DNS; in development mode, the node's own answers (src/devmode/dns.ts). */
function lookupsFor(core: Core): DnsLookups {
  return core.settings.mode === 'development' ? developmentLookups(core) : dnsLookups(core.settings);
}

/**
 * Starts verification (domains.verify). In development mode the check runs at once, so the domain
 * is verified when the call returns; otherwise the queued `domain.verify` job does it.
 */
export async function startVerification(core: Core, actor: Actor, workspaceId: string, id: string) {
  const out = await requestVerification(core, actor, workspaceId, id);
  if (core.settings.mode === 'development') await checkDomain(core, id);
  return out;
}

/** Checks one domain's records now; returns the new status, or null when the domain is gone. */
export async function checkDomain(core: Core, domainId: string, dns: DnsLookups = lookupsFor(core)): Promise<string | null> {
  const row = await core.db.selectFrom('domains').selectAll().where('id', '=', domainId).executeTakeFirst();
  if (!row) return null;
  const hostname = core.settings.hostname;
  const records = mergedRecords(row, hostname, core.settings);

  // One look-up per (type, name), shared by the records that live there.
  const txt = new Map<string, ReturnType<DnsLookups['txt']>>();
  const mx = new Map<string, ReturnType<DnsLookups['mx']>>();
  const other = new Map<string, Promise<Lookup<any>>>();
  for (const r of records) {
    if (r.type === 'TXT' && !txt.has(r.fqdn)) txt.set(r.fqdn, dns.txt(r.fqdn));
    if (r.type === 'MX' && !mx.has(r.fqdn)) mx.set(r.fqdn, dns.mx(r.fqdn));
    // SRV and CNAME (mail-client advice) when the look-ups can do them.
    const extra = r.type === 'SRV' ? dns.srv : r.type === 'CNAME' ? dns.cname : undefined;
    if (extra && !other.has(`${r.type} ${r.fqdn}`)) other.set(`${r.type} ${r.fqdn}`, extra(r.fqdn));
  }
  const verdicts = (
    await Promise.all(
      records.map(async (r) => {
        const extra = other.get(`${r.type} ${r.fqdn}`);
        if ((r.type === 'SRV' || r.type === 'CNAME') && !extra) return null;
        return {
          purpose: r.purpose,
          name: r.name,
          value: r.value,
          verdict: judge(r, hostname, r.type === 'TXT' ? await txt.get(r.fqdn)! : null, r.type === 'MX' ? await mx.get(r.fqdn)! : null, extra ? await extra : null),
        };
      }),
    )
  ).filter((v) => v !== null);

  return core.store.transaction(async (tx) => {
    const current = await tx.selectFrom('domains').selectAll().where('id', '=', domainId).executeTakeFirst();
    if (!current) return null;
    const now = core.clock.now();
    // A check that nobody asked for (verification never started) still records what it saw.
    const startedAt = current.verification_started_at ?? now;
    const graceOver = now - startedAt > VERIFY_GRACE_MS;
    const before = mergedRecords(current, hostname, core.settings);
    const stored: StoredStatus[] = before.map((r) => {
      const v = verdicts.find((x) => x.purpose === r.purpose && x.name === r.name && x.value === r.value);
      return { purpose: r.purpose, name: r.name, value: r.value, status: v ? recordStatusOf(v.verdict, r.status, graceOver) : r.status };
    });
    const next: DomainRow = { ...current, records: JSON.stringify(stored), verification_started_at: startedAt, last_checked_at: now };
    next.status = domainStatusOf(mergedRecords(next, hostname, core.settings), current.verified_at !== null);
    if (next.status === 'verified' && current.status !== 'verified') next.verified_at = now;
    await tx
      .updateTable('domains')
      .set({
        records: next.records,
        status: next.status,
        verification_started_at: next.verification_started_at,
        last_checked_at: now,
        verified_at: next.verified_at,
        updated_at: next.status !== current.status ? now : current.updated_at,
      })
      .where('id', '=', domainId)
      .execute();
    // Ownership (ownership.ts): the token seen at _mailstack-challenge.<name> may make this row the
    // owner, and take the name from another workspace whose token is gone.
    const own = before.find((r) => r.purpose === 'ownership');
    const seen = own ? await txt.get(own.fqdn) : undefined;
    const settled = await settleOwnership(core, tx, next, seen?.kind === 'found' ? seen.values : null);
    if (settled.lost) await domainUpdated(core, settled.lost.row, settled.lost.previousStatus, tx);
    if (settled.row.status !== current.status) await domainUpdated(core, settled.row, current.status, tx);
    return settled.row.status;
  });
}

/** Queues a check for every domain that is due (at most `limit` per run); returns how many. */
export async function enqueueDueChecks(core: Core, limit = 500): Promise<number> {
  const now = core.clock.now();
  const rows = await core.db
    .selectFrom('domains')
    .select('id')
    .where((eb) =>
      eb.or([
        eb.and([
          eb('status', 'in', ['pending', 'partially_verified', 'partially_failed']),
          eb.or([eb('last_checked_at', 'is', null), eb('last_checked_at', '<=', now - UNVERIFIED_EVERY_MS)]),
        ]),
        eb.and([
          eb('status', 'in', ['verified', 'failed']),
          eb.or([eb('last_checked_at', 'is', null), eb('last_checked_at', '<=', now - VERIFIED_EVERY_MS)]),
        ]),
      ]),
    )
    .orderBy('last_checked_at')
    .limit(limit)
    .execute();
  for (const r of rows) {
    await core.jobs.enqueue(DOMAIN_VERIFY_JOB, { domainId: r.id }, { uniqueKey: `${DOMAIN_VERIFY_JOB}:${r.id}`, maxAttempts: 3 });
  }
  return rows.length;
}

export function registerDomainJobs(core: Core, worker: Worker, scheduler: Scheduler): void {
  worker.handle(DOMAIN_VERIFY_JOB, async (payload: { domainId?: unknown }) => {
    if (typeof payload?.domainId !== 'string') return;
    const status = await checkDomain(core, payload.domainId);
    core.log.debug({ domainId: payload.domainId, status }, 'domain checked');
  });
  scheduler.every(DOMAINS_RECHECK_JOB, RECHECK_TICK_MS);
  worker.handle(DOMAINS_RECHECK_JOB, async () => {
    const queued = await enqueueDueChecks(core);
    if (queued) core.log.info({ queued }, 'domain re-checks queued');
  });
}
