// Identifiers. Rows get UUIDv7 ids (RFC 9562 §5.7): time-ordered, so "newest first" and cursor
// pagination are plain comparisons on the id. Secrets (API keys, session and link tokens) get
// 256 bits from the CSPRNG and are stored only as SHA-256 digests.
import { createHash, randomBytes } from 'node:crypto';

let lastMs = 0;
let seq = 0;

/** A UUIDv7 string, monotonic within this process. */
export function newId(now = Date.now()): string {
  if (now <= lastMs) {
    now = lastMs;
    seq = (seq + 1) & 0xfff;
    if (seq === 0) now = ++lastMs;
  } else {
    lastMs = now;
    seq = randomBytes(2).readUInt16BE(0) & 0x3ff; // leave room to count up within one millisecond
  }
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A random token of base58 characters (about 5.86 bits each). */
export function randomToken(length = 44): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 232 && out.length < length) out.push(ALPHABET[byte % 58]); // 232 = 4*58: no bias
    }
  }
  return out.join('');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}
