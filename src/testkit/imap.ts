// For IMAP tests: a node with a mailbox and an app password, IMAP doors on ephemeral loopback ports
// (plain+STARTTLS and implicit TLS) with test-friendly options, and a raw client that shows the
// server's bytes exactly as written.
import net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { systemActor } from '../core/core.ts';
import type { Core } from '../core/core.ts';
import { type TestMailbox, appendRaw, createTestMailbox, rawMessage } from './mailbox.ts';
import { type TestServer, startTestServer } from './server.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { type ImapDoor, type ImapOptions, startImap } from '../imap/server.ts';

export interface ImapWorld {
  server: TestServer;
  core: Core;
  /** Plain door (STARTTLS; plaintext login allowed unless the world was made strict). */
  plain: ImapDoor;
  /** Implicit TLS door. */
  secure: ImapDoor;
  box: TestMailbox;
  address: string;
  password: string;
  /** The self-signed certificate (SAN localhost, 127.0.0.1) clients should trust. */
  ca: Buffer;
  caFile: string;
  stop(): Promise<void>;
}

export async function startImapWorld(opts: { env?: Record<string, string>; door?: Partial<ImapOptions>; allowPlaintextAuth?: boolean } = {}): Promise<ImapWorld> {
  const server = await startTestServer({
    env: { MAILSTACK_ALLOW_PLAINTEXT_AUTH: String(opts.allowPlaintextAuth ?? true), MAILSTACK_HOSTNAME: 'localhost', ...opts.env },
  });
  const core = server.platform.core;
  const material = loadTlsMaterial(core.settings);
  const base = { host: '127.0.0.1', port: 0, tls: material, authFailureDelayMs: 10, ...opts.door };
  const plain = await startImap(core, { ...base, implicitTls: false });
  const secure = await startImap(core, { ...base, implicitTls: true });
  const box = await createTestMailbox(core);
  const pw = await createAppPassword(core, systemActor, box.workspaceId, box.mailbox.id, { name: 'tests' });
  return {
    server,
    core,
    plain,
    secure,
    box,
    address: box.mailbox.address,
    password: pw.password,
    ca: material.cert,
    caFile: material.certFile,
    async stop() {
      await plain.close();
      await secure.close();
      await server.stop();
    },
  };
}

/** Stores a message the way the MX does; returns its UID. */
export async function deliver(world: ImapWorld, raw: Buffer | string, opts: Parameters<typeof appendRaw>[3] = {}) {
  return appendRaw(world.core, world.box.mailbox, raw, opts);
}

export { rawMessage };

/** A line-oriented raw IMAP client: what it returns is what the server wrote. */
export class RawImap {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  greeting = '';

  private constructor(public sock: net.Socket | tls.TLSSocket) {
    this.attach(sock);
  }

  private attach(sock: net.Socket | tls.TLSSocket) {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  static async connect(port: number, opts: { tls?: boolean; ca?: Buffer } = {}): Promise<RawImap> {
    const sock = opts.tls
      ? tls.connect({ port, host: '127.0.0.1', ca: opts.ca, servername: 'localhost' })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      sock.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      sock.once('error', reject);
    });
    const c = new RawImap(sock);
    c.greeting = await c.line();
    return c;
  }

  /** Waits until `pred(buffer)` holds (or the connection closes, or 10 s pass). */
  async waitFor(pred: (buf: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.buf)) {
      if (this.closed) throw new Error(`connection closed; got: ${JSON.stringify(this.buf.slice(-500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; got: ${JSON.stringify(this.buf.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.buf;
  }

  /** One line (without CRLF). */
  async line(): Promise<string> {
    await this.waitFor((b) => b.includes('\r\n'));
    const i = this.buf.indexOf('\r\n');
    const l = this.buf.slice(0, i);
    this.buf = this.buf.slice(i + 2);
    return l;
  }

  write(data: string | Buffer): void {
    this.sock.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends `tag command` and returns everything up to and including the tagged response. */
  async cmd(tag: string, command: string, timeoutMs?: number): Promise<string> {
    this.write(`${tag} ${command}\r\n`);
    return this.until(tag, timeoutMs);
  }

  /** Everything up to and including the line starting with `tag ` (literals included). */
  async until(tag: string, timeoutMs?: number): Promise<string> {
    const re = new RegExp(`(^|\\r\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (OK|NO|BAD)[^\\r\\n]*\\r\\n`);
    await this.waitFor((b) => re.test(b), timeoutMs);
    const m = re.exec(this.buf)!;
    const end = m.index + m[0].length;
    const out = this.buf.slice(0, end);
    this.buf = this.buf.slice(end);
    return out;
  }

  /** Upgrades with STARTTLS (after the server's OK). */
  async startTls(ca: Buffer): Promise<void> {
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('close');
    const secure = tls.connect({ socket: this.sock as net.Socket, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.buf = '';
    this.attach(secure);
  }

  pending(): string {
    return this.buf;
  }

  close(): void {
    this.sock.destroy();
  }
}

export function readCa(world: ImapWorld): Buffer {
  return readFileSync(world.caFile);
}
