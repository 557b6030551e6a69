// The MTA: the `outbound.deliver` job takes one recipient of one accepted message to its MX (or
// the smarthost) and records what happened.
//
// Implementation notes:
// - Jobs are at-least-once. A recipient that is no longer `sent` or `delivery_delayed` is left
//   alone, and every result is written through setRecipientStatus, which refuses to leave a final
//   state: a job run twice (a worker killed after the remote 250 but before our commit) can at
//   worst deliver twice; it never loses the message or records two outcomes.
// - No database transaction is open while we talk SMTP: the network part runs first, then the
//   result (status, event, suppression) is committed in one short transaction. A deferral is
//   committed before the RetryLater is thrown, so the log says `delivery_delayed` even if the
//   process dies before the queue records the retry.
// - Routing (mx.ts): RFC 5321 §5.1 — MX hosts by preference, the implicit MX (A/AAAA) when there
//   is none, a null MX (RFC 7505) bounces. Each host's addresses are tried in turn; a host that
//   cannot be reached or will not start a session (refused, timeout, 421 or 5xx greeting, failed
//   TLS when the domain enforces it) sends us to the next one. An answer to the transaction itself
//   ends the attempt: 2yz delivered, 4yz deferred, 5yz bounced (RFC 5321 §4.2.1, §4.5.4.1).
// - The envelope sender is the recipient's VERP address on the domain's return-path host
//   (verp.ts), so an asynchronous DSN names one recipient. The message is the stored, already
//   DKIM-signed blob, sent byte for byte (its signature must survive).
// - TLS (RFC 3207 STARTTLS): opportunistic by default, certificate not verified; a domain with
//   tls 'enforced' requires STARTTLS and a certificate valid for the MX name. An opportunistic
//   session whose TLS handshake fails is retried once in cleartext (RFC 7435 §3).
// - Deferrals follow MAILSTACK_RETRY_DELAYS: after the n-th failed attempt the next one waits
//   delays[n-1]; when the ladder is used up the recipient is bounced (Transient). A permanent
//   bounce adds a hard-bounce suppression in the same transaction as the status.
// - An unexpected internal error (database, disk) is thrown to the queue and retried with its
//   backoff; on the job's last attempt the recipient is marked `failed` instead of being left
//   in limbo. A message whose body or sending domain is gone fails at once.
// - Connections are pooled per destination (pool.ts): at most MAILSTACK_MX_CONCURRENCY at once
//   per MX host, idle ones reused after RSET.
// - MTA-STS (RFC 8461, mta-sts.ts): a recipient domain's `enforce` policy limits the MX hosts to
//   those it names and requires verified TLS with them; none usable is a deferral (4.7.5).
// RFCs: 5321 (SMTP), 3207 (STARTTLS), 3463 (enhanced status codes), 7505 (null MX), 7435, 8461.
import type { Resolver } from 'node:dns/promises';
import { type Core, systemActor } from '../../core/core.ts';
import type { Db } from '../../db/database.ts';
import { configuredResolver } from '../../domains/dns.ts';
import { type JobContext, RetryLater } from '../../jobs/worker.ts';
import { blobStore } from '../accept.ts';
import { type Email, type Recipient, type StatusDetail, setRecipientStatus } from '../recipients.ts';
import { deliverInDevelopment, testAddress } from '../../devmode/delivery.ts';
import { suppressAddress } from '../suppressions.ts';
import { holdIfPaused } from '../../abuse/sending.ts';
import { holdIfSpam } from '../../abuse/content.ts';
import { verpAddress } from '../verp.ts';
import { resolveRoute } from './mx.ts';
import { mxMatches, policyFor, trustedCas } from './mta-sts.ts';
import { SmtpPool } from './pool.ts';
import { SmtpFailure, type SmtpTarget, type TlsPolicy } from './smtp-client.ts';

export { DELIVER_JOB } from '../accept.ts';

/** Statuses in which a recipient still waits for delivery. */
const ACTIVE = new Set(['sent', 'delivery_delayed']);

/** Addresses tried per attempt at most, over all MX hosts (RFC 5321 §5.1 asks for at least two). */
const MAX_ADDRESSES_PER_ATTEMPT = 10;

export type Outcome =
  | { kind: 'delivered'; response: string; mxHost: string; tls: boolean }
  | { kind: 'permanent'; response: string; mxHost: string | null }
  | { kind: 'temporary'; response: string; mxHost: string | null };

interface DeliveryState {
  pool: SmtpPool;
  resolver: Resolver;
}

const states = new WeakMap<Core, DeliveryState>();

function stateOf(core: Core): DeliveryState {
  let s = states.get(core);
  if (!s) {
    s = {
      pool: new SmtpPool({ name: core.settings.hostname }, { max: core.settings.mxConcurrency, idleMs: 5000, maxMessages: 100 }),
      resolver: configuredResolver(core.settings, { timeoutMs: 5000, tries: 2 }),
    };
    states.set(core, s);
  }
  return s;
}

/** The connection pool of this node, for tests and metrics. */
export function deliveryPool(core: Core): SmtpPool {
  return stateOf(core).pool;
}

/** Closes idle SMTP sessions (QUIT); called when the node stops, after the worker. */
export function closeDelivery(core: Core): void {
  states.get(core)?.pool.close();
  states.delete(core);
}

/** The `outbound.deliver` job handler. */
export function deliverHandler(core: Core) {
  return async ({ recipientId }: { recipientId: string }, ctx: JobContext): Promise<void> => {
    try {
      await deliverRecipient(core, recipientId, ctx);
    } catch (err) {
      if (err instanceof RetryLater || ctx.signal.aborted) throw err;
      if (ctx.job.attempts >= ctx.job.maxAttempts) {
        // Out of attempts on an internal error: say so rather than leave the recipient waiting.
        const reason = `Internal error while delivering: ${(err as Error)?.message ?? String(err)}`.slice(0, 500);
        await core.store.transaction((tx) => setRecipientStatus(core, tx, recipientId, 'failed', { response: reason, failed: { reason } }));
        core.log.error({ err, recipientId }, 'delivery failed for good');
        return;
      }
      throw err;
    }
  };
}

function isMissingFile(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function fail(core: Core, recipientId: string, reason: string): Promise<void> {
  await core.store.transaction((tx) => setRecipientStatus(core, tx, recipientId, 'failed', { response: reason, failed: { reason } }));
}

/** One delivery attempt of one recipient; throws RetryLater after recording a deferral. */
export async function deliverRecipient(core: Core, recipientId: string, ctx: Pick<JobContext, 'job' | 'signal'>): Promise<Outcome | null> {
  const db = core.db;
  const r = await db.selectFrom('email_recipients').selectAll().where('id', '=', recipientId).executeTakeFirst();
  if (!r || !ACTIVE.has(r.status)) return null;
  // A paused workspace's mail is held, not sent and not dropped (src/abuse/sending.ts).
  if (await holdIfPaused(core, r, (tx, id, status) => setRecipientStatus(core, tx, id, status))) return null;
  const email = await db.selectFrom('emails').selectAll().where('id', '=', r.email_id).executeTakeFirst();
  if (!email) return null;
  const domain = email.domain_id ? await db.selectFrom('domains').selectAll().where('id', '=', email.domain_id).executeTakeFirst() : undefined;
  if (!domain) {
    await fail(core, r.id, 'The sending domain was removed before the message could be delivered.');
    return null;
  }
  if (!email.raw_blob) {
    await fail(core, r.id, 'The message body was purged before it could be delivered.');
    return null;
  }
  let raw: Buffer;
  try {
    raw = await blobStore(core).get(email.raw_blob);
  } catch (err) {
    if (!isMissingFile(err)) throw err;
    await fail(core, r.id, 'The stored message is missing from the blob store.');
    return null;
  }

  // A message that scores as spam is held for review, not sent (src/abuse/content.ts).
  if (await holdIfSpam(core, r, email, raw, (tx, id, status) => setRecipientStatus(core, tx, id, status))) return null;

  // A forward (or a bounce sent on) carries its own envelope sender: SRS0, or '' for the null path.
  const from = email.envelope_from ?? verpAddress(r.verp_token, `${domain.return_path}.${domain.name}`);
  if (core.settings.mode === 'development') return deliverDevelopment(core, r, email, from, raw, ctx.job);
  const tls: TlsPolicy = domain.tls === 'enforced' ? 'enforced' : 'opportunistic';
  const outcome = await attempt(core, { from, to: r.address, raw, tls, signal: ctx.signal });
  await record(core, r, email.id, outcome, ctx.job);
  return outcome;
}

interface AttemptInput {
  from: string;
  to: string;
  raw: Buffer;
  tls: TlsPolicy;
  signal?: AbortSignal;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Talks to the MX hosts (or the smarthost) until one gives an answer to the message. */
export async function attempt(core: Core, input: AttemptInput): Promise<Outcome> {
  if (core.settings.mode === 'development') {
    // Never to the internet (src/devmode/delivery.ts); only the platform's own mail comes this way.
    const d = await deliverInDevelopment(core, { from: input.from, to: input.to, raw: input.raw, workspaceId: null, emailId: null });
    return d.kind === 'suppressed' ? { kind: 'permanent', response: d.response, mxHost: null } : d;
  }
  const { pool, resolver } = stateOf(core);
  const log = core.log.child({ part: 'delivery' });
  const smarthost = core.settings.smarthost;

  let targets: { target: SmtpTarget; mxHost: string }[];
  if (smarthost) {
    targets = [
      {
        mxHost: smarthost.host,
        target: {
          host: smarthost.host,
          port: smarthost.port,
          secure: smarthost.secure,
          // Operator's relay: STARTTLS when offered; AUTH when the URL carries credentials.
          tls: 'opportunistic',
          auth: smarthost.user !== null ? { user: smarthost.user, pass: smarthost.pass ?? '' } : null,
        },
      },
    ];
  } else {
    const domain = domainOf(input.to);
    const route = await resolveRoute(resolver, domain);
    if (route.kind === 'none') return { kind: 'permanent', response: route.reason, mxHost: null };
    if (route.kind === 'dns-error') return { kind: 'temporary', response: route.reason, mxHost: null };
    let hosts = route.hosts;
    let tls = input.tls;
    let ca: string[] | undefined;
    // MTA-STS (RFC 8461 §5, mta-sts.ts): enforce keeps only matching MX hosts, with verified TLS.
    const policy = core.settings.mtaStsOutbound ? await policyFor(core, resolver, domain) : null;
    if (policy && policy.mode !== 'none') {
      const matching = hosts.filter((h) => mxMatches(h.name, policy.mx));
      const refused = hosts.filter((h) => !matching.includes(h)).map((h) => h.name);
      if (policy.mode === 'enforce') {
        if (!matching.length) {
          return { kind: 'temporary', response: `451 4.7.5 No MX host of ${domain} (${refused.join(', ')}) matches its MTA-STS policy (mx: ${policy.mx.join(', ')}); will try again`, mxHost: null };
        }
        if (refused.length) log.warn({ domain, refused }, 'MTA-STS enforce: MX hosts not in the policy skipped');
        hosts = matching;
        tls = 'enforced';
        ca = trustedCas(core);
      } else if (refused.length) {
        log.warn({ domain, refused, mode: 'testing' }, 'MTA-STS testing: these MX hosts do not match the policy (delivering anyway)');
      }
    }
    targets = hosts
      .flatMap((h) => h.addresses.map((address) => ({ mxHost: h.name, target: { host: address, port: core.settings.mxPort, servername: h.name, tls, ca } })))
      .slice(0, MAX_ADDRESSES_PER_ATTEMPT);
  }

  let last: { response: string; mxHost: string | null } = { response: 'no MX host could be tried', mxHost: null };
  for (const { target, mxHost } of targets) {
    const result = await tryTarget(pool, target, input);
    if (result.kind === 'next' && result.tlsFailed && target.tls === 'opportunistic') {
      // RFC 7435 §3: an opportunistic handshake that fails is retried without TLS.
      const plain = await tryTarget(pool, { ...target, tls: 'none' }, input);
      if (plain.kind !== 'next') return finish(plain, mxHost, log, input);
      last = { response: plain.failure.text, mxHost };
      continue;
    }
    if (result.kind !== 'next') return finish(result, mxHost, log, input);
    last = { response: `${mxHost} [${target.host}]: ${result.failure.text}`, mxHost };
    log.info({ mx: mxHost, address: target.host, err: result.failure.message }, 'MX host unavailable; trying the next');
  }
  return { kind: 'temporary', ...last };
}

type TargetResult =
  | { kind: 'delivered'; response: string; tls: boolean }
  | { kind: 'permanent' | 'temporary'; response: string }
  | { kind: 'next'; failure: SmtpFailure; tlsFailed: boolean };

function finish(result: Exclude<TargetResult, { kind: 'next' }>, mxHost: string, log: Core['log'], input: AttemptInput): Outcome {
  log.info({ mx: mxHost, to: input.to, result: result.kind, response: result.response }, 'delivery attempt');
  if (result.kind === 'delivered') return { kind: 'delivered', response: result.response, mxHost, tls: result.tls };
  return { kind: result.kind, response: result.response, mxHost };
}

async function tryTarget(pool: SmtpPool, target: SmtpTarget, input: AttemptInput): Promise<TargetResult> {
  // A reused session that turns out to be dead before the envelope is accepted is retried once
  // on a fresh connection: nothing was sent, so nothing can be duplicated.
  for (let tries = 0; ; tries++) {
    let reusedSession = false;
    try {
      const sent = await pool.with(
        target,
        async (session, reused) => {
          reusedSession = reused;
          const res = await session.send(input.from, input.to, input.raw);
          return { response: res.response, tls: session.tlsUsed };
        },
        input.signal,
      );
      return { kind: 'delivered', ...sent };
    } catch (err) {
      if (!(err instanceof SmtpFailure)) throw err;
      if (err.phase === 'connect' || err.phase === 'auth' || err.phase === 'reset') {
        return { kind: 'next', failure: err, tlsFailed: err.code === 'ETLS' };
      }
      if (err.responseCode === null) {
        if (reusedSession && err.phase === 'envelope' && tries === 0) continue;
        // The connection dropped mid-transaction: we do not know; try again later (RFC 5321 §6.1).
        return { kind: 'temporary', response: err.text };
      }
      if (err.responseCode >= 500) return { kind: 'permanent', response: err.text };
      // 4yz, including 421 (RFC 5321 §3.8: the server is closing the channel).
      return { kind: 'temporary', response: err.text };
    }
  }
}

// ---- Results ------------------------------------------------------------------------------------

/** The enhanced status code of a reply (RFC 3463 §2: class.subject.detail), if it has one. */
export function enhancedCode(response: string): string | null {
  return /(?:^|\s|-)([245]\.\d{1,3}\.\d{1,3})(?=\s|$)/.exec(response)?.[1] ?? null;
}

/** Resend's (SES's) bounce sub-type for a permanent failure, from the RFC 3463 subject and detail. */
export function bounceSubType(response: string): string {
  const code = enhancedCode(response);
  if (!code) return 'General';
  const [, subject, detail] = code.split('.').map(Number);
  // X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax, X.1.6 moved, X.1.10 null MX (RFC 7505).
  if (subject === 1 && [1, 2, 3, 6, 10].includes(detail)) return 'NoEmail';
  // X.2.2 mailbox full.
  if (subject === 2 && detail === 2) return 'MailboxFull';
  // X.2.3 and X.3.4: message too big.
  if ((subject === 2 && detail === 3) || (subject === 3 && detail === 4)) return 'MessageTooLarge';
  // X.6.x media problems, X.7.1 refused by policy (spam, content).
  if (subject === 6 || (subject === 7 && detail === 1)) return 'ContentRejected';
  return 'General';
}

/** Development mode: captured, a Resend test address, or delivered on this node; recorded like a real attempt. */
async function deliverDevelopment(core: Core, r: Recipient, email: Email, from: string, raw: Buffer, job: JobContext['job']): Promise<Outcome | null> {
  const recipients = await core.db.selectFrom('email_recipients').select('address').where('email_id', '=', email.id).orderBy('id').execute();
  const d = await deliverInDevelopment(core, {
    from, to: r.address, raw, workspaceId: r.workspace_id, emailId: email.id, rawBlob: email.raw_blob,
    fromHeader: email.from_header, subject: email.subject, recipients: recipients.map((x) => x.address),
  });
  const test = testAddress(r.address);
  if (d.kind === 'suppressed') {
    await core.store.transaction((tx) =>
      setRecipientStatus(core, tx, r.id, 'suppressed', { response: d.response, suppressed: { type: 'test_address', message: `${r.address} simulates a suppressed recipient (development mode).` } }),
    );
    return null;
  }
  if (test && d.kind === 'permanent') {
    // Resend's test addresses bounce every time: no suppression is added for them.
    await core.store.transaction((tx) =>
      setRecipientStatus(core, tx, r.id, 'bounced', { response: d.response, mxHost: d.mxHost, attempted: true, nextAttemptAt: null, bounce: { type: 'Permanent', subType: 'General', message: d.response } }),
    );
    return d;
  }
  await record(core, r, email.id, d, job);
  if (d.kind === 'delivered' && d.then === 'complained') {
    await core.store.transaction((tx) => setRecipientStatus(core, tx, r.id, 'complained', { response: `Marked as spam (Resend test address, development mode)` }));
  }
  return d;
}

async function record(core: Core, r: Recipient, emailId: string, outcome: Outcome, job: JobContext['job']): Promise<void> {
  const base: StatusDetail = { response: outcome.response, mxHost: outcome.mxHost, attempted: true };
  if (outcome.kind === 'delivered') {
    await core.store.transaction((tx) => setRecipientStatus(core, tx, r.id, 'delivered', { ...base, nextAttemptAt: null }));
    return;
  }
  if (outcome.kind === 'permanent') {
    await core.store.transaction(async (tx: Db) => {
      const changed = await setRecipientStatus(core, tx, r.id, 'bounced', {
        ...base,
        nextAttemptAt: null,
        bounce: { type: 'Permanent', subType: bounceSubType(outcome.response), message: outcome.response },
      });
      // A hard bounce: the address is not tried again from this workspace.
      if (changed) await suppressAddress(core, tx, systemActor, r.workspace_id, r.address, 'bounce', `Hard bounce: ${outcome.response}`, emailId);
    });
    return;
  }
  // Temporary: the n-th failed attempt waits delays[n-1]; none left means it bounces.
  const delays = core.settings.retryDelaysMs;
  const failedAttempts = r.attempts + 1;
  const lastJobAttempt = job.attempts >= job.maxAttempts;
  if (failedAttempts > delays.length || lastJobAttempt) {
    const message = `Gave up after ${failedAttempts} attempts: ${outcome.response}`;
    await core.store.transaction((tx) =>
      setRecipientStatus(core, tx, r.id, 'bounced', { ...base, nextAttemptAt: null, bounce: { type: 'Transient', subType: 'General', message } }),
    );
    return;
  }
  const delay = delays[failedAttempts - 1];
  const changed = await core.store.transaction((tx) =>
    setRecipientStatus(core, tx, r.id, 'delivery_delayed', { ...base, nextAttemptAt: core.clock.now() + delay }),
  );
  if (changed) throw new RetryLater(`deferred: ${outcome.response}`, delay);
}
