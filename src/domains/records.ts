// The DNS records a domain must publish, and the rules that turn what DNS answers into a status.
// Pure functions: no database, no network (dns.ts looks records up, verify.ts runs the check).
//
// Records are derived from the domain row and MAILSTACK_HOSTNAME every time they are shown; the
// row keeps only the last checked status of each (purpose, name, value). A record whose expected
// value changed (a new hostname, a new key) therefore shows as unchecked until the next check,
// never as verified for a value nobody looked up.
import type { Settings } from '../config/settings.ts';
import type { DomainsTable } from '../db/schema.ts';
import { type DkimAlgorithm, dkimRecordValue } from './dkim-keys.ts';
import { mtaStsId, mtaStsPolicy } from './mta-sts.ts';

/** The label of the ownership challenge record, as Resend/Google-style verification TXT records. */
export const CHALLENGE_LABEL = '_mailstack-challenge';
export const challengeValue = (token: string) => `mailstack-verification=${token}`;

export type RecordStatus = 'not_started' | 'pending' | 'verified' | 'failed' | 'temporary_failure';
export type DomainStatus = 'not_started' | 'pending' | 'verified' | 'partially_verified' | 'partially_failed' | 'failed';
export type Purpose = 'ownership' | 'dkim' | 'return_path_mx' | 'return_path_spf' | 'root_spf' | 'dmarc' | 'receiving_mx' | 'client_srv' | 'autoconfig_cname' | 'mta_sts_txt' | 'mta_sts_cname';

export interface Capabilities {
  sending: 'enabled' | 'disabled';
  receiving: 'enabled' | 'disabled';
}

export interface ExpectedRecord {
  purpose: Purpose;
  /** Resend's grouping: SPF, DKIM, Receiving; DMARC is ours. */
  record: 'Ownership' | 'SPF' | 'DKIM' | 'DMARC' | 'Receiving';
  /** Relative to the domain, as Resend shows it ("send", "sel._domainkey"); "@" is the domain itself. */
  name: string;
  /** The fully qualified name looked up. */
  fqdn: string;
  type: 'TXT' | 'MX' | 'SRV' | 'CNAME';
  /** SRV: `weight port target` (RFC 2782), with `priority` beside it. */
  value: string;
  priority?: number;
  /** Counts toward the domain's status; advice records (root SPF, DMARC) do not. */
  required: boolean;
  capability: 'sending' | 'receiving' | null;
  note?: string;
}

export interface StoredStatus {
  purpose: Purpose;
  name: string;
  value: string;
  status: RecordStatus;
}

export type MergedRecord = ExpectedRecord & { status: RecordStatus };

/** How long a record may stay absent after verification starts before it is `failed` (as Resend: 72 h). */
export const VERIFY_GRACE_MS = 72 * 3_600_000;

export function capabilitiesOf(row: Pick<DomainsTable, 'capabilities'>): Capabilities {
  const c = JSON.parse(row.capabilities) as Partial<Capabilities>;
  return { sending: c.sending === 'disabled' ? 'disabled' : 'enabled', receiving: c.receiving === 'enabled' ? 'enabled' : 'disabled' };
}

export function spfValue(hostname: string): string {
  // RFC 7208 §5.3: "a:<host>" authorises the addresses of our MTA's host name. "~all" (softfail)
  // rather than "-all" so a forgotten other sender degrades to spam rather than rejection.
  return `v=spf1 a:${hostname} ~all`;
}

/** The client doors whose SRV records a receiving domain lists (0: the door is off, no record). */
export type ClientPorts = Pick<Settings, 'imapPort' | 'imapsPort' | 'pop3Port' | 'pop3sPort' | 'submissionPort' | 'submissionsPort'>;
export const STANDARD_CLIENT_PORTS: ClientPorts = { imapPort: 143, imapsPort: 993, pop3Port: 110, pop3sPort: 995, submissionPort: 587, submissionsPort: 465 };

/**
 * RFC 6186 SRV records (RFC 8314 §5.1 for the implicit-TLS ones) and Thunderbird's autoconfig
 * host, so mail clients find the servers of an address at a receiving domain. Advice, not required.
 */
function clientRecords(d: string, hostname: string, ports: ClientPorts): ExpectedRecord[] {
  const srv: [string, number, number][] = [
    ['_imaps._tcp', ports.imapsPort, 0],
    ['_submissions._tcp', ports.submissionsPort, 0],
    ['_imap._tcp', ports.imapPort, 10],
    ['_submission._tcp', ports.submissionPort, 10],
    ['_pop3s._tcp', ports.pop3sPort, 20],
    ['_pop3._tcp', ports.pop3Port, 30],
  ];
  const note = 'Optional (RFC 6186, RFC 8314): lets mail clients find this server for addresses at the domain.';
  return [
    ...srv.filter(([, port]) => port !== 0).map(([name, port, priority]): ExpectedRecord => ({
      purpose: 'client_srv', record: 'Receiving', name, fqdn: `${name}.${d}`, type: 'SRV', value: `1 ${port} ${hostname}`, priority, required: false, capability: 'receiving', note,
    })),
    {
      purpose: 'autoconfig_cname', record: 'Receiving', name: 'autoconfig', fqdn: `autoconfig.${d}`, type: 'CNAME', value: hostname, required: false, capability: 'receiving',
      note: `Optional: Thunderbird-style clients fetch https://autoconfig.${d}/mail/config-v1.1.xml, which this server answers (it needs a certificate for that name on whatever serves HTTPS for it).`,
    },
  ];
}

/**
 * MTA-STS (RFC 8461 §3.1) for a receiving domain: the TXT announcing the policy and its id, and the
 * mta-sts.<domain> host that serves it (this node answers by Host header, src/domains/mta-sts.ts).
 */
function mtaStsRecords(d: string, hostname: string, mode: Settings['mtaStsMode']): ExpectedRecord[] {
  const policy = mtaStsPolicy({ hostname, mtaStsMode: mode });
  if (!policy) return [];
  return [
    {
      purpose: 'mta_sts_txt', record: 'Receiving', name: '_mta-sts', fqdn: `_mta-sts.${d}`, type: 'TXT', value: `v=STSv1; id=${mtaStsId(policy)}`, required: false, capability: 'receiving',
      note: `Optional (RFC 8461): tells senders to require TLS to ${hostname} (policy mode: ${mode}). Publish it together with the mta-sts host below; the id changes when the policy does.`,
    },
    {
      purpose: 'mta_sts_cname', record: 'Receiving', name: 'mta-sts', fqdn: `mta-sts.${d}`, type: 'CNAME', value: hostname, required: false, capability: 'receiving',
      note: `Optional: senders fetch https://mta-sts.${d}/.well-known/mta-sts.txt, which this server answers; whatever serves HTTPS for it needs a certificate for mta-sts.${d} (an A record to that server works as well as the CNAME).`,
    },
  ];
}

export function expectedRecords(row: DomainsTable, hostname: string, ports: ClientPorts & Partial<Pick<Settings, 'mtaStsMode'>> = STANDARD_CLIENT_PORTS): ExpectedRecord[] {
  const caps = capabilitiesOf(row);
  const sending = caps.sending === 'enabled';
  const d = row.name;
  const rp = row.return_path;
  const out: ExpectedRecord[] = [];
  // The proof of control (ownership.ts): this row's own token, unknown to any other workspace.
  if (row.challenge_token) {
    out.push({
      purpose: 'ownership', record: 'Ownership', name: CHALLENGE_LABEL, fqdn: `${CHALLENGE_LABEL}.${d}`, type: 'TXT', value: challengeValue(row.challenge_token), required: true, capability: null,
      note: `Proves that this workspace controls ${d}: until it is seen, the domain gets no inboxes, aliases, catch-all, receiving or sending. Keep it published; if another workspace later publishes its own token and yours is gone, the domain moves to it.`,
    });
  }
  if (row.dkim_selector && row.dkim_public_key) {
    out.push({
      purpose: 'dkim', record: 'DKIM', name: `${row.dkim_selector}._domainkey`, fqdn: `${row.dkim_selector}._domainkey.${d}`, type: 'TXT',
      value: dkimRecordValue(row.dkim_algorithm as DkimAlgorithm, row.dkim_public_key), required: sending, capability: 'sending',
    });
  }
  // The return-path (RFC 5321 MAIL FROM) host: bounces come back to its MX, and receivers check
  // SPF (RFC 7208 §2.4) against it. It is a subdomain of the From domain, so SPF aligns with the
  // From domain under DMARC's relaxed alignment (RFC 7489 §3.1.2).
  out.push(
    { purpose: 'return_path_mx', record: 'SPF', name: rp, fqdn: `${rp}.${d}`, type: 'MX', value: hostname, priority: 10, required: sending, capability: 'sending' },
    { purpose: 'return_path_spf', record: 'SPF', name: rp, fqdn: `${rp}.${d}`, type: 'TXT', value: spfValue(hostname), required: sending, capability: 'sending' },
    {
      purpose: 'root_spf', record: 'SPF', name: '@', fqdn: d, type: 'TXT', value: spfValue(hostname), required: false, capability: null,
      note: `Advice, not required: mail from Mailstack uses ${rp}.${d} as its return path. If ${d} already has an SPF record, add "a:${hostname}" to it rather than publishing a second one (two SPF records are a permanent error, RFC 7208 §4.5).`,
    },
    {
      purpose: 'dmarc', record: 'DMARC', name: '_dmarc', fqdn: `_dmarc.${d}`, type: 'TXT', value: `v=DMARC1; p=none; rua=mailto:dmarc@${rp}.${d}`, required: false, capability: null,
      note: `Recommended (RFC 7489): start with p=none, then move to quarantine or reject once reports look right. Any one valid DMARC record counts. The rua address is Mailstack's: aggregate reports sent there show in GET /v1/deliverability (the return-path host is a subdomain of ${d}, so no external-destination record is needed, RFC 7489 §7.1).`,
    },
  );
  if (caps.receiving === 'enabled') {
    out.push({ purpose: 'receiving_mx', record: 'Receiving', name: '@', fqdn: d, type: 'MX', value: hostname, priority: 10, required: true, capability: 'receiving' });
  }
  if (caps.receiving === 'enabled') out.push(...clientRecords(d, hostname, ports));
  if (caps.receiving === 'enabled') out.push(...mtaStsRecords(d, hostname, ports.mtaStsMode ?? 'testing'));
  return out;
}

/** Expected records with their last checked status (unchecked: pending once verification started). */
export function mergedRecords(row: DomainsTable, hostname: string, ports: ClientPorts & Partial<Pick<Settings, 'mtaStsMode'>> = STANDARD_CLIENT_PORTS): MergedRecord[] {
  const stored = JSON.parse(row.records) as StoredStatus[];
  const unchecked: RecordStatus = row.verification_started_at === null ? 'not_started' : 'pending';
  return expectedRecords(row, hostname, ports).map((r) => {
    const s = stored.find((x) => x.purpose === r.purpose && x.name === r.name && x.value === r.value);
    return { ...r, status: s?.status ?? unchecked };
  });
}

/** The domain's status from its required records' statuses. */
export function domainStatusOf(records: { required: boolean; status: RecordStatus }[], everVerified: boolean): DomainStatus {
  const req = records.filter((r) => r.required);
  if (req.length === 0 || req.every((r) => r.status === 'not_started')) return 'not_started';
  const verified = req.filter((r) => r.status === 'verified').length;
  if (verified === req.length) return 'verified';
  const failed = req.some((r) => r.status === 'failed');
  if (verified > 0) return everVerified && failed ? 'partially_failed' : 'partially_verified';
  return failed ? 'failed' : 'pending';
}

/** True when every record sending depends on is verified. */
export function sendingVerified(records: MergedRecord[]): boolean {
  const sending = records.filter((r) => r.capability === 'sending' && r.required);
  return sending.length > 0 && sending.every((r) => r.status === 'verified');
}

// ---- Judging DNS answers ----------------------------------------------------------------------

export type Lookup<T> = { kind: 'found'; values: T[] } | { kind: 'absent' } | { kind: 'error'; code: string };

/** What DNS said about one record: `absent` becomes pending or failed depending on the grace period. */
export type Verdict = 'verified' | 'wrong' | 'absent' | 'temporary';

const sameHost = (a: string, b: string) => a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();

/** RFC 6376 §3.2 tag=value list; returns null when malformed. */
export function parseTagList(text: string): Map<string, string> | null {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return null;
    const name = p.slice(0, eq).trim().toLowerCase();
    if (tags.has(name)) return null; // §3.2: a duplicate tag makes the whole list invalid
    tags.set(name, p.slice(eq + 1).trim());
  }
  return tags;
}

function judgeDkim(expected: ExpectedRecord, txt: string[]): Verdict {
  const want = parseTagList(expected.value)!;
  for (const text of txt) {
    const tags = parseTagList(text);
    if (!tags) continue;
    // §3.6.1: v=, when present, must be the first tag and be DKIM1; k= defaults to rsa.
    if (tags.has('v') && (tags.get('v') !== 'DKIM1' || [...tags.keys()][0] !== 'v')) continue;
    const p = (tags.get('p') ?? '').replace(/\s+/g, ''); // §3.6.1: base64 may hold folding whitespace
    if ((tags.get('k') ?? 'rsa').toLowerCase() === want.get('k') && p === want.get('p')) return 'verified';
  }
  return 'wrong';
}

function spfRecords(txt: string[]): string[] {
  // RFC 7208 §4.5: a record starts with "v=spf1" followed by a space or its end.
  return txt.filter((t) => /^v=spf1(\s|$)/i.test(t.trim()));
}

function judgeSpf(hostname: string, txt: string[]): Verdict {
  const spf = spfRecords(txt);
  if (spf.length === 0) return txt.length ? 'wrong' : 'absent';
  if (spf.length > 1) return 'wrong'; // §4.5: more than one record is a permerror
  const terms = spf[0].trim().toLowerCase().split(/\s+/);
  const h = hostname.toLowerCase();
  return terms.some((t) => t.replace(/^[+]/, '') === `a:${h}` || t.replace(/^[+]/, '') === `include:${h}`) ? 'verified' : 'wrong';
}

function judgeOwnership(expected: ExpectedRecord, txt: string[]): Verdict {
  return txt.some((t) => t.trim() === expected.value) ? 'verified' : 'wrong';
}

function judgeDmarc(txt: string[]): Verdict {
  // RFC 7489 §6.6.3: records not starting with v=DMARC1 are ignored; more than one means none.
  const dmarc = txt.filter((t) => /^v=DMARC1\s*(;|$)/.test(t.trim()));
  if (dmarc.length === 1) return 'verified';
  return dmarc.length > 1 || txt.length ? 'wrong' : 'absent';
}

function judgeMtaSts(expected: ExpectedRecord, txt: string[]): Verdict {
  // RFC 8461 §3.1: records not starting with v=STSv1 are ignored; more than one means none.
  const sts = txt.filter((t) => /^v=STSv1\s*(;|$)/.test(t.trim()));
  if (!sts.length) return txt.length ? 'wrong' : 'absent';
  if (sts.length > 1) return 'wrong';
  const id = parseTagList(sts[0])?.get('id');
  return id && `v=STSv1; id=${id}` === expected.value ? 'verified' : 'wrong';
}

function judgeMx(hostname: string, mx: { exchange: string; priority: number }[]): Verdict {
  return mx.some((m) => sameHost(m.exchange, hostname)) ? 'verified' : 'wrong';
}

export type SrvAnswer = { name: string; port: number; priority: number; weight: number };

export function judge(
  expected: ExpectedRecord,
  hostname: string,
  txt: Lookup<string> | null,
  mx: Lookup<{ exchange: string; priority: number }> | null,
  other: Lookup<SrvAnswer> | Lookup<string> | null = null,
): Verdict {
  if (expected.type === 'SRV' || expected.type === 'CNAME') {
    if (!other || other.kind === 'absent') return 'absent';
    if (other.kind === 'error') return 'temporary';
    if (expected.type === 'CNAME') return (other.values as string[]).some((v) => sameHost(v, hostname)) ? 'verified' : 'wrong';
    const port = Number(expected.value.split(' ')[1]);
    return (other.values as SrvAnswer[]).some((v) => sameHost(v.name, hostname) && v.port === port) ? 'verified' : 'wrong';
  }
  const answer = expected.type === 'MX' ? mx! : txt!;
  if (answer.kind === 'absent') return 'absent';
  if (answer.kind === 'error') return 'temporary';
  if (expected.type === 'MX') return judgeMx(hostname, (answer as { values: { exchange: string; priority: number }[] }).values);
  const values = (answer as { values: string[] }).values;
  switch (expected.purpose) {
    case 'dkim':
      return values.length ? judgeDkim(expected, values) : 'absent';
    case 'dmarc':
      return judgeDmarc(values);
    case 'ownership':
      return judgeOwnership(expected, values);
    case 'mta_sts_txt':
      return judgeMtaSts(expected, values);
    default:
      return judgeSpf(hostname, values);
  }
}

/** The record's new status from a verdict, its previous status and the grace period. */
export function recordStatusOf(verdict: Verdict, previous: RecordStatus, graceOver: boolean): RecordStatus {
  switch (verdict) {
    case 'verified':
      return 'verified';
    case 'wrong':
      return 'failed';
    case 'absent':
      return graceOver ? 'failed' : 'pending';
    case 'temporary':
      // A resolver outage must not un-verify a working domain: keep a verified record verified.
      return previous === 'verified' ? 'verified' : 'temporary_failure';
  }
}
