// POP3 on the wire: reading command lines, and writing messages as RFC 1939 §3 requires them —
// CRLF line ends, lines that start with "." byte-stuffed, a multi-line response ended by ".CRLF".
//
// Implementation notes:
// - A stored message may have bare LF or CR line ends (a sloppy client's APPEND); POP3 sends every
//   line end as CRLF, and the size a client is told (STAT, LIST, RETR's "+OK n octets") is the
//   octet count of that CRLF form before byte-stuffing (RFC 1939 §11, "Message Format").
// - CrlfEncoder is streaming: a chunk may end between CR and LF, or at the start of a line; the
//   state carries over, so RETR never holds a whole message in memory.
// - LineReader never buffers more than `maxLine` bytes: a longer line is reported once as too long
//   and the rest of it is dropped until its line end, so a 100 KB line costs nothing.

const CR = 13;
const LF = 10;
const DOT = 46;
const CRLF = Buffer.from('\r\n');
const DOTDOT = Buffer.from('..');

/** Turns a message's bytes into POP3's CRLF form, optionally byte-stuffed, chunk by chunk. */
export class CrlfEncoder {
  private lineStart = true;
  private pendingCr = false;

  constructor(private readonly stuff: boolean) {}

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk; // keeps a pending CR pending
    const out: Buffer[] = [];
    let from = 0;
    let i = 0;
    const n = chunk.length;
    if (this.pendingCr) {
      // A CR ended the last chunk: it was written as CRLF; swallow the LF that completes it.
      this.pendingCr = false;
      if (chunk[0] === LF) from = i = 1;
    }
    for (; i < n; i++) {
      const b = chunk[i];
      if (b === CR) {
        out.push(chunk.subarray(from, i), CRLF);
        this.lineStart = true;
        if (i + 1 < n) {
          if (chunk[i + 1] === LF) i++;
        } else {
          this.pendingCr = true;
        }
        from = i + 1;
      } else if (b === LF) {
        out.push(chunk.subarray(from, i), CRLF);
        this.lineStart = true;
        from = i + 1;
      } else {
        if (this.lineStart && b === DOT && this.stuff) {
          out.push(chunk.subarray(from, i), DOTDOT);
          from = i + 1;
        }
        this.lineStart = false;
      }
    }
    if (from < n) out.push(chunk.subarray(from, n));
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /** Ends the message: a final CRLF when its last line had none (a multi-line response needs it). */
  end(): Buffer {
    return this.lineStart ? Buffer.alloc(0) : CRLF;
  }
}

/** The octet count of the message in CRLF form (without byte-stuffing). */
export function crlfSize(chunks: Iterable<Buffer>): number {
  const enc = new CrlfEncoder(false);
  let size = 0;
  for (const c of chunks) size += enc.push(c).length;
  return size;
}

/**
 * TOP (RFC 1939 §7): the header, the blank line after it, and the first `lines` lines of the
 * body, from a message already in CRLF form.
 */
export function topOf(message: Buffer, lines: number): Buffer {
  const split = message.indexOf('\r\n\r\n');
  if (split === -1) return message; // no body: the whole thing is header
  let end = split + 4;
  for (let k = 0; k < lines && end < message.length; k++) {
    const nl = message.indexOf(LF, end);
    end = nl === -1 ? message.length : nl + 1;
  }
  return message.subarray(0, end);
}

/** Splits a byte stream into command lines (LF-terminated; a CR before it is dropped). */
export class LineReader {
  private buf: Buffer[] = [];
  private size = 0;
  private dropping = false;

  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(LF, from);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.dropping) {
        const piece = chunk.subarray(from, end);
        if (this.size + piece.length > this.maxLine) {
          this.buf = [];
          this.size = 0;
          this.dropping = true;
          this.onTooLong();
        } else {
          this.buf.push(piece);
          this.size += piece.length;
        }
      }
      if (nl === -1) return;
      if (this.dropping) this.dropping = false;
      else {
        let line = this.buf.length === 1 ? this.buf[0] : Buffer.concat(this.buf);
        if (line.length && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
        this.buf = [];
        this.size = 0;
        this.onLine(line);
      }
      from = nl + 1;
    }
  }

  /** Forgets anything read but not yet a full line (after STLS, RFC 2595 §4 / RFC 3207 §6). */
  reset(): void {
    this.buf = [];
    this.size = 0;
    this.dropping = false;
  }
}
