// SRS, the Sender Rewriting Scheme: a message we forward leaves with an envelope sender on our own
// return-path host, so the receiver's SPF check (RFC 7208) is made against a host that authorises
// us, and a bounce of the forwarded copy comes back to us, to be sent on to the original sender.
//
// Implementation notes:
// - Format (as libsrs2 / postsrsd write it): `SRS0=HHHHHHHH=TT=<orig domain>=<orig local>@<host>`.
//   TT is the day number (days since the epoch, mod 1024) in two base32 characters; HHHHHHHH is
//   the first 40 bits of HMAC-SHA-256 over `TT=domain=local` (lower-cased), in base32.
// - Base32 (RFC 4648 alphabet) rather than base64 for the hash: MTAs may change the case of a local
//   part, and everything here is compared lower-cased, so case carries no information.
// - The key is an instance secret (src/secrets/instance-secrets.ts, sealed by the vault): the same
//   on every node of one installation, so any node's MX can check what another node wrote.
// - An address is good for MAX_AGE_DAYS (21, as postsrsd) after it was made and not before; the
//   day counter wraps every 1024 days, which the modular difference handles.
// - Only forwarding uses SRS0; forwarding an address that is already SRS0 simply wraps it again
//   (no SRS1 shortcut): longer, but correct.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Core } from '../core/core.ts';
import { instanceSecret } from '../secrets/instance-secrets.ts';

export const SRS_MAX_AGE_DAYS = 21;
const DAY_MS = 86_400_000;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HASH_CHARS = 8;

function base32(bytes: Buffer, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
    if (out.length >= chars) break;
  }
  return out;
}

function dayStamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % 1024;
  return BASE32[day >> 5] + BASE32[day & 31];
}

function stampAge(stamp: string, now: number): number | null {
  if (stamp.length !== 2) return null;
  const hi = BASE32.indexOf(stamp[0]);
  const lo = BASE32.indexOf(stamp[1]);
  if (hi < 0 || lo < 0) return null;
  const then = (hi << 5) | lo;
  const today = Math.floor(now / DAY_MS) % 1024;
  return (today - then + 1024) % 1024;
}

async function hash(core: Core, stamp: string, domain: string, local: string): Promise<string> {
  const key = await instanceSecret(core, 'srs');
  const mac = createHmac('sha256', key).update(`${stamp}=${domain}=${local}`.toLowerCase()).digest();
  return base32(mac, HASH_CHARS);
}

/** The SRS0 address for `original` (the envelope sender of a message we forward) at `host`. */
export async function srsEncode(core: Core, original: string, host: string): Promise<string> {
  const at = original.lastIndexOf('@');
  if (at <= 0) throw new Error('SRS needs an address with a domain');
  const local = original.slice(0, at);
  const domain = original.slice(at + 1).toLowerCase();
  const stamp = dayStamp(core.clock.now());
  return `SRS0=${await hash(core, stamp, domain, local)}=${stamp}=${domain}=${local}@${host.toLowerCase()}`;
}

export type SrsCheck = { ok: true; original: string } | { ok: false; reason: 'not_srs' | 'bad_hash' | 'expired' };

/** Checks the local part of an address at one of our return-path hosts. */
export async function srsDecode(core: Core, localPart: string): Promise<SrsCheck> {
  if (!/^srs0=/i.test(localPart)) return { ok: false, reason: 'not_srs' };
  const parts = localPart.slice(5).split('=');
  if (parts.length < 4) return { ok: false, reason: 'not_srs' };
  const [givenHash, stamp, domain] = parts.map((p) => p.toLowerCase());
  const local = parts.slice(3).join('=');
  if (!domain || !local || givenHash.length !== HASH_CHARS) return { ok: false, reason: 'bad_hash' };
  const want = Buffer.from(await hash(core, stamp, domain, local));
  const got = Buffer.from(givenHash);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'bad_hash' };
  const age = stampAge(stamp, core.clock.now());
  if (age === null || age > SRS_MAX_AGE_DAYS) return { ok: false, reason: 'expired' };
  return { ok: true, original: `${local}@${domain}` };
}
