// Inbound spam filtering: every message the MX accepts for hosted mailboxes is judged here before
// the 250 (src/inbound/deliver.ts calls `judgeInbound` once the message is parsed).
//
// Implementation notes (invariants a newcomer must not break):
// - Two engines. With MAILSTACK_RSPAMD_URL, rspamd's /checkv2 gives the score, the action and the
//   symbols. Without it (the embedded default), or when rspamd cannot be reached, the built-in
//   filter scores GTUBE, DNS blocklists (MAILSTACK_DNSBL), the SPF/DKIM/DMARC verdicts the MX just
//   computed, and each mailbox's own Bayesian filter (bayes.ts).
// - One reply for all recipients (RFC 5321 §4.2.5 has no per-recipient answer to DATA): the
//   message is refused (550 5.7.1, nothing stored) when its score, without the per-mailbox parts,
//   reaches the reject score (or rspamd says `reject`), when a target workspace refuses an
//   executable attachment, or when every target mailbox blocks the sender with `reject`.
//   Otherwise each mailbox gets its own verdict: its Bayes words and its allow/block lists move
//   it to Junk or keep it out of Junk.
// - Failing open: a blocklist or rspamd that is down never refuses or delays mail; the built-in
//   checks still run and the failure is logged.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { ParsedMessage } from '../mailstore/parse.ts';
import { bodyText } from '../mailstore/text.ts';
import { EXECUTABLE_RULE, findExecutable } from './attachments.ts';
import { classify, tokenize } from './bayes.ts';
import { dnsblListings } from './dnsbl.ts';
import { hasGtube } from './gtube.ts';
import { listDecision } from './lists.ts';
import { RspamdError, rspamdCheck } from './rspamd.ts';

export type SpamAction = 'no action' | 'add header' | 'reject';

export interface SpamVerdict {
  engine: 'builtin' | 'rspamd';
  score: number;
  action: SpamAction;
  symbols: Record<string, number>;
  /** Goes to the Junk folder. */
  junk: boolean;
}

export interface JudgeInput {
  /** The message as it will be stored (Return-Path, Received, Authentication-Results on top). */
  raw: Buffer;
  parsed: ParsedMessage;
  auth: { spf: string; dkim: string; dmarc: string; dmarcPolicy: string | null };
  remoteAddress: string | null;
  heloName: string | null;
  mailFrom: string;
  recipients: string[];
  mailboxes: { id: string; workspace_id: string; address: string }[];
}

export type Judgement =
  | { refuse: true; code: 550; enhanced: '5.7.1'; reply: string }
  | { refuse: false; verdicts: Map<string, SpamVerdict> };

const round = (n: number) => Math.round(n * 100) / 100;
const sum = (s: Record<string, number>) => round(Object.values(s).reduce((a, b) => a + b, 0));

/** The scores the built-in filter gives (symbol names follow rspamd's where one exists). */
export const BUILTIN_SCORES = {
  GTUBE: 1000,
  DNSBL: 8,
  SPF_FAIL: 2,
  SPF_SOFTFAIL: 1,
  DKIM_FAIL: 2,
  DMARC_POLICY_REJECT: 6,
  DMARC_POLICY_QUARANTINE: 4,
  DMARC_FAIL: 2,
  BAYES_SPAM: 6,
  BAYES_PROBABLE_SPAM: 3,
  BAYES_HAM: -3,
  ALLOWLIST: -100,
  BLOCKLIST: 100,
} as const;

function builtinBase(input: JudgeInput, listings: { zone: string }[]): Record<string, number> {
  const s: Record<string, number> = {};
  if (hasGtube(input.parsed.subject, input.parsed.text, input.parsed.html)) s.GTUBE = BUILTIN_SCORES.GTUBE;
  for (const l of listings) s[`DNSBL_${l.zone.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`] = BUILTIN_SCORES.DNSBL;
  if (input.auth.spf === 'fail') s.R_SPF_FAIL = BUILTIN_SCORES.SPF_FAIL;
  if (input.auth.spf === 'softfail') s.R_SPF_SOFTFAIL = BUILTIN_SCORES.SPF_SOFTFAIL;
  if (input.auth.dkim === 'fail') s.R_DKIM_REJECT = BUILTIN_SCORES.DKIM_FAIL;
  if (input.auth.dmarc === 'fail') {
    if (input.auth.dmarcPolicy === 'reject') s.DMARC_POLICY_REJECT = BUILTIN_SCORES.DMARC_POLICY_REJECT;
    else if (input.auth.dmarcPolicy === 'quarantine') s.DMARC_POLICY_QUARANTINE = BUILTIN_SCORES.DMARC_POLICY_QUARANTINE;
    else s.DMARC_POLICY_SOFTFAIL = BUILTIN_SCORES.DMARC_FAIL;
  }
  return s;
}

async function refusesExecutables(db: Db, workspaceIds: string[]): Promise<boolean> {
  if (!workspaceIds.length) return false;
  const rows = await db.selectFrom('workspace_abuse').select('refuse_executables').where('workspace_id', 'in', workspaceIds).execute();
  return rows.some((r) => Number(r.refuse_executables) === 1);
}

function senderAddresses(input: JudgeInput): string[] {
  const out = [input.mailFrom];
  if (input.parsed.from?.address) out.push(input.parsed.from.address);
  return out.filter(Boolean);
}

export async function judgeInbound(core: Core, input: JudgeInput): Promise<Judgement> {
  const { rejectScore, junkScore } = core.settings.spam;
  const workspaceIds = [...new Set(input.mailboxes.map((m) => m.workspace_id))];

  if (await refusesExecutables(core.db, workspaceIds)) {
    const exe = findExecutable(input.parsed.attachments);
    if (exe) {
      return { refuse: true, code: 550, enhanced: '5.7.1', reply: `Message refused by rule ${EXECUTABLE_RULE}: attachment ${JSON.stringify((exe.filename ?? 'unnamed').slice(0, 100))} is a ${exe.kind}` };
    }
  }

  // The engine's part, the same for every mailbox.
  let engine: SpamVerdict['engine'] = 'builtin';
  let base: Record<string, number> = {};
  let rspamdAction: string | null = null;
  let rspamdMessage: string | null = null;
  if (core.settings.spam.rspamdUrl) {
    try {
      const r = await rspamdCheck(core, input.raw, { ip: input.remoteAddress, helo: input.heloName, from: input.mailFrom, rcpt: input.recipients, deliverTo: input.recipients[0] });
      engine = 'rspamd';
      base = Object.fromEntries(Object.entries(r.symbols).filter(([, v]) => v !== 0).map(([k, v]) => [k, round(v)]));
      // rspamd's total is authoritative (symbols may be grouped or capped); keep it.
      base.__total = round(r.score - sum(base));
      if (base.__total === 0) delete base.__total;
      rspamdAction = r.action;
      rspamdMessage = r.smtpMessage;
    } catch (err) {
      if (!(err instanceof RspamdError)) throw err;
      core.log.warn({ err: err.message }, 'rspamd unavailable: the built-in filter judges this message');
    }
  }
  if (engine === 'builtin') base = builtinBase(input, await dnsblListings(core, input.remoteAddress));
  const baseScore = sum(base);
  const visible = (s: Record<string, number>) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== '__total'));

  if (rspamdAction === 'reject' || (engine === 'builtin' && baseScore >= rejectScore)) {
    const names = [rspamdMessage, ...Object.keys(visible(base)).sort((a, b) => base[b] - base[a]).slice(0, 5)].filter(Boolean).join(', ');
    return { refuse: true, code: 550, enhanced: '5.7.1', reply: `Message refused as spam (score ${baseScore}${names ? `: ${names}` : ''})` };
  }

  const senders = senderAddresses(input);
  const tokens = engine === 'builtin' ? tokenize({ subject: input.parsed.subject, text: bodyText(input.parsed), fromAddress: input.parsed.from?.address ?? input.mailFrom }) : [];
  const verdicts = new Map<string, SpamVerdict>();
  let rejectedBy = 0;
  for (const m of input.mailboxes) {
    const symbols = { ...base };
    if (engine === 'builtin') {
      const b = await classify(core.db, m.id, tokens);
      if (b.probability !== null) {
        if (b.probability >= 0.95) symbols.BAYES_SPAM = BUILTIN_SCORES.BAYES_SPAM;
        else if (b.probability >= 0.8) symbols.BAYES_PROBABLE_SPAM = BUILTIN_SCORES.BAYES_PROBABLE_SPAM;
        else if (b.probability <= 0.1) symbols.BAYES_HAM = BUILTIN_SCORES.BAYES_HAM;
      }
    }
    const entry = await listDecision(core.db, m.workspace_id, m.id, senders);
    if (entry?.kind === 'allow') symbols.ALLOWLIST = BUILTIN_SCORES.ALLOWLIST;
    if (entry?.kind === 'block') {
      symbols.BLOCKLIST = BUILTIN_SCORES.BLOCKLIST;
      if (entry.action === 'reject') rejectedBy++;
    }
    const score = sum(symbols);
    const engineJunk = rspamdAction !== null && rspamdAction !== 'no action' && rspamdAction !== 'greylist' && rspamdAction !== 'soft reject';
    const junk = entry?.kind === 'allow' ? false : entry?.kind === 'block' || score >= junkScore || engineJunk;
    verdicts.set(m.id, { engine, score, action: junk ? 'add header' : 'no action', symbols: visible(symbols), junk });
  }
  if (input.mailboxes.length && rejectedBy === input.mailboxes.length) {
    return { refuse: true, code: 550, enhanced: '5.7.1', reply: 'Message refused: the recipient does not accept mail from this sender' };
  }
  return { refuse: false, verdicts };
}

/** The X-Spam-* header fields of a verdict, prepended to the stored copy (SpamAssassin's and rspamd's names). */
export function spamHeaders(core: Core, v: SpamVerdict): string {
  const symbols = Object.entries(v.symbols)
    .sort((a, b) => b[1] - a[1])
    .map(([k, s]) => `${k}(${s.toFixed(2)})`)
    .join(',\r\n\t');
  return (
    `X-Spam-Status: ${v.junk ? 'Yes' : 'No'}, score=${v.score.toFixed(2)} required=${core.settings.spam.junkScore.toFixed(2)} engine=${v.engine}\r\n` +
    `X-Spam-Score: ${v.score.toFixed(2)}\r\n` +
    `X-Spam-Action: ${v.action}\r\n` +
    (symbols ? `X-Spam-Symbols: ${symbols}\r\n` : '') +
    (v.junk ? 'X-Spam-Flag: YES\r\n' : '')
  );
}

/** Records a verdict with its stored message, in the delivery transaction. */
export async function recordVerdict(core: Core, tx: Db, m: { id: string; workspace_id: string; mailbox_id: string }, v: SpamVerdict): Promise<void> {
  await tx
    .insertInto('spam_verdicts')
    .values({ message_id: m.id, workspace_id: m.workspace_id, mailbox_id: m.mailbox_id, engine: v.engine, score: v.score, action: v.action, symbols_json: JSON.stringify(v.symbols), trained: null, created_at: core.clock.now() })
    .execute();
}

export type SpamJson = { score: number; action: string; symbols: Record<string, number>; engine: string; trained: string | null };

const spamJson = (v: { engine: string; score: number; action: string; symbols_json: string; trained: 'spam' | 'ham' | null }): SpamJson | null =>
  v.engine === 'none' ? null : { score: Number(v.score), action: v.action, symbols: JSON.parse(v.symbols_json), engine: v.engine, trained: v.trained };

/** `spam: { score, action, symbols }` for the receiving API; null for a message no filter judged. */
export async function spamOf(db: Db, workspaceId: string, messageId: string): Promise<SpamJson | null> {
  const v = await db.selectFrom('spam_verdicts').selectAll().where('message_id', '=', messageId).where('workspace_id', '=', workspaceId).executeTakeFirst();
  return v ? spamJson(v) : null;
}

/** The same for a page of messages (the receiving list), in one query. */
export async function spamOfMany(db: Db, workspaceId: string, messageIds: string[]): Promise<Map<string, SpamJson | null>> {
  const out = new Map<string, SpamJson | null>();
  if (!messageIds.length) return out;
  const rows = await db.selectFrom('spam_verdicts').selectAll().where('workspace_id', '=', workspaceId).where('message_id', 'in', messageIds).execute();
  for (const v of rows) out.set(v.message_id, spamJson(v));
  return out;
}

/**
 * The message with every X-Spam-* header field removed from its header section: only our own
 * verdict's fields may reach a mailbox (a sender could otherwise write `X-Spam-Status: No` or
 * `X-Spam-Flag: YES` and fool a mail client's rules). Continuation lines go with their field.
 */
export function stripSpamFields(message: Buffer): Buffer {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf <= lf) ? crlf + 2 : lf >= 0 ? lf + 1 : message.length;
  const head = message.subarray(0, end).toString('latin1');
  if (!/^x-spam-/im.test(head)) return message;
  const lines = head.split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    dropping = /^x-spam-[^:]*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), message.subarray(end)]);
}
