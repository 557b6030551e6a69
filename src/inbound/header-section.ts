// Where a message's header section ends (RFC 5322 §2.1: at the first empty line), found in a
// buffer or in a stream of chunks without joining or copying them. The MX bounds the header
// section while data streams in (src/smtp/mx.ts); the parsers of the header work on that part
// only, never on a string of the whole message.

/**
 * Finds the end of the header section (the empty line, CRLF CRLF or a bare LF LF) in a message
 * that arrives in chunks, without joining or copying them: between line starts it jumps with
 * indexOf, and it keeps only where the previous chunk left off. A message that opens with an
 * empty line has an empty header section (RFC 5322 §2.1).
 */
export class HeaderScanner {
  /** Bytes of the header section seen so far (all of it once `done`). */
  headerBytes = 0;
  done = false;
  // 0: inside a line; 1: at a line start; 2: at a line start after a CR.
  private state = 1;

  /** Feeds the next chunk; true once the end of the header section has been seen. */
  push(chunk: Buffer): boolean {
    if (this.done) return true;
    let i = 0;
    while (i < chunk.length) {
      const b = chunk[i];
      if (this.state === 0) {
        const lf = chunk.indexOf(0x0a, i);
        if (lf < 0) break;
        i = lf + 1;
        this.state = 1;
        continue;
      }
      if (b === 0x0a) {
        this.headerBytes += i + 1;
        this.done = true;
        return true;
      }
      this.state = this.state === 1 && b === 0x0d ? 2 : 0;
      i++;
    }
    this.headerBytes += chunk.length;
    return false;
  }
}

/** The length of the header section of `raw`, the empty line included (all of it when there is none). */
export function headerSectionLength(raw: Buffer): number {
  const s = new HeaderScanner();
  s.push(raw);
  return s.headerBytes;
}
