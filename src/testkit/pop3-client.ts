// A raw POP3 client for transcript tests: sends exact bytes and reads exact replies (single-line,
// or multi-line up to the ".CRLF" terminator), over a plain socket, implicit TLS, or after STLS.
import { type Socket, connect as netConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export class RawPop3 {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(public socket: Socket | TLSSocket) {
    this.listen(socket);
  }

  private listen(socket: Socket | TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawPop3> {
    const socket = opts.tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawPop3(socket);
  }

  /** Upgrades after a +OK to STLS. */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buf = Buffer.alloc(0);
    this.listen(secure);
  }

  private async waitFor(pred: () => number, timeoutMs: number): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = pred();
      if (end >= 0) {
        const out = this.buf.subarray(0, end);
        this.buf = this.buf.subarray(end);
        return out;
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; unread: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** One reply line, without its CRLF. */
  async line(timeoutMs = 10_000): Promise<string> {
    const raw = await this.waitFor(() => {
      const i = this.buf.indexOf('\r\n');
      return i === -1 ? -1 : i + 2;
    }, timeoutMs);
    return raw.subarray(0, raw.length - 2).toString('utf8');
  }

  /** A multi-line reply: the status line, then the raw data up to (not including) the ".CRLF" line. */
  async multi(timeoutMs = 10_000): Promise<{ status: string; data: Buffer }> {
    const status = await this.line(timeoutMs);
    if (!status.startsWith('+OK')) return { status, data: Buffer.alloc(0) };
    const raw = await this.waitFor(() => {
      if (this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) return 3;
      const i = this.buf.indexOf('\r\n.\r\n');
      return i === -1 ? -1 : i + 5;
    }, timeoutMs);
    return { status, data: raw.subarray(0, raw.length - 3) };
  }

  send(text: string | Buffer): void {
    this.socket.write(typeof text === 'string' ? Buffer.from(text + '\r\n') : text);
  }

  async cmd(text: string): Promise<string> {
    this.send(text);
    return this.line();
  }

  async cmdMulti(text: string): Promise<{ status: string; data: Buffer }> {
    this.send(text);
    return this.multi();
  }

  /** Waits for the server to close the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    await this.waitFor(() => (this.closed ? this.buf.length : -1), timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A message's data lines, un-stuffed (RFC 1939 §3), as the client would store it. */
export function unstuff(data: Buffer): Buffer {
  return Buffer.from(data.toString('latin1').replace(/(^|\r\n)\.\./g, '$1.'), 'latin1');
}
