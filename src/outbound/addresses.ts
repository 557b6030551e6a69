// Addresses as the send API takes them: `email@example.com` or `Name <email@example.com>`
// (RFC 5322 §3.4 name-addr / addr-spec, the subset Resend documents). The parser is strict on
// purpose: anything that could smuggle a second address or a header line (CR, LF, commas outside a
// quoted name, angle brackets in the wrong place) is refused, so the composer never has to guess.
import { domainToASCII } from 'node:url';

export interface Mailbox {
  /** Display name as given (unquoted), or '' when none. */
  name: string;
  /** The address with its domain in lower-case ASCII (A-label) form; the local part as given. */
  address: string;
  domain: string;
}

/** RFC 5322 §3.2.3 atext, plus dots between atoms (dot-atom). */
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Parses one mailbox, or returns null when it is not one. */
export function parseMailbox(raw: unknown): Mailbox | null {
  if (typeof raw !== 'string') return null;
  if (raw.length > 998 || /[\r\n\u0000]/.test(raw)) return null;
  const s = raw.trim();
  let name = '';
  let addr = s;
  const m = /^(.*?)\s*<([^<>]*)>$/.exec(s);
  if (m) {
    name = m[1].trim();
    addr = m[2].trim();
    if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (/[<>"]/.test(name)) return null;
    if (name.length > 256 || /[\u0000-\u001f\u007f]/.test(name)) return null;
  } else if (/[<>\s]/.test(s)) {
    return null;
  }
  const at = addr.lastIndexOf('@');
  if (at <= 0 || at === addr.length - 1) return null;
  const local = addr.slice(0, at);
  const rawDomain = addr.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local)) return null;
  const domain = domainToASCII(rawDomain.toLowerCase());
  if (!domain || domain.length > 253) return null;
  const labels = domain.split('.');
  if (labels.length < 2 || labels.some((l) => !LABEL.test(l)) || /^[0-9]+$/.test(labels[labels.length - 1])) return null;
  const address = `${local}@${domain}`;
  if (address.length > 254) return null;
  return { name, address, domain };
}

/** `to`, `cc`, `bcc`, `reply_to`: a string or an array of strings; undefined/null means none. */
export function addressList(raw: unknown): { ok: true; list: Mailbox[] } | { ok: false; index: number } {
  if (raw === undefined || raw === null) return { ok: true, list: [] };
  const items = Array.isArray(raw) ? raw : [raw];
  const list: Mailbox[] = [];
  for (let i = 0; i < items.length; i++) {
    const mb = parseMailbox(items[i]);
    if (!mb) return { ok: false, index: i };
    list.push(mb);
  }
  return { ok: true, list };
}

/** The header form of a mailbox, for storage and display (`Name <a@b>` or `a@b`). */
export function formatMailbox(mb: Mailbox): string {
  if (!mb.name) return mb.address;
  const needsQuotes = /[()<>\[\]:;@\\,."]/.test(mb.name);
  return needsQuotes ? `"${mb.name.replace(/(["\\])/g, '\\$1')}" <${mb.address}>` : `${mb.name} <${mb.address}>`;
}
