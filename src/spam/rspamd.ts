// rspamd through its HTTP protocol (https://rspamd.com/doc/developers/protocol.html), at
// MAILSTACK_RSPAMD_URL (the controller, which answers both /checkv2 and the learn endpoints).
//
// Implementation notes:
// - /checkv2 takes the raw message as the body and the envelope as headers (IP, Helo, From, Rcpt,
//   Hostname, Queue-Id); it answers JSON { score, required_score, action, symbols }.
// - /learnspam and /learnham take the raw message; MAILSTACK_RSPAMD_PASSWORD goes in the
//   `Password` header (rspamd lets loopback clients learn without one, its `secure_ip`). A message
//   rspamd already learnt as that class answers 208, which is success for us.
// - Every call has a deadline; a failure is thrown as RspamdError and the caller decides (the MX
//   falls back to the built-in filter rather than refusing or delaying mail).
import type { Core } from '../core/core.ts';

export class RspamdError extends Error {}

export interface RspamdResult {
  score: number;
  requiredScore: number;
  action: string;
  symbols: Record<string, number>;
  /** rspamd's text for the SMTP reply (`messages.smtp_message`), e.g. "Gtube pattern". */
  smtpMessage: string | null;
}

export interface RspamdEnvelope {
  ip?: string | null;
  helo?: string | null;
  from?: string | null;
  rcpt?: string[];
  user?: string | null;
  deliverTo?: string | null;
}

function base(core: Core): string {
  const url = core.settings.spam.rspamdUrl;
  if (!url) throw new RspamdError('rspamd is not configured (MAILSTACK_RSPAMD_URL)');
  return url;
}

async function call(core: Core, path: string, raw: Buffer, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; json: any }> {
  let res: Response;
  try {
    res = await fetch(`${base(core)}${path}`, { method: 'POST', body: raw, headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new RspamdError(`rspamd unreachable: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json };
}

export async function rspamdCheck(core: Core, raw: Buffer, env: RspamdEnvelope): Promise<RspamdResult> {
  const headers: Record<string, string> = { 'content-type': 'message/rfc822', Hostname: core.settings.hostname };
  if (env.ip) headers.IP = env.ip;
  if (env.helo) headers.Helo = env.helo.slice(0, 255);
  if (env.from !== undefined && env.from !== null) headers.From = env.from || '<>';
  if (env.rcpt?.length) headers.Rcpt = env.rcpt[0];
  if (env.deliverTo) headers['Deliver-To'] = env.deliverTo;
  if (env.user) headers.User = env.user;
  const { status, json } = await call(core, '/checkv2', raw, headers, 15_000);
  if (status !== 200 || !json || typeof json.score !== 'number') throw new RspamdError(`rspamd /checkv2 answered ${status}${json?.error ? `: ${json.error}` : ''}`);
  const symbols: Record<string, number> = {};
  for (const [name, s] of Object.entries(json.symbols ?? {})) symbols[name] = Number((s as any)?.score ?? 0);
  const smtp = json.messages?.smtp_message;
  // Outside text going into an SMTP reply: one line, printable, bounded.
  const smtpMessage = typeof smtp === 'string' ? smtp.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200) || null : null;
  return { score: json.score, requiredScore: Number(json.required_score ?? 0), action: String(json.action ?? 'no action'), symbols, smtpMessage };
}

/** Trains rspamd's Bayes classifier with one message. */
export async function rspamdLearn(core: Core, raw: Buffer, as: 'spam' | 'ham', deliverTo?: string | null): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'message/rfc822' };
  if (core.settings.spam.rspamdPassword) headers.Password = core.settings.spam.rspamdPassword;
  if (deliverTo) headers['Deliver-To'] = deliverTo;
  const { status, json } = await call(core, as === 'spam' ? '/learnspam' : '/learnham', raw, headers, 30_000);
  // 208: already learnt as this class.
  if (status === 200 || status === 208) return;
  throw new RspamdError(`rspamd learn${as} answered ${status}${json?.error ? `: ${json.error}` : ''}`);
}
