// For tests: a bare SMTP client over a real socket that shows every reply as the server wrote it,
// can upgrade with STARTTLS, and can send bytes no polite client would (NUL, huge lines).
import net from 'node:net';
import tls from 'node:tls';

export interface SmtpReply {
  code: number;
  /** Every line, joined with \n, codes included. */
  text: string;
  lines: string[];
}

export class RawSmtp {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private waiting: ((r: SmtpReply | Error) => void) | null = null;
  private replies: (SmtpReply | Error)[] = [];
  private closedFlag = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<{ client: RawSmtp; greeting: SmtpReply }> {
    const socket = net.connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    return { client, greeting: await client.read() };
  }

  private attach(socket: net.Socket | tls.TLSSocket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (;;) {
        const reply = this.takeReply();
        if (!reply) break;
        this.deliver(reply);
      }
    });
    socket.on('error', (err) => this.deliver(err));
    socket.on('close', () => {
      this.closedFlag = true;
      this.deliver(new Error('connection closed'));
    });
  }

  get closed() {
    return this.closedFlag;
  }

  get encrypted() {
    return this.socket instanceof tls.TLSSocket && this.socket.encrypted;
  }

  private deliver(r: SmtpReply | Error) {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(r);
    } else this.replies.push(r);
  }

  private takeReply(): SmtpReply | null {
    const lines: string[] = [];
    let pos = 0;
    for (;;) {
      const nl = this.buffer.indexOf('\r\n', pos);
      if (nl < 0) return null;
      const line = this.buffer.slice(pos, nl);
      lines.push(line);
      pos = nl + 2;
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        this.buffer = this.buffer.slice(pos);
        return { code: Number(line.slice(0, 3)), text: lines.join('\n'), lines };
      }
    }
  }

  /** The next reply, waiting at most `ms`. */
  read(ms = 20_000): Promise<SmtpReply> {
    const queued = this.replies.shift();
    if (queued) return queued instanceof Error ? Promise.reject(queued) : Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no SMTP reply within ${ms} ms`));
      }, ms);
      this.waiting = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  write(data: string | Buffer) {
    this.socket.write(data);
  }

  async command(line: string, ms?: number): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read(ms);
  }

  /** Sends a message body after DATA's 354, dot-stuffed, and returns the final reply. */
  async data(body: string | Buffer, ms?: number): Promise<SmtpReply> {
    const go = await this.command('DATA', ms);
    if (go.code !== 354) return go;
    const text = Buffer.isBuffer(body) ? body.toString('latin1') : body;
    const stuffed = text.replace(/\r?\n/g, '\r\n').replace(/(^|\r\n)\./g, '$1..');
    this.write(Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    return this.read(ms);
  }

  /** STARTTLS (RFC 3207): upgrades this connection, verifying the server against `ca`. */
  async startTls(opts: { ca?: Buffer; servername?: string; rejectUnauthorized?: boolean } = {}): Promise<SmtpReply> {
    const r = await this.command('STARTTLS');
    if (r.code !== 220) return r;
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = tls.connect({ socket: plain, ca: opts.ca, servername: opts.servername, rejectUnauthorized: opts.rejectUnauthorized ?? true });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return r;
  }

  async quit() {
    if (this.closedFlag) return;
    try {
      await this.command('QUIT', 5000);
    } catch {
      // closed already
    }
    this.socket.destroy();
  }

  destroy() {
    this.socket.destroy();
  }
}

/** A TCP port free on loopback right now (for a door whose port must be given up front). */
export { freePort } from './server.ts';
