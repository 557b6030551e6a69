// The MTA-STS policy (RFC 8461) this node publishes for its hosted receiving domains: senders that
// support it fetch https://mta-sts.<domain>/.well-known/mta-sts.txt (served by the HTTP door,
// src/http/routes/mta-sts.ts) after finding `_mta-sts.<domain>` TXT `v=STSv1; id=…`.
//
// Implementation notes:
// - One policy for every hosted domain: `mx:` is MAILSTACK_HOSTNAME (the MX every receiving domain
//   publishes), `mode:` is MAILSTACK_MTA_STS_MODE. The default is `testing` (§5: senders report but
//   still deliver): `enforce` is for an operator whose MX certificate is valid for
//   MAILSTACK_HOSTNAME, or senders will refuse to deliver (§4.2).
// - The TXT `id` (§3.1, 1–32 letters and digits) is derived from the policy text, so it changes
//   exactly when the policy does and senders then fetch the new one (§3.3).
// - The policy must be served over HTTPS with a certificate valid for mta-sts.<domain> (§3.3): this
//   node answers by Host header; TLS in front of it is the operator's (the note says so).
import { createHash } from 'node:crypto';
import type { Settings } from '../config/settings.ts';

/** §3.2: max_age in seconds (one week; the RFC suggests weeks). */
export const MTA_STS_MAX_AGE = 604_800;

/** The policy text (§3.2), CRLF line ends. Null when MAILSTACK_MTA_STS_MODE is none. */
export function mtaStsPolicy(settings: Pick<Settings, 'hostname' | 'mtaStsMode'>): string | null {
  if (settings.mtaStsMode === 'none') return null;
  return `version: STSv1\r\nmode: ${settings.mtaStsMode}\r\nmx: ${settings.hostname}\r\nmax_age: ${MTA_STS_MAX_AGE}\r\n`;
}

/** The `id` of the TXT record: 20 hex digits of the policy's SHA-256. */
export function mtaStsId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}
