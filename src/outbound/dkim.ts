// DKIM signing of outgoing mail (RFC 6376) with the sending domain's key, through mailauth.
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { SendingDomain } from '../domains/domains.ts';

// mailauth's default list, plus List-Unsubscribe-Post: RFC 8058 §4 requires both it and
// List-Unsubscribe under the signature for one-click to be trusted. Only fields present are signed.
const SIGNED_FIELDS =
  'From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:Content-Type:Content-Transfer-Encoding:Content-ID:' +
  'Content-Description:Resent-Date:Resent-From:Resent-Sender:Resent-To:Resent-Cc:Resent-Message-ID:In-Reply-To:References:' +
  'List-Id:List-Help:List-Unsubscribe:List-Unsubscribe-Post:List-Subscribe:List-Post:List-Owner:List-Archive:BIMI-Selector';

/** Returns the message with its DKIM-Signature header prepended. */
export async function signMessage(raw: Buffer, domain: SendingDomain): Promise<Buffer> {
  const key = {
    signingDomain: domain.name,
    selector: domain.dkim.selector,
    privateKey: domain.dkim.privateKey,
    algorithm: domain.dkim.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
    canonicalization: 'relaxed/relaxed',
  };
  // mailauth 4 signs with the keys listed in `signatureData`.
  const signed = await dkimSign(raw, { ...key, headerList: SIGNED_FIELDS, signatureData: [key] } as any);
  if (signed.errors?.length) throw new Error(`DKIM signing failed: ${signed.errors.map((e: any) => e.message ?? String(e)).join('; ')}`);
  return Buffer.concat([Buffer.from(signed.signatures), raw]);
}
