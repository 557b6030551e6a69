// Which messages and FETCH items are recorded from Dovecot (record-dovecot.ts) and compared in the
// tests (dovecot.test.ts): the corpus here plus the shared hostile corpus.
import { HOSTILE_CORPUS } from '../hostile-mail.ts';
import { indexMime, type MimeNode } from '../../imap/mime/index.ts';
import { CORPUS } from './corpus.ts';

export interface RecordedItem {
  name: string;
  raw: Buffer;
  /** FETCH items, e.g. `BODY.PEEK[1.MIME]`. */
  items: string[];
}

const MAX_PATHS = 40;

/** Every part path of a message (RFC 9051 §6.4.5 numbering), depth-first, at most MAX_PATHS. */
export function partPaths(root: MimeNode): { path: number[]; node: MimeNode }[] {
  const out: { path: number[]; node: MimeNode }[] = [];
  const visitMessage = (msg: MimeNode, prefix: number[]) => {
    if (msg.type === 'multipart' && !msg.opaque) msg.children.forEach((c, i) => visitPart(c, [...prefix, i + 1]));
    else visitPart(msg, [...prefix, 1]);
  };
  const visitPart = (node: MimeNode, path: number[]) => {
    if (out.length >= MAX_PATHS) return;
    out.push({ path, node });
    if (node.message) visitMessage(node.message, path);
    else if (node.type === 'multipart' && !node.opaque) node.children.forEach((c, i) => visitPart(c, [...path, i + 1]));
  };
  visitMessage(root, []);
  return out;
}

export function fetchItems(raw: Buffer): string[] {
  const root = indexMime(raw);
  const items = [
    'ENVELOPE',
    'BODY',
    'BODYSTRUCTURE',
    'BODY.PEEK[]',
    'BODY.PEEK[HEADER]',
    'BODY.PEEK[TEXT]',
    'BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)]',
    'BODY.PEEK[HEADER.FIELDS.NOT (FROM TO SUBJECT)]',
    'BODY.PEEK[99]',
    'BODY.PEEK[1.99]',
    'BINARY.PEEK[]',
  ];
  for (const { path, node } of partPaths(root)) {
    const p = path.join('.');
    items.push(`BODY.PEEK[${p}]`, `BODY.PEEK[${p}.MIME]`, `BINARY.PEEK[${p}]`, `BINARY.SIZE[${p}]`);
    if (node.message) items.push(`BODY.PEEK[${p}.HEADER]`, `BODY.PEEK[${p}.TEXT]`, `BODY.PEEK[${p}.HEADER.FIELDS (FROM SUBJECT)]`);
  }
  return items;
}

/**
 * Left out: binary-garbage has no blank line, so all 64 KB are "header", which Dovecot rewrites on
 * APPEND (its answers are about other bytes). The fuzz test covers such input instead.
 */
const NOT_COMPARABLE = new Set(['binary-garbage']);

export function recordedItems(): RecordedItem[] {
  const hostile = HOSTILE_CORPUS.filter((h) => !NOT_COMPARABLE.has(h.name));
  const all = [...CORPUS, ...hostile.map((h) => ({ name: 'hostile/' + h.name, raw: h.raw }))];
  return all.filter((x) => x.raw.length > 0).map((x) => ({ name: x.name, raw: x.raw, items: fetchItems(x.raw) }));
}
