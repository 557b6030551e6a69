// How recorded answers are kept in dovecot.json: small values inline, big ones as a digest of
// their canonical JSON (strings latin1, so bytes are exact).
import { createHash } from 'node:crypto';
import type { Value } from './imap-value.ts';

export const MAX_INLINE = 3000;

export function digestOf(value: Value): string {
  const json = JSON.stringify(value);
  return `sha256:${createHash('sha256').update(json, 'latin1').digest('hex')}:${json.length}`;
}
