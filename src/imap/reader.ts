// The IMAP command reader: pulls whole commands (lines plus their literals) off a socket, with
// limits, for a session that handles one command at a time (RFC 9051 §2.2.1, §4.3, §7.5).
//
// Implementation notes:
// - Pull, not push: the session asks for the next command when it has finished the previous one,
//   so a client that pipelines faster than we answer is held back by TCP (the socket is paused
//   while our buffer is full) instead of growing our memory.
// - A synchronising literal `{n}` gets "+ " only after its size passed the limit for that command
//   (APPEND: the largest message; anything else: a few KB); a too-large one is refused with a tagged
//   NO [TOOBIG] / BAD and the client, which waits for "+", sends nothing more for it (RFC 9051
//   §7.5). A non-synchronising literal `{n+}` (RFC 7888) is already on its way: a modest one is read
//   and thrown away before the refusal, a huge one ends the connection with BYE.
// - A line longer than the limit (outside literals) is discarded up to its CRLF and answered BAD;
//   NUL in a line is BAD (RFC 9051 §4: CHAR8 excludes NUL). Neither can desynchronise the stream.
// - Before login (`preAuth` limits) nothing is discarded or skipped on a client's behalf: a line
//   or literal over the (small) limits ends the connection with BYE as soon as it is seen, so an
//   unauthenticated peer can hold neither memory nor a connection by sending without a line feed.
// - Literals are collected as a list of chunks and joined once: a 50 MB APPEND costs one copy.
// - `takeBuffered()` drops whatever arrived before STARTTLS completed (RFC 9051 §6.2.1: no command
//   injection across the TLS boundary); `attach()` moves the reader to the TLS socket.
import type { Duplex } from 'node:stream';

export interface ReaderLimits {
  /** Longest line outside literals, CRLF excluded. */
  maxLine: number;
  /** Largest literal in commands other than APPEND. */
  maxLiteral: number;
  /** Largest literal in APPEND (the largest message we take). */
  maxAppendLiteral: number;
  /** Sum of lines and literals of one command other than APPEND. */
  maxCommandBytes: number;
  /** Before login: over a limit, hang up at once instead of discarding (see the notes above). */
  hangUpOverLimit?: boolean;
}

/** A command as read: its text pieces and literal bytes in order (a piece ending in `{n}` is followed by the literal). */
export type Segment = string | Buffer;

export type ReadResult =
  | { kind: 'command'; tag: string; name: string; uid: boolean; segments: Segment[]; headLength: number }
  /** Answer with `response` (already a full line without CRLF); close after it when `close`. */
  | { kind: 'error'; response: string; close?: boolean }
  | { kind: 'eof' };

const LITERAL_AT_END = /(~?)\{(\d{1,20})(\+?)\}$/;
const HEAD = /^([^\x00-\x20\x7f-\xff(){%*"\\\]+]+) (?:(UID) +)?([A-Za-z]+)/i;

export class ImapReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  private sock!: Duplex;
  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > 1 << 20 && !this.wake) this.sock.pause();
    this.notify();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.notify();
  };

  constructor(
    sock: Duplex,
    private limits: ReaderLimits,
    /** Writes a continuation request ("+ …") and waits until it is flushed. */
    private readonly continuation: (text: string) => Promise<void>,
  ) {
    this.attach(sock);
  }

  /** New limits from the next command on (after login). */
  setLimits(limits: ReaderLimits): void {
    this.limits = limits;
  }

  attach(sock: Duplex): void {
    if (this.sock) {
      this.sock.off('data', this.onData);
      this.sock.off('end', this.onEnd);
      this.sock.off('close', this.onEnd);
    }
    this.sock = sock;
    this.ended = false;
    sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('close', this.onEnd);
  }

  /** Drops unread input; returns how many bytes were dropped. */
  takeBuffered(): number {
    const n = this.buffered;
    this.chunks = [];
    this.buffered = 0;
    return n;
  }

  /** Stops listening (the session is over). */
  detach(): void {
    this.sock.off('data', this.onData);
    this.sock.off('end', this.onEnd);
    this.sock.off('close', this.onEnd);
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits for more input; false at end of stream. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.sock.resume();
    });
    return true;
  }

  private flat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): Buffer {
    const all = this.flat();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /**
   * One line without its CRLF (a bare LF is tolerated); `tooLong` when it passed `max` bytes (the
   * rest of it is discarded); null at end of stream.
   */
  async readLine(max = this.limits.maxLine): Promise<{ line: Buffer } | { tooLong: true; head: Buffer } | null> {
    let scanned = 0;
    let discarding = false;
    let head: Buffer | null = null;
    for (;;) {
      const all = this.flat();
      const lf = all.indexOf(0x0a, scanned);
      if (lf >= 0) {
        if (discarding || lf > max + 1) {
          head ??= Buffer.from(all.subarray(0, 100));
          this.consume(lf + 1);
          return { tooLong: true, head };
        }
        const raw = this.consume(lf + 1);
        const end = lf > 0 && raw[lf - 1] === 0x0d ? lf - 1 : lf;
        return { line: raw.subarray(0, end) };
      }
      if (all.length > max + 1 && this.limits.hangUpOverLimit) {
        head ??= Buffer.from(all.subarray(0, 100));
        this.consume(all.length);
        return { tooLong: true, head };
      }
      if (all.length > max + 1) {
        // Keep nothing of an over-long line: drop what we have and go on discarding to its LF.
        discarding = true;
        head ??= Buffer.from(all.subarray(0, 100));
        this.consume(all.length);
        scanned = 0;
      } else {
        scanned = all.length;
      }
      if (!(await this.more())) return null;
    }
  }

  /** Exactly n bytes, or null at end of stream. */
  async readBytes(n: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let need = n;
    for (;;) {
      if (this.buffered) {
        const take = Math.min(need, this.buffered);
        parts.push(this.consume(take));
        need -= take;
      }
      if (need === 0) return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
      if (!(await this.more())) return null;
    }
  }

  /** Reads and forgets n bytes; false at end of stream. */
  private async skip(n: number): Promise<boolean> {
    let need = n;
    while (need > 0) {
      if (this.buffered) {
        const take = Math.min(need, this.buffered);
        this.consume(take);
        need -= take;
        continue;
      }
      if (!(await this.more())) return false;
    }
    return true;
  }

  async readCommand(): Promise<ReadResult> {
    const segments: Segment[] = [];
    let tag = '*';
    let name = '';
    let uid = false;
    let headLength = 0;
    let total = 0;
    let first = true;
    for (;;) {
      const got = await this.readLine();
      if (!got) return { kind: 'eof' };
      if ('tooLong' in got && this.limits.hangUpOverLimit) return { kind: 'error', response: '* BYE Command line too long before login', close: true };
      if ('tooLong' in got) {
        // The tag of an over-long first line is still worth answering by (RFC 9051 §7.1.5).
        const t = first ? /^([^\x00-\x20\x7f-\xff(){%*"\\\]+]+) /.exec(got.head.toString('latin1')) : null;
        return { kind: 'error', response: `${t ? t[1] : tag} BAD Command line too long` };
      }
      const line = got.line;
      total += line.length;
      if (first) {
        first = false;
        const text = line.toString('latin1');
        if (!text.trim()) return { kind: 'error', response: '* BAD Empty command line' };
        const m = HEAD.exec(text);
        if (!m) {
          const t = /^([^\x00-\x20\x7f-\xff(){%*"\\\]+]+)/.exec(text);
          return this.failCommand(line, `${t ? t[1] : '*'} BAD Missing command`);
        }
        tag = m[1];
        uid = !!m[2];
        name = m[3].toUpperCase();
        headLength = m[0].length;
      }
      if (line.includes(0)) return this.failCommand(line, `${tag} BAD NUL is not allowed in a command line`);
      const text = line.toString('utf8');
      const lit = LITERAL_AT_END.exec(text);
      if (!lit) {
        segments.push(text);
        return { kind: 'command', tag, name, uid, segments, headLength };
      }
      const size = Number(lit[2]);
      const nonSync = lit[3] === '+';
      const append = name === 'APPEND';
      const limit = append ? this.limits.maxAppendLiteral : this.limits.maxLiteral;
      if (!Number.isSafeInteger(size) || size > limit || (!append && total + size > this.limits.maxCommandBytes)) {
        const reply = append ? `${tag} NO [TOOBIG] Message too large` : `${tag} BAD Literal too large`;
        if (this.limits.hangUpOverLimit) return { kind: 'error', response: '* BYE Literal too large before login', close: true };
        if (!nonSync) return { kind: 'error', response: reply };
        // The bytes are coming anyway: swallow a modest amount, hang up on a huge one.
        if (size <= Math.max(limit, this.limits.maxCommandBytes) * 2 && (await this.skip(size))) {
          await this.drainRest();
          return { kind: 'error', response: reply };
        }
        return { kind: 'error', response: '* BYE Literal too large', close: true };
      }
      segments.push(text);
      if (!nonSync) await this.continuation('+ Ready for literal data');
      const data = await this.readBytes(size);
      if (!data) return { kind: 'eof' };
      total += size;
      segments.push(data);
    }
  }

  /** After a refused literal: the rest of the command line (and any literals it announces) is dropped. */
  private async drainRest(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const got = await this.readLine();
      if (!got || 'tooLong' in got) return;
      const lit = LITERAL_AT_END.exec(got.line.toString('latin1'));
      if (!lit || lit[3] !== '+') return;
      const size = Number(lit[2]);
      if (size > this.limits.maxAppendLiteral * 2 || !(await this.skip(size))) return;
    }
  }

  /** A line we refuse whole: if it announces a non-synchronising literal, that literal is dropped too. */
  private async failCommand(line: Buffer, response: string): Promise<ReadResult> {
    const lit = LITERAL_AT_END.exec(line.toString('latin1'));
    if (lit && lit[3] === '+') {
      const size = Number(lit[2]);
      if (size > this.limits.maxAppendLiteral * 2 || !(await this.skip(size))) return { kind: 'error', response: '* BYE Literal too large', close: true };
      await this.drainRest();
    }
    return { kind: 'error', response };
  }
}
