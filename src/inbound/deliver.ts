// Delivery of hosted mail after DATA: authenticate, trace, store once, append to every target
// mailbox's INBOX, forward, and announce — one transaction, then 250.
//
// Implementation notes (invariants a newcomer must not break):
// - 250 only after commit: the raw message is written to the blob store (put() fsyncs it) before
//   the transaction; the rows (messages in each INBOX, forwards with their delivery jobs, the
//   `email.received` events with their webhook deliveries) commit together in ONE mailTransaction.
//   A crash before the commit leaves at most an unreferenced blob; the sender, without its 250,
//   sends again. An acknowledged message therefore always has its rows and its webhook.
// - Every refusal is decided before anything commits, and one code answers for all recipients
//   (the reply to DATA is one reply, RFC 5321 §4.2.5 is the LMTP exception we do not have):
//     * a loop — more than MAX_RECEIVED Received fields (RFC 5321 §6.3), or our own forwarding
//       marker for a target mailbox that still forwards — is 554 5.4.6 (RFC 3463 §3.5);
//     * DMARC failure under p=reject with MAILSTACK_DMARC_REJECT (authenticate.ts) is 550 5.7.1;
//     * a message the parser refuses is 554 5.6.0 (RFC 3463 §3.7);
//     * if ANY target mailbox cannot take the message's size within its quota, the message is
//       refused for all with 452 4.2.2 (temporary: the sender retries, and the others get it on a
//       retry once there is room). The quota is re-checked inside the transaction, against the
//       committed used_bytes, so two concurrent deliveries cannot both squeeze past it.
// - Spam (src/spam/filter.ts) is judged after authentication and parsing, before anything is
//   stored: a refusal is 550 5.7.1 for all; otherwise each mailbox's copy goes to INBOX or Junk
//   by its own verdict, with X-Spam-* fields after Authentication-Results, and the verdict row
//   commits with the message. X-Spam-* fields the sender wrote are removed first (only ours are
//   trusted), and a mailbox whose verdict is Junk does not forward: it keeps the copy in Junk.
// - Stored once per mailbox: the same message reaching mailbox X through an alias and directly
//   (or through two aliases, or user+tag@ and user@) is appended to X once, with every envelope
//   address that led to it in `received_for`.
// - The stored copy is what IMAP serves, so its header is RFC-correct: Return-Path (final delivery,
//   RFC 5321 §4.4), then our Received (§4.4), then Authentication-Results (RFC 8601, with forged
//   ones of our authserv-id removed by authenticate.ts), then the message as sent. Forwards carry
//   the Received and Authentication-Results but not the Return-Path.
// - Agent mode (mailboxes.mode = 'agent'): the message is stored in INBOX exactly like a mailbox
//   message (the API and attachment downloads need it), and the `email.received` webhook — with the
//   whole parsed message — is its delivery; forwarding rules do not apply to an agent inbox.
//   Whether the IMAP/POP3 doors show agent inboxes is their decision (src/accounts/mailbox-login.ts).
// - Forwarding rules without a kept copy: the message is not stored in that mailbox and no
//   `email.received` is emitted for it (there is no stored email to name); the forward shows in
//   the workspace's outbound emails (source 'forward').
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { emitEvent } from '../events/webhooks.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { type Mailbox, quotaAllows } from '../mailstore/mailboxes.ts';
import { appendMessage } from '../mailstore/messages.ts';
import { ParseRefusal, type ParsedMessage, parseMessage } from '../mailstore/parse.ts';
import { receivedEventJson } from '../mailstore/views.ts';
import { blobStore, recordMessage } from '../outbound/accept.ts';
import { authenticateMessage } from './authenticate.ts';
import { judgeInbound, recordVerdict, spamHeaders, stripSpamFields } from '../spam/filter.ts';
import { type PreparedForward, prepareForwards } from './forward.ts';
import type { DeliveryOutcome, InboundMessage, InboundTarget } from './types.ts';
import { FORWARD_MARKER, headerValues, receivedCount, receivedHeader, returnPathHeader } from './trace.ts';

/** RFC 5321 §6.3: "SHOULD use a large rejection threshold, normally at least 100 Received entries". */
export const MAX_RECEIVED = 100;
/** Forwarding rules applied per mailbox at most (the API refuses more). */
export const MAX_FORWARDS_PER_MAILBOX = 10;

type MailboxTarget = Extract<InboundTarget, { kind: 'mailbox' }>;

/** A refusal decided inside the transaction: thrown to roll it back, turned into the reply. */
class Refusal extends Error {
  constructor(readonly outcome: DeliveryOutcome) {
    super(outcome.reply);
  }
}

const quotaRefusal: DeliveryOutcome = { code: 452, enhanced: '4.2.2', reply: 'Mailbox full: the message does not fit within its storage quota; try again later' };

interface Plan {
  mailbox: Mailbox;
  receivedFor: string[];
  store: boolean;
  rules: { id: string; to_address: string }[];
}

async function plan(core: Core, targets: MailboxTarget[]): Promise<Plan[]> {
  const byId = new Map<string, string[]>();
  for (const t of targets) {
    for (const id of t.mailboxIds) {
      const list = byId.get(id) ?? [];
      if (!list.includes(t.address)) list.push(t.address);
      byId.set(id, list);
    }
  }
  if (!byId.size) return [];
  const mailboxes = await core.db.selectFrom('mailboxes').selectAll().where('id', 'in', [...byId.keys()]).orderBy('id').execute();
  const rules = await core.db
    .selectFrom('forwarding_rules')
    .select(['id', 'mailbox_id', 'to_address', 'keep_copy'])
    .where('mailbox_id', 'in', mailboxes.map((m) => m.id))
    .where('enabled', '=', 1)
    .orderBy('id')
    .execute();
  return mailboxes.map((mailbox) => {
    const mine = mailbox.mode === 'agent' ? [] : rules.filter((r) => r.mailbox_id === mailbox.id).slice(0, MAX_FORWARDS_PER_MAILBOX);
    return {
      mailbox,
      receivedFor: byId.get(mailbox.id)!,
      // Kept when nothing forwards it, or when any of its rules keeps a copy.
      store: mine.length === 0 || mine.some((r) => r.keep_copy === 1),
      rules: mine.map((r) => ({ id: r.id, to_address: r.to_address })),
    };
  });
}

export async function deliverToMailboxes(core: Core, message: InboundMessage, targets: MailboxTarget[]): Promise<DeliveryOutcome> {
  const log = core.log.child({ part: 'inbound.deliver', remote: message.remoteAddress });
  if (receivedCount(message.raw) > MAX_RECEIVED) {
    return { code: 554, enhanced: '5.4.6', reply: `Routing loop detected: more than ${MAX_RECEIVED} Received header fields` };
  }
  const plans = await plan(core, targets);
  if (!plans.length) return { code: 550, enhanced: '5.1.1', reply: 'No such user here (the mailbox was removed)' };

  // Our own marker for a mailbox that still forwards: the forward came back round.
  const markers = new Set(headerValues(message.raw, FORWARD_MARKER).flatMap((v) => v.split(/[\s,]+/)));
  if (plans.some((p) => p.rules.length && markers.has(p.mailbox.id))) {
    return { code: 554, enhanced: '5.4.6', reply: 'Routing loop detected: this message was already forwarded by this mailbox' };
  }

  const auth = await authenticateMessage(core, { raw: message.raw, mailFrom: message.mailFrom, remoteAddress: message.remoteAddress, heloName: message.heloName });
  if (auth.reject) return { code: 550, enhanced: '5.7.1', reply: 'Rejected by the DMARC policy of the sender domain (p=reject)' };

  const now = core.clock.now();
  const recipients = [...new Set(targets.map((t) => t.address))];
  const received = receivedHeader({
    heloName: message.heloName,
    clientHostname: message.clientHostname,
    remoteAddress: message.remoteAddress,
    hostname: core.settings.hostname,
    secure: message.secure,
    recipients,
    now,
  });
  // authenticate.ts gives the message with its Authentication-Results on top (and forgeries of
  // our authserv-id removed, RFC 8601 §5); our Received goes above it.
  // One copy of the message: `traced` (what forwards carry) is a view into `stored`.
  const returnPath = Buffer.from(returnPathHeader(message.mailFrom));
  // X-Spam-* fields the sender wrote are forgeries of our verdict: removed before anything reads them.
  const body = stripSpamFields(auth.body);
  const stored = Buffer.concat([returnPath, Buffer.from(received), Buffer.from(auth.header.endsWith('\n') ? auth.header : `${auth.header}\r\n`), body]);
  const traced = stored.subarray(returnPath.length);

  let parsed: ParsedMessage;
  try {
    parsed = await parseMessage(stored);
  } catch (err) {
    if (err instanceof ParseRefusal) return { code: 554, enhanced: '5.6.0', reply: `Message not accepted: ${err.message}`.slice(0, 400) };
    throw err;
  }

  // Cheap first look at the quotas (the binding check is in the transaction).
  const size = stored.length;
  if (plans.some((p) => p.store && !quotaAllows(core, p.mailbox, size))) return quotaRefusal;

  // Spam filtering before the 250 (src/spam/filter.ts): refused, or a verdict per mailbox
  // (Junk or not, and the X-Spam-* fields of its copy).
  const judged = await judgeInbound(core, { raw: stored, parsed, auth: auth.verdicts, remoteAddress: message.remoteAddress, heloName: message.heloName, mailFrom: message.mailFrom, recipients, mailboxes: plans.map((p) => p.mailbox) });
  if (judged.refuse) return { code: judged.code, enhanced: judged.enhanced, reply: judged.reply };

  // Forwards are signed and stored before the transaction; a mailbox whose forwards cannot leave keeps a copy.
  // Spam is not forwarded (it would spend our reputation at the destination): a mailbox whose
  // verdict is Junk keeps the message in its own Junk instead.
  const forwards: PreparedForward[] = [];
  for (const p of plans) {
    if (!p.rules.length) continue;
    if (judged.verdicts.get(p.mailbox.id)!.junk) {
      p.store = true;
      continue;
    }
    const r = await prepareForwards(core, p.mailbox, p.rules, { traced, mailFrom: message.mailFrom, parsed, auth: { header: auth.header, arc: auth.verdicts.arc } });
    forwards.push(...r.forwards);
    if (r.failed) p.store = true;
  }
  const toStore = plans.filter((p) => p.store);
  if (toStore.some((p) => !quotaAllows(core, p.mailbox, size))) return quotaRefusal;

  // One blob per distinct set of X-Spam-* fields (mailboxes whose verdicts agree share it).
  const blobs = new Map<string, { blobId: string; size: number; raw: Buffer }>();
  for (const p of toStore) {
    const fields = spamHeaders(core, judged.verdicts.get(p.mailbox.id)!);
    if (blobs.has(fields)) continue;
    // Return-Path, Received, Authentication-Results, then X-Spam-*, then the message as sent.
    const ar = Buffer.from(auth.header.endsWith('\n') ? auth.header : `${auth.header}\r\n`);
    const copy = Buffer.concat([returnPath, Buffer.from(received), ar, Buffer.from(fields), body]);
    if (!quotaAllows(core, p.mailbox, copy.length)) return quotaRefusal;
    blobs.set(fields, { blobId: await blobStore(core).put(copy), size: copy.length, raw: copy });
  }
  const verdicts = auth.verdicts;
  try {
    const stats = await mailTransaction(core, async (tx, emit) => {
      let appended = 0;
      for (const p of toStore) {
        const mailbox = await tx.selectFrom('mailboxes').selectAll().where('id', '=', p.mailbox.id).executeTakeFirst();
        if (!mailbox) continue; // removed since RCPT: nobody left to deliver to
        const spam = judged.verdicts.get(p.mailbox.id)!;
        const blob = blobs.get(spamHeaders(core, spam))!;
        if (!quotaAllows(core, mailbox, blob.size)) throw new Refusal(quotaRefusal);
        const msg = await appendMessage(core, tx, emit, {
          mailbox,
          specialUse: spam.junk ? 'junk' : 'inbox',
          blobId: blob.blobId,
          raw: blob.raw,
          size: blob.size,
          parsed,
          internalDate: now,
          direction: 'inbound',
          auth: { ...verdicts, details: auth.details },
          envelopeFrom: message.mailFrom,
          receivedFor: p.receivedFor,
        });
        await recordVerdict(core, tx, { id: msg.id, workspace_id: mailbox.workspace_id, mailbox_id: mailbox.id }, spam);
        await announce(core, tx, mailbox, msg.id, parsed);
        appended++;
      }
      for (const f of forwards) await recordMessage(core, tx, f.input, f.stored);
      return { appended, forwarded: forwards.length };
    });
    if (!stats.appended && !stats.forwarded) return { code: 550, enhanced: '5.1.1', reply: 'No such user here (the mailbox was removed)' };
    log.debug({ size, appended: stats.appended, forwarded: stats.forwarded }, 'inbound message delivered');
    const what = [stats.appended ? `stored in ${stats.appended} mailbox${stats.appended > 1 ? 'es' : ''}` : null, stats.forwarded ? `forwarded to ${stats.forwarded}` : null].filter(Boolean).join(', ');
    return { code: 250, enhanced: '2.0.0', reply: `OK: ${what}` };
  } catch (err) {
    if (err instanceof Refusal) return err.outcome;
    throw err;
  }
}

/**
 * The `email.received` event of one stored message, in the delivery transaction: Resend's
 * ReceivedEmailEventData plus the parsed bodies, inbox and thread ids (src/mailstore/views.ts).
 */
async function announce(core: Core, tx: Db, mailbox: Mailbox, messageId: string, parsed: ParsedMessage) {
  const row = await tx.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirstOrThrow();
  const attachments = await tx
    .selectFrom('message_attachments')
    .select(['id', 'filename', 'size', 'content_type', 'disposition', 'content_id'])
    .where('message_id', '=', messageId)
    .orderBy('position')
    .execute();
  const data = receivedEventJson({ row, parsed, attachments }, { inboxMode: mailbox.mode });
  await emitEvent(core, mailbox.workspace_id, 'email.received', data, tx);
  // The inbox-level event of Resend's inbox API (InboxThreadEmailEventData).
  await emitEvent(core, mailbox.workspace_id, 'inbox.email.received', { source: 'system', inbox_id: mailbox.id, thread_id: row.thread_id, email_id: row.id }, tx);
}
