// BODY[section] contents (RFC 9051 §6.4.5) as byte ranges of the stored message.
//
// Implementation notes:
// - Every result is a subarray of raw (zero copy) or, for HEADER.FIELDS, built from subarrays of
//   raw; offsets come from indexMime and always lie inside raw.
// - A part that does not exist yields an empty buffer (the server answers with "" rather than an
//   error, as Dovecot does). HEADER/TEXT/HEADER.FIELDS after a part number apply only to a
//   message/rfc822 part (its encapsulated message); on other parts they are empty.
// - `partial` implements <origin.count>: an origin past the end gives an empty string.
import { findPart, type MimeNode } from './index-mime.ts';
import { headerFieldsRaw } from './headers.ts';

export type SectionText = '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';

export interface SectionSpec {
  /** Part number path, [] for the whole message. */
  part: number[];
  text: SectionText;
  /** Field names for HEADER.FIELDS(.NOT), as the client wrote them. */
  fields: string[];
}

const EMPTY = Buffer.alloc(0);

/**
 * Parses the text between the brackets of BODY[…] / BINARY[…] (RFC 9051 §9 `section-spec`),
 * e.g. `1.2.HEADER.FIELDS (From "To")`. Returns null when it is not valid (the server answers BAD).
 */
export function parseSection(spec: string): SectionSpec | null {
  let rest = spec;
  let part: number[] = [];
  const pm = /^[1-9]\d{0,8}(?:\.[1-9]\d{0,8})*/.exec(rest);
  if (pm) {
    part = pm[0].split('.').map(Number);
    rest = rest.slice(pm[0].length);
    if (rest) {
      if (rest[0] !== '.') return null;
      rest = rest.slice(1);
      if (!rest) return null;
    }
  }
  if (!rest) return { part, text: '', fields: [] };
  const km = /^(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)/i.exec(rest);
  if (!km) return null;
  const text = km[1].toUpperCase() as SectionText;
  rest = rest.slice(km[1].length);
  if (text === 'MIME' && !part.length) return null;
  if (text !== 'HEADER.FIELDS' && text !== 'HEADER.FIELDS.NOT') return rest ? null : { part, text, fields: [] };
  const lm = /^ \((.*)\)$/s.exec(rest);
  if (!lm) return null;
  const fields = parseFieldList(lm[1]);
  if (!fields || !fields.length) return null;
  return { part, text, fields };
}

/** `astring` list inside HEADER.FIELDS ( … ): atoms or quoted strings, separated by spaces. */
function parseFieldList(text: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    if (text[i] === '"') {
      let v = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        v += text[i++] ?? '';
      }
      if (text[i] !== '"') return null;
      i++;
      out.push(v);
    } else {
      const start = i;
      while (i < text.length && text[i] !== ' ') {
        const c = text.charCodeAt(i);
        if (c <= 32 || c >= 127 || '(){%*"\\]'.includes(text[i])) return null;
        i++;
      }
      out.push(text.slice(start, i));
    }
  }
  return out;
}

/** The section spec as echoed in a FETCH response item name, e.g. `1.HEADER.FIELDS (FROM TO)`. */
export function sectionName(spec: SectionSpec): string {
  let s = spec.part.join('.');
  if (spec.text) s += (s ? '.' : '') + spec.text;
  if (spec.fields.length) {
    const names = spec.fields.map((f) => (/^[!#$&'+\-.0-9^_`|~A-Za-z]+$/.test(f) ? f.toUpperCase() : '"' + f.replace(/[\\"]/g, '\\$&') + '"'));
    s += ' (' + names.join(' ') + ')';
  }
  return s;
}

/** The bytes of BODY[spec]. */
export function section(raw: Buffer, root: MimeNode, spec: SectionSpec): Buffer {
  if (!spec.part.length) {
    switch (spec.text) {
      case '':
        return raw;
      case 'HEADER':
        return raw.subarray(root.headerStart, root.headerEnd);
      case 'TEXT':
        return raw.subarray(root.bodyStart, root.bodyEnd);
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return headerFieldsRaw(raw, root, spec.fields, spec.text === 'HEADER.FIELDS.NOT');
      default:
        return EMPTY;
    }
  }
  const node = findPart(root, spec.part);
  if (!node) return EMPTY;
  switch (spec.text) {
    case '':
      return raw.subarray(node.bodyStart, node.bodyEnd);
    case 'MIME':
      return raw.subarray(node.headerStart, node.headerEnd);
  }
  const msg = node.message;
  if (!msg) return EMPTY;
  switch (spec.text) {
    case 'HEADER':
      return raw.subarray(msg.headerStart, msg.headerEnd);
    case 'TEXT':
      return raw.subarray(msg.bodyStart, msg.bodyEnd);
    default:
      return headerFieldsRaw(raw, msg, spec.fields, spec.text === 'HEADER.FIELDS.NOT');
  }
}

/** <origin.count> of a section (RFC 9051 §6.4.5); count omitted means to the end. */
export function partial(buf: Buffer, origin: number, count?: number): Buffer {
  if (!(origin >= 0) || origin >= buf.length) return EMPTY;
  const end = count === undefined ? buf.length : Math.min(buf.length, origin + Math.max(0, count));
  return buf.subarray(origin, end);
}
