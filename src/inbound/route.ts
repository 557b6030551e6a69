// Inbound routing: which envelope recipients this server accepts mail for, and what becomes of a
// message once accepted. The MX door (src/smtp/mx.ts) asks `routeRecipient` at every RCPT and
// hands the accepted message to `deliverInbound`; it knows nothing else.
//
// Implementation notes:
// - Never relay (RFC 5321 §3.6.2, §7.1): an address in a domain we do not serve is refused at RCPT
//   with 550 5.7.1; an unknown user in a domain we do serve with 550 5.1.1 (RFC 3463 §3.2).
// - The domains we serve are (a) the domains of any workspace whose receiving capability is
//   enabled (`capabilities.receiving = 'enabled'`), for hosted mail, and (b) the return-path hosts
//   `<return_path>.<domain>` of every owned domain, for bounces, complaints and SRS.
// - In a receiving domain an address is, in this order: a mailbox (its own domain must be the one
//   with receiving enabled), an alias (one address → one or more mailboxes of its workspace), then
//   the domain's catch-all mailbox. Addresses are compared lower-cased (address.ts documents why)
//   and `user+tag@` reaches `user@` when `user+tag@` itself is not hosted (RFC 5233).
//   Several workspaces may have added one name, but only the row that proved control of it
//   (`owned_at`, src/domains/ownership.ts) is served: mail for a name goes to its owner's
//   mailboxes, aliases and catch-all only, never to a claimant's.
// - postmaster@ of every receiving domain is deliverable (RFC 5321 §4.5.1): when no mailbox or
//   alias has that name it goes to the domain's postmaster inbox (postmaster.ts decides which),
//   before the catch-all. The domainless `<postmaster>` (§4.1.1.3) is postmaster@MAILSTACK_HOSTNAME.
// - A source route (`<@relay.example:alice@hosted.example>`) is ignored (RFC 5321 §4.1.1.3): the
//   final address is routed, with the same relay rules, so a route never opens a relay (address.ts).
// - A target mailbox over its quota answers 452 4.2.2 (RFC 3463 §3.3, "mailbox full") at RCPT; the
//   quota is checked again at DATA with the real size (deliver.ts).
// - At a return-path host we accept the VERP address of a recipient we sent to (`bounce+<token>@`,
//   src/outbound/verp.ts) — only when the token's email was sent from a domain with that
//   return-path host, so a token cannot be replayed through another tenant's host —, the role
//   addresses `postmaster` (RFC 5321 §4.5.1 requires it) and `abuse` (RFC 2142), where feedback
//   loops send ARF reports, and SRS0 addresses whose hash and age check out (srs.ts): the bounce of
//   a message we forwarded, sent on to the original sender; and a broadcast's `mailto:`
//   unsubscribe address (`unsubscribe+<contact><mac>@`, src/campaigns/unsubscribe.ts), whose MAC
//   must check out for a workspace owning the host; and `dmarc@`, the `rua` of the suggested DMARC
//   record, whose aggregate reports src/deliverability/dmarc-intake.ts parses and stores.
// - `deliverInbound` refuses before it commits anything, and answers 250 only once every change is
//   committed; the door sends the reply only after it returns, so an acknowledged message is never
//   lost (the blob is fsynced before the commit, see deliver.ts).
import { inboundGate } from '../privacy/gates.ts';
import { DMARC_LOCAL_PART, takeDmarcReports } from '../deliverability/dmarc-intake.ts';
import type { Core } from '../core/core.ts';
import type { DomainsTable } from '../db/schema.ts';
import { capabilitiesOf } from '../domains/records.ts';
import { mailboxByAddress, quotaAllows, type Mailbox } from '../mailstore/mailboxes.ts';
import { verpToken } from '../outbound/verp.ts';
import { splitAddress, stripSourceRoute, subaddressBase } from './address.ts';
import { POSTMASTER, postmasterMailbox } from './postmaster.ts';
import { processReports } from './bounces.ts';
import { deliverToMailboxes } from './deliver.ts';
import { passOnSrsBounce } from './forward.ts';
import { srsDecode } from './srs.ts';
import type { DeliveryOutcome, InboundMessage, InboundTarget, RcptDecision, ReportTarget } from './types.ts';
import { metricsOf } from '../metrics/metrics.ts';
import { mailtoContact, unsubscribeByMail } from '../campaigns/unsubscribe.ts';

const ROLE_ADDRESSES = new Set(['postmaster', 'abuse']);

const unknownUser: RcptDecision = { accept: false, code: 550, enhanced: '5.1.1', message: 'No such user here' };

/** The domains (any workspace) whose return-path host is `host`. */
async function returnPathDomains(core: Core, host: string): Promise<{ id: string; workspace_id: string }[]> {
  const dot = host.indexOf('.');
  if (dot <= 0) return [];
  return core.db
    .selectFrom('domains')
    .select(['id', 'workspace_id'])
    .where('return_path', '=', host.slice(0, dot))
    .where('name', '=', host.slice(dot + 1))
    .where('owned_at', 'is not', null)
    .execute();
}

/** The owning domain row named `host` (at most one, ownership.ts), when its receiving is enabled. */
async function receivingDomains(core: Core, host: string): Promise<DomainsTable[]> {
  const rows = await core.db.selectFrom('domains').selectAll().where('name', '=', host).where('owned_at', 'is not', null).execute();
  return rows.filter((d) => capabilitiesOf(d).receiving === 'enabled');
}

/** Looks one lower-cased address up among mailboxes and aliases of the given receiving domains. */
async function hostedAddress(core: Core, address: string, domainIds: Set<string>): Promise<{ via: 'mailbox' | 'alias'; workspaceId: string; mailboxes: Mailbox[] } | null> {
  const mailbox = await mailboxByAddress(core.db, address);
  if (mailbox && domainIds.has(mailbox.domain_id)) return { via: 'mailbox', workspaceId: mailbox.workspace_id, mailboxes: [mailbox] };
  const alias = await core.db.selectFrom('aliases').select(['id', 'workspace_id', 'domain_id']).where('address', '=', address).executeTakeFirst();
  if (alias && domainIds.has(alias.domain_id)) {
    const mailboxes = await core.db
      .selectFrom('alias_targets')
      .innerJoin('mailboxes', 'mailboxes.id', 'alias_targets.mailbox_id')
      .selectAll('mailboxes')
      .where('alias_targets.alias_id', '=', alias.id)
      .where('mailboxes.workspace_id', '=', alias.workspace_id)
      .orderBy('mailboxes.id')
      .execute();
    if (mailboxes.length) return { via: 'alias', workspaceId: alias.workspace_id, mailboxes };
  }
  return null;
}

async function routeHosted(core: Core, local: string, host: string, domains: DomainsTable[]): Promise<RcptDecision> {
  const ids = new Set(domains.map((d) => d.id));
  const address = `${local}@${host}`;
  let found = await hostedAddress(core, address, ids);
  const base = found ? null : subaddressBase(local);
  if (base) found = await hostedAddress(core, `${base}@${host}`, ids);
  let via: 'mailbox' | 'alias' | 'catch_all' | 'postmaster';
  let workspaceId: string;
  let mailboxes: Mailbox[];
  if (found) {
    ({ via, workspaceId, mailboxes } = found);
  } else {
    let fallback: Mailbox | undefined;
    via = 'catch_all';
    // RFC 5321 §4.5.1: postmaster@ must reach someone even when nobody created it.
    if (local === POSTMASTER) {
      via = 'postmaster';
      for (const d of domains) {
        fallback = (await postmasterMailbox(core, d)) ?? undefined;
        if (fallback) break;
      }
    }
    for (const d of domains) {
      if (fallback) break;
      if (!d.catch_all_mailbox_id) continue;
      fallback = await core.db.selectFrom('mailboxes').selectAll().where('id', '=', d.catch_all_mailbox_id).where('workspace_id', '=', d.workspace_id).executeTakeFirst();
    }
    if (!fallback) return unknownUser;
    workspaceId = fallback.workspace_id;
    mailboxes = [fallback];
  }
  // A revoked inbox name receives nothing (src/privacy/suspension.ts); an alias keeps its other targets.
  mailboxes = mailboxes.filter((m) => !m.revoked_at);
  if (!mailboxes.length) return unknownUser;
  const gate = await inboundGate(core, workspaceId, mailboxes.map((m) => m.id));
  if (!gate.ok) return { accept: false, code: gate.code, enhanced: gate.enhanced, message: gate.message };
  // Asked with one byte: the size is not known before DATA (SIZE= of RFC 1870 is only a promise).
  if (mailboxes.some((m) => !quotaAllows(core, m, 1))) {
    return { accept: false, code: 452, enhanced: '4.2.2', message: 'Mailbox full: over its storage quota; try again later' };
  }
  return { accept: true, target: { kind: 'mailbox', address, via, workspaceId, mailboxIds: mailboxes.map((m) => m.id) } };
}

async function routeReturnPath(core: Core, rawLocal: string, local: string, host: string, domains: { id: string; workspace_id: string }[], address: string): Promise<RcptDecision> {
  if (local === DMARC_LOCAL_PART) {
    const name = host.slice(host.indexOf('.') + 1);
    return { accept: true, target: { kind: 'dmarc_report', address: `${local}@${host}`, domains: domains.map((d) => ({ ...d, name })) } };
  }
  if (ROLE_ADDRESSES.has(local)) {
    return { accept: true, target: { kind: 'report_address', address: `${local}@${host}`, host, workspaceIds: [...new Set(domains.map((d) => d.workspace_id))] } };
  }
  const unsub = await mailtoContact(core, local, [...new Set(domains.map((d) => d.workspace_id))]);
  if (unsub) return { accept: true, target: { kind: 'unsubscribe', address: `${local}@${host}`, ...unsub } };
  const token = verpToken(address);
  if (token) {
    const r = await core.db
      .selectFrom('email_recipients')
      .innerJoin('emails', 'emails.id', 'email_recipients.email_id')
      .select(['email_recipients.id as id', 'email_recipients.workspace_id as workspace_id', 'emails.id as email_id', 'emails.domain_id as domain_id'])
      .where('email_recipients.verp_token', '=', token)
      .executeTakeFirst();
    if (r && domains.some((d) => d.id === r.domain_id && d.workspace_id === r.workspace_id)) {
      return { accept: true, target: { kind: 'return_path', address: address.toLowerCase(), recipientId: r.id, workspaceId: r.workspace_id, emailId: r.email_id } };
    }
  }
  const srs = await srsDecode(core, rawLocal);
  if (srs.ok) {
    // The oldest domain with this return-path host speaks for it (normally there is one).
    const d = domains[0];
    return { accept: true, target: { kind: 'srs', address: `${local}@${host}`, original: srs.original, domainId: d.id, workspaceId: d.workspace_id } };
  }
  return unknownUser;
}

/** Decides one RCPT TO. Never throws for bad input: every address gets an answer. */
export async function routeRecipient(core: Core, rawAddress: string): Promise<RcptDecision> {
  let address = stripSourceRoute(rawAddress);
  // RFC 5321 §4.1.1.3: the domainless postmaster is this server's.
  if (address.toLowerCase() === POSTMASTER) address = `${POSTMASTER}@${core.settings.hostname}`;
  const parts = splitAddress(address);
  if (!parts) return { accept: false, code: 550, enhanced: '5.1.3', message: 'Bad destination mailbox address syntax' };
  const { local, host } = parts;
  const rawLocal = address.slice(0, address.lastIndexOf('@'));
  const rpDomains = await returnPathDomains(core, host);
  if (rpDomains.length) {
    const d = await routeReturnPath(core, rawLocal, local, host, rpDomains, address);
    if (d.accept) return d;
  }
  const receiving = await receivingDomains(core, host);
  if (receiving.length) return routeHosted(core, local, host, receiving);
  if (rpDomains.length) return unknownUser;
  return { accept: false, code: 550, enhanced: '5.7.1', message: `Relaying denied: this server does not accept mail for ${host.slice(0, 255)}` };
}

/**
 * Takes an accepted message to every target. Returns once every change is committed; throws on
 * a store failure (the door answers 451 and the sender tries again later).
 *
 * Hosted mail goes first because it is the only part that may refuse the message (quota, DMARC,
 * loops, unreadable MIME): nothing is committed for any target before that is decided. The SMTP
 * reply to DATA is one code for all recipients, so a refusal refuses the message for all of them.
 */
export async function deliverInbound(core: Core, message: InboundMessage): Promise<DeliveryOutcome> {
  const hosted = message.targets.filter((t): t is Extract<InboundTarget, { kind: 'mailbox' }> => t.kind === 'mailbox');
  const srs = message.targets.filter((t): t is Extract<InboundTarget, { kind: 'srs' }> => t.kind === 'srs');
  const reports = message.targets.filter((t): t is ReportTarget => t.kind === 'return_path' || t.kind === 'report_address');
  // Only a bounce (null reverse-path) goes on through an SRS address: anything else would make
  // it a relay to the original sender for three weeks.
  if (srs.length && message.mailFrom !== '') {
    return { code: 550, enhanced: '5.7.1', reply: 'This address only takes delivery status notifications (null sender)' };
  }
  const replies: DeliveryOutcome[] = [];
  if (hosted.length) {
    const outcome = await deliverToMailboxes(core, message, hosted);
    if (outcome.code !== 250) return outcome;
    for (const w of new Set(hosted.map((t) => t.workspaceId))) metricsOf(core).received(w);
    replies.push(outcome);
  }
  if (srs.length) replies.push(await passOnSrsBounce(core, message, srs));
  const unsubscribes = message.targets.filter((t): t is Extract<InboundTarget, { kind: 'unsubscribe' }> => t.kind === 'unsubscribe');
  if (unsubscribes.length) {
    await core.store.transaction(async (tx) => {
      for (const t of unsubscribes) await unsubscribeByMail(core, tx, t.workspaceId, t.contactId);
    });
    replies.push({ code: 250, enhanced: '2.0.0', reply: 'OK: unsubscribed' });
  }
  if (reports.length) replies.push(await processReports(core, message, reports));
  const dmarc = message.targets.filter((t): t is Extract<InboundTarget, { kind: 'dmarc_report' }> => t.kind === 'dmarc_report');
  if (dmarc.length) {
    const outcome = await takeDmarcReports(core, message.raw, dmarc);
    // Alone, its refusal is the answer; beside other targets (already committed) it cannot be.
    if (outcome.code !== 250 && replies.length === 0) return outcome as DeliveryOutcome;
    replies.push(outcome as DeliveryOutcome);
  }
  if (!replies.length) return { code: 250, enhanced: '2.0.0', reply: 'OK: nothing to do' };
  return replies.length === 1 ? replies[0] : { code: 250, enhanced: '2.0.0', reply: 'OK: delivered' };
}
