// BINARY[part] and BINARY.SIZE[part] (RFC 3516, RFC 9051 §6.4.5): a part's content with its
// Content-Transfer-Encoding undone.
//
// Implementation notes:
// - 7bit, 8bit, binary (or no header) are returned as stored; base64 and quoted-printable are
//   decoded tolerantly (RFC 2045 §6.7-6.8: junk characters skipped, a bad "=" escape kept as is);
//   any other encoding is `UNKNOWN-CTE` (the server answers NO [UNKNOWN-CTE]).
// - Multipart and message/rfc822 bodies are returned as stored (they may not be encoded).
// - Part [] is the whole message as stored. A missing part is `NONEXISTENT`.
import { findPart, type MimeNode } from './index-mime.ts';

export type BinaryResult = { ok: true; data: Buffer } | { ok: false; code: 'UNKNOWN-CTE' | 'NONEXISTENT' };

function cteOf(raw: Buffer, node: MimeNode): string {
  const f = node.fields['content-transfer-encoding'];
  if (!f) return '';
  return raw
    .toString('latin1', f[0], f[1])
    .replace(/\([^)]*\)/g, '')
    .trim()
    .toLowerCase();
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Quoted-printable (RFC 2045 §6.7), line endings kept as they are. */
export function decodeQuotedPrintable(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === 61 /* = */) {
      const h1 = i + 1 < src.length ? hex(src[i + 1]) : -1;
      const h2 = i + 2 < src.length ? hex(src[i + 2]) : -1;
      if (h1 >= 0 && h2 >= 0) {
        out[n++] = (h1 << 4) | h2;
        i += 3;
        continue;
      }
      // soft line break: "=" then optional transport padding, then (CR)LF or the end
      let j = i + 1;
      while (j < src.length && (src[j] === 32 || src[j] === 9)) j++;
      if (j >= src.length) {
        i = j;
        continue;
      }
      if (src[j] === 10) {
        i = j + 1;
        continue;
      }
      if (src[j] === 13 && src[j + 1] === 10) {
        i = j + 2;
        continue;
      }
      out[n++] = c; // a bad escape stays as it is
      i++;
      continue;
    }
    if (c === 32 || c === 9) {
      // trailing white space before a line ending is padding, to be removed (§6.7 rule 3)
      let j = i;
      while (j < src.length && (src[j] === 32 || src[j] === 9)) j++;
      if (j >= src.length || src[j] === 10 || (src[j] === 13 && src[j + 1] === 10)) {
        i = j;
        continue;
      }
      while (i < j) out[n++] = src[i++];
      continue;
    }
    out[n++] = c;
    i++;
  }
  return out.subarray(0, n);
}

function decode(raw: Buffer, node: MimeNode): BinaryResult {
  const body = raw.subarray(node.bodyStart, node.bodyEnd);
  if (node.type === 'multipart' || node.message) return { ok: true, data: body };
  const cte = cteOf(raw, node);
  switch (cte) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return { ok: true, data: body };
    case 'base64':
      return { ok: true, data: Buffer.from(body.toString('latin1'), 'base64') };
    case 'quoted-printable':
      return { ok: true, data: decodeQuotedPrintable(body) };
    default:
      return { ok: false, code: 'UNKNOWN-CTE' };
  }
}

/** The decoded content of BINARY[part]. */
export function binarySection(raw: Buffer, root: MimeNode, part: readonly number[]): BinaryResult {
  if (!part.length) return { ok: true, data: raw };
  const node = findPart(root, part);
  if (!node) return { ok: false, code: 'NONEXISTENT' };
  return decode(raw, node);
}

/** BINARY.SIZE[part]: the decoded size, or the failure binarySection would give. */
export function binarySize(raw: Buffer, root: MimeNode, part: readonly number[]): { ok: true; size: number } | { ok: false; code: 'UNKNOWN-CTE' | 'NONEXISTENT' } {
  const r = binarySection(raw, root, part);
  return r.ok ? { ok: true, size: r.data.length } : r;
}
