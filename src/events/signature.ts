// Webhook signatures, the Standard Webhooks way (https://www.standardwebhooks.com/, spec
// "Standard Webhooks" §Signature scheme, symmetric "v1"):
// - the secret is `whsec_` + base64 of 24 to 64 random bytes; the HMAC key is the decoded bytes;
// - the signed content is `${webhook-id}.${webhook-timestamp}.${body}` (timestamp in whole seconds);
// - `webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>` entries.
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** A new signing secret: 32 random bytes (the spec asks for 24 to 64). */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** The `webhook-signature` header value for one message. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers for a message sent now. */
export function signedHeaders(secret: string, id: string, nowMs: number, body: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(secret, id, timestamp, body),
  };
}
