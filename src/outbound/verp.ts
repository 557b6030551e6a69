// VERP return paths: each recipient's mail leaves with its own envelope sender,
// `bounce+<token>@<return-path host>`, so an asynchronous bounce (RFC 3464 DSN) or an ARF report
// sent back to it names exactly one recipient of one message.
import { randomBytes } from 'node:crypto';

// Tokens are lower-case hex: some MTAs change the case of local parts, so matching ignores case.
const LOCAL = /^bounce\+([a-f0-9]{16,64})$/i;

export function newVerpToken(): string {
  return randomBytes(12).toString('hex');
}

export function verpAddress(token: string, returnPathHost: string): string {
  return `bounce+${token}@${returnPathHost}`;
}

/** The recipient token of a VERP address, or null when the address is not one of ours. */
export function verpToken(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at < 0) return null;
  return LOCAL.exec(address.slice(0, at))?.[1].toLowerCase() ?? null;
}
