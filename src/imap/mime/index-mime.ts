// Indexing a message's MIME structure as byte offsets into its raw bytes (RFC 5322, RFC 2045/2046),
// so FETCH can answer BODYSTRUCTURE and BODY[section]<partial> without copying or re-parsing.
//
// Implementation notes (invariants a newcomer must not break):
// - One forward pass over the lines, O(size): each line is read once; a line that starts with "--"
//   is looked up in a map of the active boundaries (innermost wins), so nesting does not multiply
//   the work. Lines end at LF; a CR right before the LF is part of the line ending (LF-only mail
//   works the same); a lone CR is content.
// - A boundary line is "--" boundary, optional "--" (close), optional spaces/tabs (RFC 2046 §5.1.1).
//   It may also end any enclosing multipart whose close delimiter is missing; a missing close at
//   the end of the message ends every open multipart there. The line ending just before a boundary
//   line belongs to the boundary, not to the part (RFC 2046 §5.1.1).
// - Every offset satisfies 0 <= headerStart <= headerEnd <= bodyStart <= bodyEnd <= raw.length,
//   and a child's range lies inside its parent's body. Section code relies on this.
// - Depth beyond MAX_DEPTH (multipart or message/rfc822 nesting) and parts beyond MAX_PARTS are not
//   descended into: such an entity is an opaque leaf (`opaque: true`). Hostile input never throws.
// - Only the MIME header fields BODYSTRUCTURE needs are located here (first occurrence, as value
//   offsets); other header fields are read on demand by headers.ts, so memory is O(parts).
import { parseContentType, type ContentType } from './params.ts';

export const MAX_DEPTH = 100;
export const MAX_PARTS = 10_000;
/** Longer boundary parameters are not honoured (RFC 2046 allows 70; real mail stays well under). */
const MAX_BOUNDARY = 512;

export type MimeFieldName =
  | 'content-type'
  | 'content-transfer-encoding'
  | 'content-id'
  | 'content-description'
  | 'content-disposition'
  | 'content-language'
  | 'content-location'
  | 'content-md5';

const MIME_FIELDS = new Set<string>([
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'content-disposition',
  'content-language',
  'content-location',
  'content-md5',
]);

export interface MimeNode {
  /** Part number path (RFC 9051 §6.4.5): [] for the top-level message, [1, 2] for part 1.2. An
   * encapsulated message carries the path of its message/rfc822 part. */
  path: number[];
  /** Nesting depth: 0 for the top-level message. */
  depth: number;
  /** First byte of this entity's header. */
  headerStart: number;
  /** End of the header fields: the start of the blank line (or of the body when there is none). */
  fieldsEnd: number;
  /** End of the header including its blank line; equals bodyStart. */
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  /** Line feeds in the body: body-fld-lines (a last line without line ending does not count). */
  bodyLines: number;
  /** Lower-cased media type and subtype, after defaults (RFC 2045 §5.2, RFC 2046 §5.1.5). */
  type: string;
  subtype: string;
  /** Content-Type parameters (names lower-cased, RFC 2231 continuations joined). */
  params: [string, string][];
  /** Value offsets [start, end) in raw of the first occurrence of each MIME header field. */
  fields: Partial<Record<MimeFieldName, [number, number]>>;
  /** Parts of a multipart entity (empty otherwise). */
  children: MimeNode[];
  /** The encapsulated message of a message/rfc822 (or message/global) entity. */
  message: MimeNode | null;
  /** A multipart or message entity that was not descended into (limits, bad boundary, encoding). */
  opaque: boolean;
}

interface Stop {
  /** Start of the stopping line (a boundary line), or raw.length at the end. */
  lineStart: number;
  /** Index of that line. */
  lineNo: number;
  /** Index in the boundary stack, or -1 at the end of the message. */
  level: number;
  close: boolean;
}

class Scanner {
  pos = 0;
  lineNo = 0;
  // the current line, valid after next() returned true
  ls = 0;
  le = 0;
  nx = 0;
  readonly stack: string[] = [];
  private readonly levels = new Map<string, number[]>();
  parts = 0;

  constructor(readonly raw: Buffer) {}

  /** Reads the line at pos without consuming it; false at the end. */
  peek(): boolean {
    const raw = this.raw;
    if (this.pos >= raw.length) return false;
    this.ls = this.pos;
    const nl = raw.indexOf(10, this.pos);
    if (nl < 0) {
      this.le = raw.length;
      this.nx = raw.length;
    } else {
      this.le = nl > this.pos && raw[nl - 1] === 13 ? nl - 1 : nl;
      this.nx = nl + 1;
    }
    return true;
  }

  consume(): void {
    this.pos = this.nx;
    this.lineNo++;
  }

  push(boundary: string): void {
    const level = this.stack.length;
    this.stack.push(boundary);
    const list = this.levels.get(boundary);
    if (list) list.push(level);
    else this.levels.set(boundary, [level]);
  }

  pop(): void {
    const b = this.stack.pop();
    if (b === undefined) return;
    const list = this.levels.get(b)!;
    list.pop();
    if (!list.length) this.levels.delete(b);
  }

  /** The boundary level the current line matches, or null. */
  boundary(): { level: number; close: boolean } | null {
    if (!this.stack.length) return null;
    const raw = this.raw;
    const ls = this.ls;
    let e = this.le;
    if (e - ls < 3 || raw[ls] !== 45 || raw[ls + 1] !== 45) return null;
    while (e > ls + 2 && (raw[e - 1] === 32 || raw[e - 1] === 9)) e--;
    if (e - ls - 2 > MAX_BOUNDARY + 2) return null;
    const text = raw.toString('latin1', ls + 2, e);
    const open = this.levels.get(text);
    let level = open ? open[open.length - 1] : -1;
    let close = false;
    if (text.length > 2 && text.endsWith('--')) {
      const closing = this.levels.get(text.slice(0, -2));
      const cl = closing ? closing[closing.length - 1] : -1;
      if (cl > level) {
        level = cl;
        close = true;
      }
    }
    if (level < 0) return null;
    // Past the parts budget, only close delimiters still count (the rest is content).
    if (!close && this.parts >= MAX_PARTS) return null;
    return { level, close };
  }

  /** Consumes content lines until a boundary line (left unconsumed) or the end. */
  scan(): Stop {
    const raw = this.raw;
    const hasBoundaries = this.stack.length > 0;
    if (!hasBoundaries) {
      // Fast path: nothing can stop us but the end; still count lines.
      let n = 0;
      let p = this.pos;
      while (p < raw.length) {
        const nl = raw.indexOf(10, p);
        n++;
        if (nl < 0) break;
        p = nl + 1;
      }
      this.pos = raw.length;
      this.lineNo += n;
      return { lineStart: raw.length, lineNo: this.lineNo, level: -1, close: false };
    }
    while (this.peek()) {
      const b = this.boundary();
      if (b) return { lineStart: this.ls, lineNo: this.lineNo, level: b.level, close: b.close };
      this.consume();
    }
    return { lineStart: raw.length, lineNo: this.lineNo, level: -1, close: false };
  }
}

/** Where content ends before a boundary line: the line ending before it belongs to the boundary. */
function contentEnd(raw: Buffer, from: number, stop: Stop): number {
  const at = stop.lineStart;
  if (stop.level < 0) return at;
  let end = at;
  if (end > from && raw[end - 1] === 10) {
    end--;
    if (end > from && raw[end - 1] === 13) end--;
  }
  return end;
}

/**
 * Line feeds in a body that spans `lines` scanned lines: before a boundary the last line's ending
 * belongs to the boundary; at the end the last line may have none. (Dovecot counts the same way.)
 */
function lfCount(raw: Buffer, stop: Stop, lines: number): number {
  if (lines <= 0) return 0;
  if (stop.level >= 0) return lines - 1;
  return raw.length && raw[raw.length - 1] === 10 ? lines : lines - 1;
}

function newNode(path: number[], depth: number, at: number): MimeNode {
  return {
    path,
    depth,
    headerStart: at,
    fieldsEnd: at,
    headerEnd: at,
    bodyStart: at,
    bodyEnd: at,
    bodyLines: 0,
    type: 'text',
    subtype: 'plain',
    params: [],
    fields: {},
    children: [],
    message: null,
    opaque: false,
  };
}

function lower(raw: Buffer, start: number, end: number): string {
  return raw.toString('latin1', start, end).toLowerCase();
}

/** Reads the header; returns the stop when a boundary line came before the blank line. */
function readHeader(s: Scanner, node: MimeNode): Stop | null {
  const raw = s.raw;
  let field: MimeFieldName | null = null;
  let valueStart = 0;
  let valueEnd = 0;
  const finish = () => {
    if (field && !node.fields[field]) node.fields[field] = [valueStart, valueEnd];
    field = null;
  };
  while (s.peek()) {
    const b = s.boundary();
    if (b) {
      finish();
      const stop: Stop = { lineStart: s.ls, lineNo: s.lineNo, level: b.level, close: b.close };
      node.fieldsEnd = node.headerEnd = node.bodyStart = node.bodyEnd = contentEnd(raw, node.headerStart, stop);
      return stop;
    }
    const { ls, le } = s;
    if (le === ls) {
      finish();
      node.fieldsEnd = ls;
      s.consume();
      node.headerEnd = node.bodyStart = s.pos;
      return null;
    }
    const c = raw[ls];
    if (c === 32 || c === 9) {
      if (field) valueEnd = le; // folded continuation
    } else {
      finish();
      const rel = raw.subarray(ls, le).indexOf(58); // this line only (linear time)
      const colon = rel < 0 ? -1 : ls + rel;
      if (colon > ls) {
        let ne = colon;
        while (ne > ls && (raw[ne - 1] === 32 || raw[ne - 1] === 9)) ne--;
        // Only the few MIME fields are kept; names longer than any of them are not.
        if (ne - ls <= 25) {
          const name = lower(raw, ls, ne);
          if (MIME_FIELDS.has(name)) {
            field = name as MimeFieldName;
            valueStart = colon + 1;
            valueEnd = le;
          }
        }
      }
    }
    s.consume();
  }
  finish();
  node.fieldsEnd = node.headerEnd = node.bodyStart = node.bodyEnd = raw.length;
  return { lineStart: raw.length, lineNo: s.lineNo, level: -1, close: false };
}

function applyContentType(raw: Buffer, node: MimeNode, digest: boolean): void {
  const f = node.fields['content-type'];
  let ct: ContentType | null = null;
  if (f) ct = parseContentType(raw.toString('latin1', f[0], f[1]));
  if (ct) {
    node.type = ct.type;
    node.subtype = ct.subtype;
    node.params = ct.params;
  } else if (digest && !f) {
    // RFC 2046 §5.1.5: in a multipart/digest the default is message/rfc822.
    node.type = 'message';
    node.subtype = 'rfc822';
  } else {
    // RFC 2045 §5.2: missing or invalid Content-Type means text/plain; charset=us-ascii.
    node.type = 'text';
    node.subtype = 'plain';
    node.params = [['charset', 'us-ascii']];
  }
}

function param(node: MimeNode, name: string): string | null {
  for (const [k, v] of node.params) if (k === name) return v;
  return null;
}

function encodingOf(raw: Buffer, node: MimeNode): string {
  const f = node.fields['content-transfer-encoding'];
  if (!f) return '7bit';
  return raw.toString('latin1', f[0], f[1]).replace(/\([^)]*\)/g, '').trim().toLowerCase();
}

/** Parses one entity (header and body) at the scanner's position. */
function parseEntity(s: Scanner, path: number[], depth: number, digest: boolean): { node: MimeNode; stop: Stop } {
  const raw = s.raw;
  const node = newNode(path, depth, s.pos);
  s.parts++;
  const early = readHeader(s, node);
  applyContentType(raw, node, digest);
  if (early) return { node, stop: early };

  const bodyLine = s.lineNo;
  let stop: Stop;
  const deepEnough = depth >= MAX_DEPTH || s.parts >= MAX_PARTS;
  if (node.type === 'multipart') {
    const boundary = param(node, 'boundary');
    if (boundary && boundary.length <= MAX_BOUNDARY && !deepEnough) {
      stop = parseMultipart(s, node, boundary);
    } else {
      node.opaque = true;
      stop = s.scan();
    }
  } else if (node.type === 'message' && (node.subtype === 'rfc822' || node.subtype === 'global')) {
    const cte = encodingOf(raw, node);
    if (!deepEnough && (cte === '7bit' || cte === '8bit' || cte === 'binary')) {
      const inner = parseEntity(s, path, depth + 1, false);
      node.message = inner.node;
      stop = inner.stop;
    } else {
      node.opaque = true;
      stop = s.scan();
    }
  } else {
    stop = s.scan();
  }
  node.bodyEnd = contentEnd(raw, node.bodyStart, stop);
  node.bodyLines = lfCount(raw, stop, stop.lineNo - bodyLine);
  if (node.message) {
    // An encapsulated header whose blank line sits right before the boundary keeps that line
    // ending (it ends the header, so it cannot also belong to the boundary), as Dovecot does.
    if (node.message.headerEnd > node.bodyEnd) {
      node.bodyEnd = node.message.headerEnd;
      node.bodyLines++;
    }
    // The encapsulated message ends where its container does.
    fixEnd(node.message, node.bodyEnd);
  }
  return { node, stop };
}

/** An encapsulated message's body (and its last descendants') end with the container's body. */
function fixEnd(node: MimeNode, end: number): void {
  let n: MimeNode | null = node;
  while (n && n.bodyEnd !== end && n.bodyStart <= end) {
    n.bodyEnd = end;
    n = n.message ?? (n.children.length ? n.children[n.children.length - 1] : null);
  }
}

function parseMultipart(s: Scanner, node: MimeNode, boundary: string): Stop {
  const level = s.stack.length;
  s.push(boundary);
  const digest = node.subtype === 'digest';
  let stop = s.scan(); // preamble
  let popped = false;
  while (stop.level === level) {
    s.consume(); // the delimiter line
    if (stop.close) {
      s.pop();
      popped = true;
      stop = s.scan(); // epilogue
      break;
    }
    const child = parseEntity(s, [...node.path, node.children.length + 1], node.depth + 1, digest);
    node.children.push(child.node);
    stop = child.stop;
  }
  if (!popped) s.pop();
  return stop;
}

/** Builds the part tree of a message. Never throws; O(raw.length). */
export function indexMime(raw: Buffer): MimeNode {
  const s = new Scanner(raw);
  const { node } = parseEntity(s, [], 0, false);
  node.bodyEnd = raw.length;
  return node;
}

/**
 * The entity a part path names (RFC 9051 §6.4.5), or null when there is none. [] is the top-level
 * message. In a message (top-level or encapsulated) that is not multipart, part 1 is the message
 * itself (its body); a message/rfc822 part's sub-parts are its encapsulated message's parts.
 */
export function findPart(root: MimeNode, path: readonly number[]): MimeNode | null {
  let cur = root;
  let isMessage = true;
  for (const n of path) {
    if (!Number.isInteger(n) || n < 1) return null;
    const msg = isMessage ? cur : cur.message;
    let next: MimeNode | undefined;
    if (msg) {
      if (msg.type === 'multipart' && !msg.opaque) next = msg.children[n - 1];
      else next = n === 1 ? msg : undefined;
    } else if (cur.type === 'multipart' && !cur.opaque) {
      next = cur.children[n - 1];
    }
    if (!next) return null;
    cur = next;
    isMessage = false;
  }
  return cur;
}
