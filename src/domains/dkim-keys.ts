// DKIM key pairs (RFC 6376; Ed25519 per RFC 8463).
// - RSA: 2048 bits (RFC 8301 §3.2 asks signers for at least 1024, recommends 2048). The DNS
//   record's p= is the base64 DER SubjectPublicKeyInfo (RFC 6376 §3.6.1, as `openssl rsa -pubout`
//   writes it and every verifier reads it).
// - Ed25519: p= is the raw 32-byte public key in base64 (RFC 8463 §4.2), not an SPKI structure.
// The private key is PKCS#8 PEM, the form mailauth's dkimSign takes; it is only ever stored sealed.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

export type DkimAlgorithm = 'rsa' | 'ed25519';
export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = ['rsa', 'ed25519'];

const generate = promisify(generateKeyPair);

export interface DkimKeyPair {
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
  /** The p= value of the DNS record. */
  publicKey: string;
}

// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): the raw key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export async function generateDkimKey(algorithm: DkimAlgorithm): Promise<DkimKeyPair> {
  if (algorithm === 'ed25519') {
    const { publicKey, privateKey } = await generate('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const spki = publicKey as unknown as Buffer;
    if (!spki.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)) throw new Error('unexpected Ed25519 SPKI encoding');
    return { algorithm, privateKeyPem: privateKey as unknown as string, publicKey: spki.subarray(ED25519_SPKI_PREFIX.length).toString('base64') };
  }
  const { publicKey, privateKey } = await generate('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { algorithm, privateKeyPem: privateKey as unknown as string, publicKey: (publicKey as unknown as Buffer).toString('base64') };
}

/**
 * A new selector: `mailstack-YYYYMMDD-xxxx`. Dated and random, so a later key (rotation, or the
 * same domain added again) gets a fresh DNS name and the old record can stay published while mail
 * signed with the old key is still in flight (RFC 6376 §3.1: selectors exist for this).
 */
export function newSelector(now: number): string {
  const d = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
  return `mailstack-${d}-${randomBytes(2).toString('hex')}`;
}

/** The DKIM key record's text (RFC 6376 §3.6.1 tags v, k, p). */
export function dkimRecordValue(algorithm: DkimAlgorithm, publicKey: string): string {
  return `v=DKIM1; k=${algorithm}; p=${publicKey}`;
}
