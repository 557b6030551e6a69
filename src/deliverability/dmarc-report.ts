// DMARC aggregate reports (RFC 7489 §7.2 and Appendix C): the XML a receiver sends to a domain's
// `rua` address, as a plain, gzip or zip attachment. Pure functions of the bytes: nothing here
// touches the store, so every hostile input is tried in a unit test.
//
// Implementation notes (invariants a newcomer must not break):
// - Outside input, read with fixed bounds: at most MAX_COMPRESSED bytes of attachment, at most
//   MAX_XML bytes after decompression (zlib's maxOutputLength stops a gzip or zip bomb before it is
//   inflated), at most MAX_RECORDS records and MAX_DEPTH nesting levels.
// - Our own small XML reader, not a general one: a DOCTYPE is refused outright, so there is no
//   entity expansion (billion laughs) and no external entity (XXE); only the five predefined
//   entities and numeric character references are decoded.
// - A document that is XML but not a DMARC aggregate report (no <feedback>, no report_metadata,
//   no policy_published/domain) is a DmarcReportError naming what is missing; every kept string is
//   cleaned of control characters and bounded, because it goes to text columns and the API.
import { gunzipSync, inflateRawSync } from 'node:zlib';

export const MAX_COMPRESSED = 10 * 1024 * 1024;
export const MAX_XML = 20 * 1024 * 1024;
const MAX_RECORDS = 10_000;
const MAX_DEPTH = 16;

export class DmarcReportError extends Error {}

export interface DmarcRecord {
  source_ip: string;
  count: number;
  disposition: string;
  dkim: string;
  spf: string;
  header_from: string;
}

export interface DmarcReport {
  orgName: string;
  email: string | null;
  reportId: string;
  beginAt: number;
  endAt: number;
  policy: { domain: string; adkim: string | null; aspf: string | null; p: string; sp: string | null; pct: number | null };
  records: DmarcRecord[];
}

interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

const clean = (s: string, max = 255) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, max);

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    }
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e as 'lt']!;
  });
}

/** A small non-validating XML reader: elements and text; attributes are ignored (DMARC uses none). */
export function parseXml(xml: string): XmlNode {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) throw new DmarcReportError('DMARC report refused: the XML has a DOCTYPE or entity declarations, which a DMARC report never needs');
  const root: XmlNode = { name: '#document', children: [], text: '' };
  const stack: XmlNode[] = [root];
  const tag = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  let elements = 0;
  const text = (s: string) => {
    if (stack.length > 1) stack[stack.length - 1].text += decodeEntities(s);
    else if (s.trim()) throw new DmarcReportError('DMARC report refused: text outside the root element');
  };
  while ((m = tag.exec(xml))) {
    const between = xml.slice(last, m.index);
    if (between.includes('<')) throw new DmarcReportError(`DMARC report refused: malformed XML near offset ${last + between.indexOf('<')}`);
    text(between);
    last = tag.lastIndex;
    if (m[1] !== undefined) {
      if (stack.length > 1) stack[stack.length - 1].text += m[1];
      continue;
    }
    if (!m[3]) continue; // comment or processing instruction
    const [, , close, name, , selfClose] = m;
    if (close) {
      const top = stack.pop();
      if (!top || top.name !== name.replace(/^.*:/, '') || stack.length === 0) throw new DmarcReportError(`DMARC report refused: malformed XML, </${clean(name, 40)}> does not close the open element`);
      continue;
    }
    if (++elements > MAX_RECORDS * 20) throw new DmarcReportError('DMARC report refused: too many XML elements');
    const node: XmlNode = { name: name.replace(/^.*:/, ''), children: [], text: '' };
    if (stack.length === 1 && root.children.length) throw new DmarcReportError('DMARC report refused: more than one root element');
    stack[stack.length - 1].children.push(node);
    if (!selfClose) {
      stack.push(node);
      if (stack.length > MAX_DEPTH) throw new DmarcReportError('DMARC report refused: XML nested too deeply');
    }
  }
  const rest = xml.slice(last);
  if (rest.includes('<')) throw new DmarcReportError('DMARC report refused: malformed XML at the end');
  text(rest);
  if (stack.length !== 1) throw new DmarcReportError(`DMARC report refused: malformed XML, <${clean(stack[stack.length - 1].name, 40)}> is never closed`);
  if (!root.children.length) throw new DmarcReportError('DMARC report refused: no XML element');
    return root.children[0];
}

const child = (n: XmlNode | undefined, name: string) => n?.children.find((c) => c.name === name);
const children = (n: XmlNode | undefined, name: string) => n?.children.filter((c) => c.name === name) ?? [];
const textOf = (n: XmlNode | undefined, name: string, max = 255) => {
  const c = child(n, name);
  return c ? clean(c.text, max) : null;
};

function need<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined || v === '') throw new DmarcReportError(`DMARC report refused: not an aggregate report (RFC 7489 Appendix C), ${what} is missing`);
  return v;
}

function epoch(s: string | null, what: string): number {
  const n = Number(need(s, what));
  if (!Number.isInteger(n) || n < 0 || n > 32503680000) throw new DmarcReportError(`DMARC report refused: ${what} is not a time in seconds since 1970`);
  return n * 1000;
}

/** The report in an XML document. */
export function reportFromXml(xml: string): DmarcReport {
  const root = parseXml(xml);
  if (root.name !== 'feedback') throw new DmarcReportError(`DMARC report refused: not an aggregate report (RFC 7489 Appendix C), the root element is <${clean(root.name, 40)}>, not <feedback>`);
  const meta = need(child(root, 'report_metadata'), 'report_metadata');
  const range = need(child(meta, 'date_range'), 'report_metadata/date_range');
  const pol = need(child(root, 'policy_published'), 'policy_published');
  const domain = need(textOf(pol, 'domain'), 'policy_published/domain').toLowerCase();
  const records = children(root, 'record');
  if (records.length > MAX_RECORDS) throw new DmarcReportError(`DMARC report refused: more than ${MAX_RECORDS} records`);
  const pct = textOf(pol, 'pct');
  return {
    orgName: need(textOf(meta, 'org_name'), 'report_metadata/org_name'),
    email: textOf(meta, 'email'),
    reportId: need(textOf(meta, 'report_id'), 'report_metadata/report_id'),
    beginAt: epoch(textOf(range, 'begin'), 'date_range/begin'),
    endAt: epoch(textOf(range, 'end'), 'date_range/end'),
    policy: { domain, adkim: textOf(pol, 'adkim', 10), aspf: textOf(pol, 'aspf', 10), p: textOf(pol, 'p', 20) ?? 'none', sp: textOf(pol, 'sp', 20), pct: pct !== null && /^\d{1,3}$/.test(pct) ? Number(pct) : null },
    records: records.map((r) => {
      const row = need(child(r, 'row'), 'record/row');
      const evaluated = child(row, 'policy_evaluated');
      const count = Number(need(textOf(row, 'count'), 'record/row/count'));
      if (!Number.isSafeInteger(count) || count < 0) throw new DmarcReportError('DMARC report refused: record/row/count is not a count');
      return {
        source_ip: need(textOf(row, 'source_ip', 45), 'record/row/source_ip'),
        count,
        disposition: textOf(evaluated, 'disposition', 20) ?? 'none',
        dkim: textOf(evaluated, 'dkim', 20) ?? 'none',
        spf: textOf(evaluated, 'spf', 20) ?? 'none',
        header_from: (textOf(child(r, 'identifiers'), 'header_from') ?? domain).toLowerCase(),
      };
    }),
  };
}

function tooBig(): never {
  throw new DmarcReportError(`DMARC report refused: it is larger than ${MAX_XML / 1024 / 1024} MB once decompressed`);
}

function gunzip(data: Buffer): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: MAX_XML });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test((err as Error).message)) tooBig();
    throw new DmarcReportError(`DMARC report refused: the gzip data is damaged (${(err as Error).message})`);
  }
}

/** The first .xml entry of a zip (APPNOTE.TXT: end of central directory, central directory, local header). */
function unzipFirstXml(zip: Buffer): Buffer {
  const bad = (why: string): never => {
    throw new DmarcReportError(`DMARC report refused: the zip file is damaged (${why})`);
  };
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad('no end of central directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < Math.min(entries, 100); n++) {
    if (p + 46 > zip.length || zip.readUInt32LE(p) !== 0x02014b50) bad('bad central directory entry');
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (!/\.xml$/i.test(name)) continue;
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== 0x04034b50) bad('bad local header');
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    if (start + compressed > zip.length) bad('entry runs past the end');
    const data = zip.subarray(start, start + compressed);
    if (method === 0) return data.length > MAX_XML ? tooBig() : data;
    if (method !== 8) bad(`compression method ${method}`);
    try {
      return inflateRawSync(data, { maxOutputLength: MAX_XML });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test((err as Error).message)) tooBig();
      bad((err as Error).message);
    }
  }
  throw new DmarcReportError('DMARC report refused: the zip file has no .xml entry');
}

/** A report from an attachment's bytes, recognised by its first bytes (gzip, zip) or as XML. */
export function reportFromAttachment(data: Buffer): DmarcReport {
  if (data.length > MAX_COMPRESSED) throw new DmarcReportError(`DMARC report refused: the attachment is larger than ${MAX_COMPRESSED / 1024 / 1024} MB`);
  let xml: Buffer;
  if (data[0] === 0x1f && data[1] === 0x8b) xml = gunzip(data);
  else if (data.length >= 4 && data.readUInt32LE(0) === 0x04034b50) xml = unzipFirstXml(data);
  else xml = data;
  if (xml.length > MAX_XML) tooBig();
  const s = xml.toString('utf8');
  if (!/^\s*(<\?xml|<!--|<)/.test(s.replace(/^\ufeff/, ''))) throw new DmarcReportError('DMARC report refused: the attachment is not XML, gzip or zip');
  return reportFromXml(s.replace(/^\ufeff/, ''));
}
