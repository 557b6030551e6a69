// BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, formal syntax §9 `body`).
//
// Implementation notes:
// - Built from indexMime's tree only; field values are the header bytes unfolded (latin1
//   Buffers), parameter values unquoted (RFC 2231 joined, see params.ts).
// - Sizes are body octets as stored (bodyEnd - bodyStart) so they equal the length of BODY[part];
//   lines are counted for text/* and message/rfc822 (body-fld-lines).
// - The grammar needs at least one part in a multipart: a multipart whose boundary never appears
//   is given one empty text/plain part. An entity not descended into (`opaque`: too deep, too many
//   parts, message/rfc822 with a base64 encoding) is described as application/octet-stream, since
//   "multipart" or "message/rfc822" there would promise a structure we do not have.
import type { MimeNode } from './index-mime.ts';
import { parseDisposition } from './params.ts';
import { envelope } from './envelope.ts';
import { type ImapValue, concat } from './serialize.ts';

function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

function fieldText(raw: Buffer, node: MimeNode, name: keyof MimeNode['fields']): string | null {
  const f = node.fields[name];
  if (!f) return null;
  let v = raw.toString('latin1', f[0], f[1]);
  if (v.includes('\n')) v = v.replace(/\r?\n/g, '');
  return v.trim();
}

function paramList(params: [string, string][]): ImapValue {
  if (!params.length) return null;
  const out: ImapValue[] = [];
  for (const [k, v] of params) out.push(latin1(k), latin1(v));
  return out;
}

function encoding(raw: Buffer, node: MimeNode): Buffer {
  const v = fieldText(raw, node, 'content-transfer-encoding');
  if (!v) return latin1('7bit');
  return latin1(v.replace(/\([^)]*\)/g, '').trim() || '7bit');
}

function bodyFields(raw: Buffer, node: MimeNode, params: [string, string][]): ImapValue[] {
  const id = fieldText(raw, node, 'content-id');
  const desc = fieldText(raw, node, 'content-description');
  return [paramList(params), id === null ? null : latin1(id), desc === null ? null : latin1(desc), encoding(raw, node), node.bodyEnd - node.bodyStart];
}

function disposition(raw: Buffer, node: MimeNode): ImapValue {
  const v = fieldText(raw, node, 'content-disposition');
  if (v === null) return null;
  const d = parseDisposition(v);
  if (!d) return null;
  return [latin1(d.type), paramList(d.params)];
}

function language(raw: Buffer, node: MimeNode): ImapValue {
  const v = fieldText(raw, node, 'content-language');
  if (v === null) return null;
  const tags = v
    .replace(/\([^)]*\)/g, ' ')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (!tags.length) return null;
  return tags.map(latin1);
}

function location(raw: Buffer, node: MimeNode): ImapValue {
  const v = fieldText(raw, node, 'content-location');
  return v === null ? null : latin1(v.replace(/\s+/g, ''));
}

function describe(raw: Buffer, node: MimeNode, extended: boolean): ImapValue {
  if (node.type === 'multipart' && !node.opaque) {
    const parts: ImapValue[] = node.children.length
      ? node.children.map((c) => describe(raw, c, extended))
      : [emptyTextPart(extended)];
    // RFC 9051 §9: body-type-mpart = 1*body SP media-subtype: the parts follow each other without a space.
    const out: ImapValue[] = [concat(parts), latin1(node.subtype)];
    if (extended) out.push(paramList(node.params), disposition(raw, node), language(raw, node), location(raw, node));
    return out;
  }
  let type = node.type;
  let subtype = node.subtype;
  if (node.opaque) {
    type = 'application';
    subtype = 'octet-stream';
  }
  let params = node.params;
  // RFC 2046 §4.1.2: text defaults to charset us-ascii; say so, as Dovecot does.
  if (type === 'text' && !params.some(([k]) => k === 'charset')) params = [...params, ['charset', 'us-ascii']];
  const out: ImapValue[] = [latin1(type), latin1(subtype), ...bodyFields(raw, node, params)];
  if (node.message && !node.opaque) {
    out.push(envelope(node.message, raw), describe(raw, node.message, extended), node.bodyLines);
  } else if (type === 'text') {
    out.push(node.bodyLines);
  }
  if (extended) {
    const md5 = fieldText(raw, node, 'content-md5');
    out.push(md5 === null ? null : latin1(md5), disposition(raw, node), language(raw, node), location(raw, node));
  }
  return out;
}

function emptyTextPart(extended: boolean): ImapValue {
  const out: ImapValue[] = [latin1('text'), latin1('plain'), [latin1('charset'), latin1('us-ascii')], null, null, latin1('7bit'), 0, 0];
  if (extended) out.push(null, null, null, null);
  return out;
}

/** BODYSTRUCTURE (extended = true) or BODY (extended = false) of a message entity. */
export function bodyStructure(node: MimeNode, raw: Buffer, extended: boolean): ImapValue {
  return describe(raw, node, extended);
}
