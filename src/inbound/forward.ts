// Forwarding through the outbound pipeline: a hosted mailbox's forwarding rules send the received
// message on to outside addresses, and the bounce of such a forward (arriving at its SRS0 address)
// is sent on to the original sender.
//
// Implementation notes:
// - A forward is the original message, byte for byte, below our trace fields and one
//   `X-Mailstack-Forwarded: <mailbox id>` marker per hosted mailbox it passed through (trace.ts).
//   It is DKIM-signed by the mailbox's domain like every message we send (accept.ts); the
//   original signature stays and still verifies for a receiver that checks it.
// - ARC (RFC 8617): below the marker, each forward carries one ARC set sealed with the forwarding
//   domain's DKIM key (same selector, so the published DKIM record verifies it): the
//   ARC-Authentication-Results hold our own verdicts (the Authentication-Results we stored),
//   cv= is our verdict on the chain that arrived. The next hop can then trust our SPF/DKIM results
//   where forwarding broke them (SPF is ours after SRS; a changed body breaks the original DKIM).
//   Not sealed: a chain that arrived failed (§5.1.2: once cv=fail, nobody extends it usefully),
//   more than 50 sets (§4.2.1), or an Ed25519 key (RFC 8617 defines rsa-sha256 only, and
//   receivers verify nothing else). A seal that cannot be made is logged, and the forward goes on.
// - The envelope sender is SRS0 at the forwarding domain's return-path host (srs.ts), so SPF at
//   the receiver passes for our host and a bounce comes back to our MX; a null sender (a bounce
//   being forwarded) stays null (RFC 5321 §4.5.5). `emails.envelope_from` carries it to delivery.
// - Preparing a forward (DKIM signing, the fsynced blob) happens before the delivery transaction;
//   only its rows are written inside it, so the forward commits with the stored copy and the
//   webhook, or not at all.
// - A forward that cannot leave — the domain may not send (not verified), or the target address
//   is on the workspace's suppression list — is not silently lost: the message is kept in the
//   mailbox instead, even when the rule says not to keep a copy, and a warning is logged.
// - A bounce to an SRS0 address is accepted only with the null reverse-path (route.ts), and goes
//   on with the null reverse-path too, so it can never start a bounce loop.
import { sealMessage } from 'mailauth/lib/arc/index.js';
import type { Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import { type SendingDomain, domainForSending } from '../domains/domains.ts';
import type { ParsedMessage } from '../mailstore/parse.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { type AcceptInput, type StoredMessage, acceptMessage, storeMessage } from '../outbound/accept.ts';
import { findSuppression } from '../outbound/suppressions.ts';
import type { DeliveryOutcome, InboundMessage, InboundTarget } from './types.ts';
import { srsEncode } from './srs.ts';
import { FORWARD_MARKER, receivedHeader } from './trace.ts';

export interface PreparedForward {
  mailboxId: string;
  ruleId: string;
  input: AcceptInput;
  stored: StoredMessage;
}

export interface ForwardSource {
  /** The message as it reached us, below our own trace fields (Received, Authentication-Results). */
  traced: Buffer;
  mailFrom: string;
  parsed: ParsedMessage;
  /** Our checks of it, for the ARC set: the Authentication-Results header we added, and the ARC verdict. */
  auth?: { header: string; arc: string };
}

/** RFC 8617 §4.2.1: at most 50 ARC sets. */
const MAX_ARC_INSTANCES = 50;

/**
 * The ARC set (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) of one forward, to
 * prepend to `traced`; null when this message is not to be sealed (see the notes above).
 */
export async function arcSet(core: Core, domain: SendingDomain, traced: Buffer, auth: { header: string; arc: string }): Promise<Buffer | null> {
  const log = core.log.child({ part: 'inbound.forward.arc', domain: domain.name });
  if (domain.dkim.algorithm !== 'rsa') return null;
  const cv = auth.arc === 'pass' ? 'pass' : auth.arc === 'none' ? 'none' : null;
  if (!cv) {
    log.info({ arc: auth.arc }, 'forward not ARC-sealed: the chain that arrived did not validate');
    return null;
  }
  // `Authentication-Results: <authserv-id>; …\r\n` → `<authserv-id>; …` (mailauth adds `i=N; `).
  const authResults = auth.header.replace(/^Authentication-Results:\s*/i, '').replace(/\r?\n$/, '');
  try {
    const headers = await sealMessage(traced, {
      signingDomain: domain.name,
      selector: domain.dkim.selector,
      privateKey: domain.dkim.privateKey,
      algorithm: 'rsa-sha256',
      authResults,
      cv,
      signTime: new Date(core.clock.now()),
    } as any);
    const text = headers.toString('latin1');
    const instance = Number(/^ARC-Seal:\s*i=(\d+)/im.exec(text)?.[1] ?? 0);
    if (!text || instance < 1 || instance > MAX_ARC_INSTANCES) return null;
    return headers;
  } catch (err) {
    log.warn({ err }, 'forward not ARC-sealed: sealing failed');
    return null;
  }
}

async function sendingDomainOf(core: Core, mailbox: { workspace_id: string; domain_id: string }): Promise<SendingDomain | null> {
  const d = await core.db.selectFrom('domains').select('name').where('id', '=', mailbox.domain_id).where('workspace_id', '=', mailbox.workspace_id).executeTakeFirst();
  if (!d) return null;
  try {
    return await domainForSending(core, mailbox.workspace_id, d.name);
  } catch {
    return null;
  }
}

function messageIdOf(parsed: ParsedMessage, domain: string): string {
  return parsed.messageId ? `<${parsed.messageId.slice(0, 900)}>` : `<${newId()}@${domain}>`;
}

/**
 * The outbound pipeline's input for a message passed on as it is (a forward, or the bounce of
 * one): one recipient, the raw bytes unchanged, no API key; the header fields only name it in the
 * workspace's email list, cut to what the emails table holds.
 */
function passOnInput(m: {
  workspaceId: string;
  source: 'forward' | 'forward_bounce';
  domain: SendingDomain;
  fromHeader: string;
  fromAddress: string;
  subject: string;
  to: string;
  raw: Buffer;
  messageId: string;
  envelopeFrom: string;
}): AcceptInput {
  return {
    workspaceId: m.workspaceId,
    apiKeyId: null,
    source: m.source,
    domain: m.domain,
    fromHeader: m.fromHeader.slice(0, 998),
    fromAddress: m.fromAddress.slice(0, 320),
    subject: m.subject.slice(0, 998),
    to: [m.to],
    cc: [],
    bcc: [],
    replyTo: [],
    recipients: [{ address: m.to, kind: 'to' }],
    html: null,
    text: null,
    headers: {},
    tags: [],
    attachments: [],
    raw: m.raw,
    messageId: m.messageId,
    scheduledAt: null,
    envelopeFrom: m.envelopeFrom,
  };
}

/**
 * Signs and stores the forwards of one mailbox (outside any transaction). Returns the prepared
 * forwards and whether some could not be prepared (the caller then keeps a copy).
 */
export async function prepareForwards(
  core: Core,
  mailbox: { id: string; workspace_id: string; domain_id: string },
  rules: { id: string; to_address: string }[],
  source: ForwardSource,
): Promise<{ forwards: PreparedForward[]; failed: boolean }> {
  const log = core.log.child({ part: 'inbound.forward', mailboxId: mailbox.id });
  const domain = await sendingDomainOf(core, mailbox);
  if (!domain) {
    log.warn('forwarding skipped: the mailbox domain may not send (not verified for sending); the message is kept in the mailbox');
    return { forwards: [], failed: true };
  }
  const envelopeFrom = source.mailFrom === '' ? '' : await srsEncode(core, source.mailFrom, domain.returnPathHost);
  const seal = source.auth ? await arcSet(core, domain, source.traced, source.auth) : null;
  const raw = Buffer.concat([Buffer.from(`${FORWARD_MARKER}: ${mailbox.id}\r\n`), ...(seal ? [seal] : []), source.traced]);
  const forwards: PreparedForward[] = [];
  let failed = false;
  for (const rule of rules) {
    if (await findSuppression(core.db, mailbox.workspace_id, rule.to_address)) {
      log.warn({ to: rule.to_address }, 'forwarding skipped: the target address is suppressed; the message is kept in the mailbox');
      failed = true;
      continue;
    }
    const p = source.parsed;
    const input = passOnInput({
      workspaceId: mailbox.workspace_id,
      source: 'forward',
      domain,
      fromHeader: p.fromHeader ?? p.from?.address ?? '',
      fromAddress: p.from?.address ?? source.mailFrom,
      subject: p.subject ?? '',
      to: rule.to_address,
      raw,
      messageId: messageIdOf(p, domain.name),
      envelopeFrom,
    });
    forwards.push({ mailboxId: mailbox.id, ruleId: rule.id, input, stored: await storeMessage(core, input) });
  }
  return { forwards, failed };
}

/** A DSN that reached one of our SRS0 addresses: sent on to the original sender, null sender. */
export async function passOnSrsBounce(core: Core, message: InboundMessage, targets: Extract<InboundTarget, { kind: 'srs' }>[]): Promise<DeliveryOutcome> {
  const log = core.log.child({ part: 'inbound.srs', remote: message.remoteAddress });
  let parsed: ParsedMessage | null = null;
  try {
    parsed = await parseMessage(message.raw);
  } catch (err) {
    // The bounce goes on as it is; only the log fields of the email row need the parse.
    log.info({ err }, 'an SRS bounce could not be parsed; passing it on as it is');
  }
  const seen = new Set<string>();
  let passed = 0;
  for (const t of targets) {
    const original = t.original.toLowerCase();
    if (seen.has(original)) continue;
    seen.add(original);
    const domainRow = await core.db.selectFrom('domains').select(['name', 'workspace_id', 'id']).where('id', '=', t.domainId).executeTakeFirst();
    const domain = domainRow ? await domainForSending(core, domainRow.workspace_id, domainRow.name).catch(() => null) : null;
    if (!domain || !domainRow) {
      // As for reports (bounces.ts): an error answer to a bounce would go nowhere.
      log.warn({ to: t.address, original }, 'SRS bounce dropped: the forwarding domain may no longer send');
      continue;
    }
    const now = core.clock.now();
    const raw = Buffer.concat([
      Buffer.from(receivedHeader({ heloName: message.heloName, clientHostname: message.clientHostname, remoteAddress: message.remoteAddress, hostname: core.settings.hostname, secure: message.secure, recipients: [t.original], now })),
      message.raw,
    ]);
    await acceptMessage(
      core,
      passOnInput({
        workspaceId: domainRow.workspace_id,
        source: 'forward_bounce',
        domain,
        fromHeader: parsed?.fromHeader ?? `Mail Delivery System <MAILER-DAEMON@${core.settings.hostname}>`,
        fromAddress: parsed?.from?.address ?? `mailer-daemon@${core.settings.hostname}`,
        subject: parsed?.subject ?? 'Delivery Status Notification',
        to: t.original,
        raw,
        messageId: parsed ? messageIdOf(parsed, domain.name) : `<${newId(now)}@${domain.name}>`,
        envelopeFrom: '',
      }),
    );
    passed++;
    log.info({ to: t.address, original }, 'SRS bounce passed on to the original sender');
  }
  return { code: 250, enhanced: '2.0.0', reply: passed ? 'OK: bounce passed on to the original sender' : 'OK: accepted' };
}
