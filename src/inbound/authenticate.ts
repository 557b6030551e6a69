// SPF, DKIM, DMARC and ARC checks of an inbound message (mailauth, through MAILSTACK_DNS_SERVERS),
// summed up in an Authentication-Results header (RFC 8601) that is prepended before storing.
//
// Implementation notes (invariants a newcomer must not break):
// - Never throws for what the network or the message does: a DNS timeout, SERVFAIL or refusal is
//   a `temperror` verdict (RFC 7208 §2.6.6, RFC 6376 §6.1.2, RFC 7489 §6.6.3), a resolver that says
//   NXDOMAIN/NODATA is "no record" (ENOTFOUND/ENODATA, which mailauth maps to none/neutral), and
//   even a crash inside mailauth becomes temperror verdicts. The door must always be able to answer.
// - Every look-up goes through the configured resolvers (`configuredResolver`), memoised for the
//   one message, with a per-message budget of look-ups and time: a message with a hundred
//   DKIM-Signature headers or a dead DNS server cannot hold the SMTP session for long.
// - The header is ours, built here, not mailauth's text: authserv-id = MAILSTACK_HOSTNAME
//   (RFC 8601 §2.5), one `method=result` per check, property values quoted when they are not
//   tokens and comments escaped, no CR/LF or control characters from the message or the envelope
//   can reach it (header injection), and it ends with CRLF.
// - A DKIM signature whose body hash does not match is `fail` (RFC 6376 §6.1.3 PERMFAIL "body hash
//   did not verify"; RFC 8601 §2.7.1 "failed the verification test"), where mailauth says neutral.
// - Incoming Authentication-Results headers that claim our authserv-id are forgeries and are
//   removed before ours is prepended (RFC 8601 §5); checks run on the message as received.
// - BIMI is off (it fetches logos over HTTPS); no ARC seal is added (we are the final hop).
import { developmentResolve } from '../devmode/dns.ts';
import { authenticate } from 'mailauth';
import type { Core } from '../core/core.ts';
import { configuredResolver } from '../domains/dns.ts';
import { headerSectionLength } from './header-section.ts';

export interface AuthVerdicts {
  spf: string;
  dkim: string;
  dmarc: string;
  arc: string;
  /** The DMARC policy of the From domain when DMARC failed: 'reject' | 'quarantine' | 'none' | null. */
  dmarcPolicy: string | null;
}

export interface AuthenticationResult {
  /** The full header line to prepend, `Authentication-Results: <host>; spf=… dkim=… dmarc=… arc=…\r\n`. */
  header: string;
  verdicts: AuthVerdicts;
  /** Details per check as mailauth gives them, for storing with the message (JSON-able). */
  details: unknown;
  /** DMARC failed under p=reject and MAILSTACK_DMARC_REJECT is on: refuse with 550 5.7.1. */
  reject: boolean;
  /**
   * The message as received with every forged Authentication-Results header of our authserv-id
   * removed (RFC 8601 §5); the message to store is `header` then this. The same buffer as the
   * input when there was nothing to remove (no copy of a large message).
   */
  body: Buffer;
  /** `header` followed by `body`, joined when asked for (a copy). */
  readonly raw: Buffer;
}

export interface AuthenticateOptions {
  /** Per-query DNS timeout (default 2 s) and tries (default 2). */
  dnsTimeoutMs?: number;
  dnsTries?: number;
  /** All look-ups for one message end by then (default 30 s); later ones are temperror. */
  budgetMs?: number;
}

/** Look-ups one message may cause (SPF alone may make 10 plus its void ones, RFC 7208 §4.6.4). */
const MAX_LOOKUPS = 60;
const DEFAULT_BUDGET_MS = 30_000;

type Row = { method: string; result: string; comment?: string | null; props: [string, string | null | undefined][] };

interface MailauthStatus {
  result?: string;
  comment?: string | false;
  smtp?: { mailfrom?: string; helo?: string };
  header?: Record<string, string | false | undefined>;
}

/**
 * A mailauth resolver (`(name, rrtype) => dns.promises.resolve(name, rrtype)`) on the configured
 * servers: errors keep node's codes (ENOTFOUND/ENODATA = no record, ETIMEOUT/ESERVFAIL/… = failure),
 * answers are memoised per message, and past the budget every look-up fails as a timeout.
 */
function messageResolver(core: Core, opts: AuthenticateOptions) {
  const resolver = configuredResolver(core.settings, { timeoutMs: opts.dnsTimeoutMs ?? 2000, tries: opts.dnsTries ?? 2 });
  const cache = new Map<string, Promise<unknown>>();
  const deadline = Date.now() + (opts.budgetMs ?? DEFAULT_BUDGET_MS);
  // At the deadline, outstanding queries end with ECANCELLED (a temperror to mailauth).
  const timer = setTimeout(() => resolver.cancel(), Math.max(0, deadline - Date.now()));
  timer.unref();
  let count = 0;
  // Development mode: the node answers for its own domains and knows no others (src/devmode/dns.ts).
  const lookup = core.settings.mode === 'development' ? developmentResolve(core) : (name: string, rrtype: string) => resolver.resolve(name, rrtype as 'TXT');
  const resolve = (name: string, rrtype: string): Promise<any> => {
    const key = `${rrtype} ${String(name).toLowerCase()}`;
    let p = cache.get(key);
    if (!p) {
      if (++count > MAX_LOOKUPS || Date.now() >= deadline) {
        const err = Object.assign(new Error(`DNS budget for this message exhausted (${name} ${rrtype})`), { code: 'ETIMEOUT' });
        p = Promise.reject(err);
      } else {
        p = lookup(name, rrtype);
      }
      p.catch(() => undefined);
      cache.set(key, p);
    }
    return p;
  };
  return { resolve, done: () => clearTimeout(timer) };
}

// RFC 8601 §2.2 grammar pieces. A value that is not a token (RFC 2045) nor local@domain is quoted.
const TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+$/;
const ADDRESS = /^[A-Za-z0-9!#$%&'*+\-./=?^_`{|}~]*@[A-Za-z0-9.-]+$/;

/** Removes control characters (CR and LF above all) and bounds the length of outside text. */
function clean(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const t = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function propValue(value: string): string {
  const v = clean(value, 320);
  if (TOKEN.test(v) || ADDRESS.test(v)) return v;
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function formatRow(row: Row): string {
  const parts = [`${row.method}=${row.result}`];
  if (row.comment) parts.push(`(${clean(row.comment, 200).replace(/[\\()]/g, (c) => `\\${c}`)})`);
  for (const [name, value] of row.props) if (value) parts.push(`${name}=${propValue(value)}`);
  return parts.join(' ');
}

/** `Authentication-Results: <authserv-id>;\r\n row;\r\n row\r\n` (RFC 8601 §2.2). */
export function formatAuthenticationResults(hostname: string, rows: Row[]): string {
  const body = rows.length ? rows.map(formatRow).join(';\r\n ') : 'none';
  return `Authentication-Results: ${hostname};\r\n ${body}\r\n`;
}

const DKIM_ORDER = ['pass', 'fail', 'temperror', 'permerror', 'policy', 'neutral', 'none'];

/** One verdict for all signatures: pass if any passes, else the most telling of the others. */
function dkimVerdict(results: string[]): string {
  if (!results.length) return 'none';
  return DKIM_ORDER.find((r) => results.includes(r)) ?? results[0];
}

/**
 * The authserv-id of an Authentication-Results field value: after optional comments and white
 * space, a token (or quoted string) up to `;` or white space (RFC 8601 §2.2, §2.5).
 */
function authservId(value: string): string {
  const v = value.replace(/\r?\n/g, '');
  let i = 0;
  for (;;) {
    while (i < v.length && (v[i] === ' ' || v[i] === '\t')) i++;
    if (v[i] !== '(') break;
    // A comment, possibly nested (RFC 5322 §3.2.2); one pass, whatever the input.
    let depth = 0;
    for (; i < v.length; i++) {
      if (v[i] === '\\') i++;
      else if (v[i] === '(') depth++;
      else if (v[i] === ')' && --depth === 0) break;
    }
    i++;
  }
  const rest = v.slice(i, i + 1024);
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
  const id = quoted ? quoted[1].replace(/\\(.)/g, '$1') : (/^[^;\s(]*/.exec(rest)?.[0] ?? '');
  return id.toLowerCase().replace(/\.$/, '');
}

/**
 * Removes from the message's header section every Authentication-Results field whose
 * authserv-id is `hostname` (RFC 8601 §5: an MTA "MUST remove or rename" such fields arriving
 * from outside, or a sender could claim our verdicts). Other bytes are kept as they are.
 */
export function removeForgedResults(raw: Buffer, hostname: string): Buffer {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  // Only the header section becomes a string (a message may be tens of megabytes).
  const headerEnd = headerSectionLength(raw);
  const head = raw.subarray(0, headerEnd).toString('latin1');
  if (!/^authentication-results\s*:/im.test(head)) return raw;
  // Fields: a line that does not start with white space, plus its continuation lines.
  const lines = head.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const kept: string[] = [];
  let dropping = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!(line.startsWith(' ') || line.startsWith('\t'))) {
      dropping = false;
      const field = /^authentication-results\s*:(.*)$/is.exec(line);
      if (field) {
        // The authserv-id may be folded onto a continuation line: look at the whole field.
        let value = field[1];
        for (let j = i + 1; j < lines.length && (lines[j].startsWith(' ') || lines[j].startsWith('\t')); j++) value += lines[j];
        dropping = authservId(value) === host;
      }
    }
    if (!dropping) kept.push(line);
  }
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), raw.subarray(headerEnd)]);
}

function status(s: unknown): MailauthStatus {
  return (s && typeof s === 'object' ? s : {}) as MailauthStatus;
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);

/**
 * Checks SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617) of one message.
 * Never throws; a failure of the checks themselves gives temperror verdicts.
 */
export async function authenticateMessage(
  core: Core,
  input: { raw: Buffer; mailFrom: string; remoteAddress: string | null; heloName: string | null },
  opts: AuthenticateOptions = {},
): Promise<AuthenticationResult> {
  const hostname = core.settings.hostname;
  const body = removeForgedResults(input.raw, hostname);
  // `raw` is a getter (object spread would call it and copy the message).
  const joined = <T extends { header: string }>(r: T): T & { body: Buffer; readonly raw: Buffer } =>
    Object.defineProperty({ ...r, body }, 'raw', { get: () => Buffer.concat([Buffer.from(r.header, 'utf8'), body]), enumerable: false }) as T & { body: Buffer; readonly raw: Buffer };
  const dns = messageResolver(core, opts);
  try {
    const res = await authenticate(input.raw, {
      ip: input.remoteAddress ?? undefined,
      helo: input.heloName ?? undefined,
      // The null reverse-path: mailauth then checks the HELO identity (RFC 7208 §2.4).
      sender: input.mailFrom || undefined,
      mta: hostname,
      trustReceived: false,
      disableBimi: true,
      resolver: dns.resolve,
    });

    const spf = res.spf as any;
    const spfStatus = status(spf?.status);
    const spfRow: Row = {
      method: 'spf',
      result: spfStatus.result ?? 'none',
      comment: text(spfStatus.comment),
      props: [
        ['smtp.mailfrom', spfStatus.smtp?.mailfrom],
        ['smtp.helo', spfStatus.smtp?.helo],
      ],
    };

    const dkimRows: Row[] = [];
    const dkimDetails: unknown[] = [];
    for (const r of ((res.dkim as any)?.results ?? []) as any[]) {
      const st = status(r.status);
      let result = st.result ?? 'none';
      const comment = text(st.comment);
      if (result === 'neutral' && comment === 'body hash did not verify') result = 'fail';
      const signed = !!r.signingDomain;
      dkimRows.push({
        method: 'dkim',
        result,
        comment,
        props: signed
          ? [
              ['header.d', r.signingDomain],
              ['header.i', text(st.header?.i)],
              ['header.s', r.selector],
              ['header.a', r.algo],
              ['header.b', text(st.header?.b)],
            ]
          : [],
      });
      dkimDetails.push({ result, comment, domain: r.signingDomain ?? null, selector: r.selector ?? null, algorithm: r.algo ?? null, aligned: (st as any).aligned || null });
    }
    if (!dkimRows.length) dkimRows.push({ method: 'dkim', result: 'none', comment: 'message not signed', props: [] });

    const arc = res.arc as any;
    const arcStatus = status(arc?.status);
    const arcRow: Row = { method: 'arc', result: arcStatus.result ?? 'none', comment: text(arcStatus.comment), props: [] };

    const dmarc = res.dmarc as any;
    const dmarcStatus = status(dmarc?.status);
    const dmarcResult = dmarc ? (dmarcStatus.result ?? 'none') : 'none';
    const dmarcRow: Row = {
      method: 'dmarc',
      result: dmarcResult,
      comment: dmarc ? text(dmarcStatus.comment) : 'no single author domain',
      props: [['header.from', dmarc ? text(dmarcStatus.header?.from) : null]],
    };
    const policy: string | null = dmarc && typeof dmarc.policy === 'string' ? dmarc.policy.toLowerCase() : null;
    const dmarcPolicy = dmarcResult === 'fail' ? (policy ?? 'none') : null;
    // pct (RFC 7489 §6.6.4): the policy applies to that share of failing messages only.
    const pct = dmarc?.pct === undefined || dmarc?.pct === null ? 100 : Number(dmarc.pct);
    const sampled = !(pct < 100) || Math.random() * 100 < pct;
    const reject = core.settings.dmarcReject && dmarcPolicy === 'reject' && sampled;

    const header = formatAuthenticationResults(hostname, [spfRow, ...dkimRows, dmarcRow, arcRow]);
    return joined({
      header,
      verdicts: { spf: spfRow.result, dkim: dkimVerdict(dkimRows.map((r) => r.result)), dmarc: dmarcResult, arc: arcRow.result, dmarcPolicy },
      details: {
        spf: { result: spfRow.result, comment: spfRow.comment ?? null, domain: spf?.domain ?? null, clientIp: spf?.['client-ip'] ?? null, helo: spfStatus.smtp?.helo ?? null, mailFrom: spfStatus.smtp?.mailfrom ?? null },
        dkim: dkimDetails,
        dmarc: dmarc
          ? { result: dmarcResult, comment: dmarcRow.comment ?? null, domain: dmarc.domain ?? null, policy, p: dmarc.p ?? null, sp: dmarc.sp ?? null, pct: dmarc.pct ?? null, alignment: dmarc.alignment ?? null }
          : null,
        arc: { result: arcRow.result, comment: arcRow.comment ?? null, instance: typeof arc?.i === 'number' ? arc.i : null },
      },
      reject,
    });
  } catch (err) {
    core.log.warn({ err }, 'authenticating an inbound message failed');
    const rows: Row[] = ['spf', 'dkim', 'dmarc', 'arc'].map((method) => ({ method, result: 'temperror', comment: 'internal error during checks', props: [] }));
    const header = formatAuthenticationResults(hostname, rows);
    return joined({
      header,
      verdicts: { spf: 'temperror', dkim: 'temperror', dmarc: 'temperror', arc: 'temperror', dmarcPolicy: null },
      details: { error: clean(err instanceof Error ? err.message : String(err), 500) },
      reject: false,
    });
  } finally {
    dns.done();
  }
}
