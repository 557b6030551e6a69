// Compares our answers with the recorded Dovecot answers (dovecot.json) for one message.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as M from '../../imap/mime/index.ts';
import { parseValue, type Value } from './imap-value.ts';
import { digestOf, MAX_INLINE } from './fixture.ts';

type Answer = { value: Value } | { digest: string } | { no: string };
export type Recorded = { append?: string } & Record<string, Answer>;

export function loadRecorded(): { dovecot: string; messages: Record<string, Recorded> } {
  const here = dirname(fileURLToPath(import.meta.url));
  return JSON.parse(readFileSync(join(here, 'dovecot.json'), 'utf8'));
}

/** Our answer to one FETCH item, in the same shape as the recorded one. */
export function ours(raw: Buffer, root: M.MimeNode, item: string): Answer {
  let value: Value;
  if (item === 'ENVELOPE') value = parseValue(M.serialize(M.envelope(root, raw)));
  else if (item === 'BODY' || item === 'BODYSTRUCTURE') value = parseValue(M.serialize(M.bodyStructure(root, raw, item === 'BODYSTRUCTURE')));
  else if (item.startsWith('BODY.PEEK[')) {
    const spec = M.parseSection(item.slice('BODY.PEEK['.length, -1));
    if (!spec) throw new Error(`bad section ${item}`);
    // through the serialiser, as the server sends it (NUL goes out as 0x80 in a literal)
    value = parseValue(M.serialize(M.literal(M.section(raw, root, spec))));
  } else if (item.startsWith('BINARY.PEEK[') || item.startsWith('BINARY.SIZE[')) {
    const inner = item.slice(12, -1);
    const part = inner ? inner.split('.').map(Number) : [];
    if (item.startsWith('BINARY.SIZE[')) {
      const r = M.binarySize(raw, root, part);
      if (!r.ok) return { no: `[${r.code}]` };
      value = r.size;
    } else {
      const r = M.binarySection(raw, root, part);
      if (!r.ok) return { no: `[${r.code}]` };
      value = parseValue(M.serialize(r.data.includes(0) ? M.literal8(r.data) : M.literal(r.data)));
    }
  } else throw new Error(`unknown item ${item}`);
  return JSON.stringify(value).length > MAX_INLINE ? { digest: digestOf(value) } : { value };
}

export function same(a: Answer, b: Answer): boolean {
  if ('no' in a || 'no' in b) return 'no' in a && 'no' in b && b.no.startsWith(a.no);
  return JSON.stringify(a) === JSON.stringify(b);
}
