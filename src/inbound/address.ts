// Envelope and hosted addresses: how an RCPT TO address is normalised before it is looked up.
//
// Implementation notes:
// - Domains are case-insensitive (RFC 5321 §2.4, RFC 1035 §2.3.3); a trailing root dot is dropped.
// - Local parts are case-sensitive in principle (RFC 5321 §2.4), but the RFC advises hosts not to
//   rely on it and every mail provider folds case: we lower-case the local part too, so
//   `Alice@Example.com` and `alice@example.com` are the same mailbox. Hosted addresses (mailboxes,
//   aliases) are stored lower-cased for the same reason.
// - Subaddressing (RFC 5233 "detail"): `user+tag@domain` reaches `user@domain` when no address
//   `user+tag@domain` is hosted itself. Only the first `+` separates; an empty base (`+tag@`) is
//   not subaddressing.
// - Source routes (RFC 5321 §4.1.1.3, Appendix C): `<@relay.example,@b.example:alice@hosted.example>`
//   is the old way of asking us to relay. Receivers SHOULD ignore the route, so it is removed and the
//   final address alone is routed: relay rules apply to that address and a route can never open a
//   relay (smtp-server strips it as well; we do again so the router never depends on that).
// - Nothing here trusts its input: bad syntax gives null, never an exception.

/** RFC 5321 §4.5.3.1: local part ≤ 64 octets, domain ≤ 255, path ≤ 256; we allow SRS-length locals. */
const MAX_ADDRESS = 320;
const MAX_LOCAL = 200;

export interface SplitAddress {
  /** Lower-cased local part. */
  local: string;
  /** Lower-cased domain without a trailing dot. */
  host: string;
}

/** One or more `@domain` hops ending in `:` at the start of a path (RFC 5321 §4.1.2 A-d-l). */
const SOURCE_ROUTE = /^@[^\s,:@<>]+(?:,@[^\s,:@<>]+)*:/;

/** The address without its source route, when it has one (RFC 5321 §4.1.1.3: ignored). */
export function stripSourceRoute(raw: string): string {
  return raw.trim().replace(SOURCE_ROUTE, '');
}

/** Splits and lower-cases an address; null when it is not `local@domain` or is absurdly long. */
export function splitAddress(raw: string): SplitAddress | null {
  const address = raw.trim();
  if (!address || address.length > MAX_ADDRESS) return null;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const local = address.slice(0, at).toLowerCase();
  const host = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (local.length > MAX_LOCAL || !host || host.length > 255) return null;
  // `@` or `:` left in a local part is a malformed route (`@a:@b:x@y`), not an address.
  if (/[\s\u0000-\u001f\u007f<>]/.test(local) || (local.includes('@') && !local.startsWith('"')) || !/^[a-z0-9\u0080-\uffff]([a-z0-9\u0080-\uffff.-]*[a-z0-9\u0080-\uffff])?$/.test(host) || host.includes('..')) return null;
  return { local, host };
}

/** The base of a subaddress (`user+tag` → `user`), or null when the local part has no detail. */
export function subaddressBase(local: string): string | null {
  const plus = local.indexOf('+');
  if (plus <= 0) return null;
  return local.slice(0, plus);
}

/** A hosted address as stored: `local@host`, lower-cased. Null when the syntax is wrong. */
export function normalizeHostedAddress(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const parts = splitAddress(raw);
  // Hosted local parts are dot-atoms (RFC 5322 §3.4.1): no quoting, no leading/trailing/double dots.
  if (!parts || parts.local.length > 64 || !/^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(parts.local)) return null;
  return `${parts.local}@${parts.host}`;
}
