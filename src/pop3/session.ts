// One POP3 connection: the AUTHORIZATION → TRANSACTION → UPDATE state machine of RFC 1939, with
// CAPA and response codes (RFC 2449, RFC 3206), STLS (RFC 2595 §4) and AUTH PLAIN (RFC 5034,
// RFC 4616).
//
// Implementation notes (invariants a newcomer must not break):
// - Commands are handled strictly one at a time, in order (PIPELINING, RFC 2449 §6.6): lines are
//   queued as they arrive and the socket is paused while the queue is long, so a client that
//   floods commands is slowed down, not buffered without bound.
// - No credentials before TLS unless MAILSTACK_ALLOW_PLAINTEXT_AUTH: USER, PASS and AUTH answer
//   `-ERR [AUTH]` on a clear connection, and CAPA does not advertise USER or SASL there (RFC 2595
//   §4, RFC 8314 §3). After STLS everything said before is forgotten (the queue and any USER),
//   so text injected before the handshake cannot act inside the TLS session.
// - Logins go through loginMailbox (throttled per IP and account); a lock gives `-ERR [SYS/TEMP]`.
//   A mailbox already open in another POP3 session gives `-ERR [IN-USE]` (RFC 2449 §8.1.2); the
//   session stays in AUTHORIZATION.
// - Only QUIT from TRANSACTION enters UPDATE and removes the messages marked with DELE (RFC 1939
//   §6), and marks those sent by RETR \Seen (maildrop.ts). A dropped connection, the idle timer
//   (RFC 1939 §3: at least 10 minutes) or a server stop never writes anything.
// - Bad input never throws out of the session: a line over the limit, NUL bytes, unknown commands
//   and wrong-state commands each get one -ERR; too many of them close the connection.
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Core } from '../core/core.ts';
import { loginMailbox } from '../accounts/mailbox-login.ts';
import { type DropMessage, Maildrop, lockMaildrop } from './maildrop.ts';
import { CrlfEncoder, LineReader, topOf } from './wire.ts';

export interface Pop3SessionOptions {
  /** Clear-text login before TLS (MAILSTACK_ALLOW_PLAINTEXT_AUTH). */
  allowPlaintextAuth: boolean;
  /** For STLS; null when the port offers none (the implicit-TLS port is secure from the start). */
  tls: SecureContext | null;
  /** RFC 1939 §3: the autologout timer, at least 10 minutes. */
  idleTimeoutMs: number;
  /** Longest command line in octets (RFC 2449 §4 says 255; AUTH PLAIN responses need more). */
  maxLine: number;
  maxBadCommands: number;
  maxAuthFailures: number;
}

type State = 'authorization' | 'transaction' | 'update' | 'closed';

const TOO_LONG = Symbol('too long');
const MAX_QUEUE = 64;
const MSG_NUMBER = /^[1-9][0-9]{0,9}$/;
const COUNT = /^[0-9]{1,10}$/;

const TRANSACTION_COMMANDS = new Set(['STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'TOP', 'UIDL']);
const AUTHORIZATION_COMMANDS = new Set(['USER', 'PASS', 'AUTH', 'STLS', 'APOP']);

export class Pop3Session {
  private socket: Socket;
  private state: State = 'authorization';
  private queue: (Buffer | typeof TOO_LONG)[] = [];
  private running: Promise<void> | null = null;
  private readonly reader: LineReader;
  private user: string | null = null;
  private saslPending = false;
  private drop: Maildrop | null = null;
  private release: (() => void) | null = null;
  private badCommands = 0;
  private authFailures = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.reader.push(chunk);
    if (this.queue.length > MAX_QUEUE) this.socket.pause();
    this.kick();
  };

  constructor(
    private readonly core: Core,
    socket: Socket,
    private secure: boolean,
    private readonly opts: Pop3SessionOptions,
    private readonly onClose: (s: Pop3Session) => void,
  ) {
    this.socket = socket;
    this.reader = new LineReader(opts.maxLine, (line) => this.queue.push(line), () => this.queue.push(TOO_LONG));
    this.attach(socket);
    this.touch();
    this.send('+OK Mailstack POP3 server ready');
  }

  get remoteAddress(): string | null {
    return this.socket.remoteAddress ?? null;
  }

  /** The command being handled, if any (the server's stop waits for it). */
  get busy(): Promise<void> | null {
    return this.running;
  }

  /** Ends the session without UPDATE (server stop). */
  shutdown(text: string): void {
    if (this.state === 'closed') return;
    this.send(`-ERR [SYS/TEMP] ${text}`);
    this.close();
  }

  private attach(socket: Socket) {
    socket.on('data', this.onData);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  private touch() {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.state === 'closed') return;
    this.idleTimer = setTimeout(() => {
      this.send('-ERR Autologout: idle for too long');
      this.close();
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private close() {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.queue = [];
    this.release?.();
    this.release = null;
    this.drop = null;
    this.socket.end();
    // A client that does not read its replies must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
    this.onClose(this);
  }

  private send(line: string): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    return this.socket.write(line + '\r\n');
  }

  private async write(data: Buffer): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) throw new Error('connection closed');
    if (!this.socket.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  private kick() {
    if (this.running || this.state === 'closed' || this.queue.length === 0) return;
    this.running = (async () => {
      await null; // `running` is assigned before the loop (and its finally) can run
      try {
        while (this.queue.length && this.state !== 'closed') {
          const item = this.queue.shift()!;
          if (this.queue.length <= MAX_QUEUE / 2 && this.socket.isPaused()) this.socket.resume();
          this.touch();
          try {
            await this.handle(item);
          } catch (err) {
            this.core.log.error({ err, door: 'pop3' }, 'pop3 command failed');
            this.send('-ERR [SYS/TEMP] Internal error; try again later');
            this.close();
          }
          this.touch();
        }
      } finally {
        this.running = null;
      }
    })();
  }

  private bad(text: string) {
    this.send(`-ERR ${text}`);
    if (++this.badCommands >= this.opts.maxBadCommands) {
      this.send('-ERR Too many bad commands; closing the connection');
      this.close();
    }
  }

  private async handle(item: Buffer | typeof TOO_LONG): Promise<void> {
    if (item === TOO_LONG) {
      this.saslPending = false;
      return this.bad(`Line too long: at most ${this.opts.maxLine} octets`);
    }
    if (item.includes(0)) {
      this.saslPending = false;
      return this.bad('NUL bytes are not allowed in commands');
    }
    const line = item.toString('utf8');
    if (this.saslPending) {
      this.saslPending = false;
      if (line === '*') return void this.send('-ERR Authentication cancelled'); // RFC 5034 §4
      return this.authPlain(line);
    }
    const m = /^([A-Za-z]{1,10})(?: (.*))?$/s.exec(line);
    if (!m) return this.bad('Syntax error: expected a command');
    const command = m[1].toUpperCase();
    const rest = m[2] ?? '';
    const args = rest === '' ? [] : rest.split(' ');

    if (command === 'QUIT') return this.quit();
    if (command === 'CAPA') return this.capa();
    if (this.state === 'authorization') {
      if (TRANSACTION_COMMANDS.has(command)) return this.bad('Command not valid in this state: log in first');
      switch (command) {
        case 'USER':
          return this.userCommand(rest);
        case 'PASS':
          return this.passCommand(rest);
        case 'AUTH':
          return this.authCommand(args);
        case 'STLS':
          return this.stls(args);
        case 'APOP':
          return this.bad('APOP is not supported: use USER/PASS or AUTH PLAIN over TLS');
      }
      return this.bad('Unknown command');
    }
    // TRANSACTION
    if (AUTHORIZATION_COMMANDS.has(command)) return this.bad('Command not valid in this state: already logged in');
    const drop = this.drop!;
    switch (command) {
      case 'STAT': {
        if (args.length) return this.bad('Syntax: STAT');
        const { count, octets } = drop.live();
        return void this.send(`+OK ${count} ${octets}`);
      }
      case 'LIST':
      case 'UIDL': {
        if (args.length > 1) return this.bad(`Syntax: ${command} [msg]`);
        const value = (m: DropMessage) => (command === 'LIST' ? String(m.size) : drop.uniqueId(m));
        if (args.length === 1) {
          const n = this.msgNumber(args[0]);
          if (n === null) return;
          return void this.send(`+OK ${n} ${value(drop.get(n)!)}`);
        }
        const lines: string[] = [];
        drop.messages.forEach((msg, i) => {
          if (!msg.deleted) lines.push(`${i + 1} ${value(msg)}`);
        });
        const { count, octets } = drop.live();
        const head = command === 'LIST' ? `+OK ${count} messages (${octets} octets)` : '+OK Unique-ID listing follows';
        return this.write(Buffer.from([head, ...lines, '.'].join('\r\n') + '\r\n'));
      }
      case 'RETR': {
        if (args.length !== 1) return this.bad('Syntax: RETR msg');
        const n = this.msgNumber(args[0]);
        if (n === null) return;
        return this.retr(drop, n);
      }
      case 'TOP': {
        if (args.length !== 2) return this.bad('Syntax: TOP msg n');
        const n = this.msgNumber(args[0]);
        if (n === null) return;
        if (!COUNT.test(args[1])) return this.bad('Syntax: TOP msg n, with n a number of lines (0 or more)');
        return this.top(drop, n, Number(args[1]));
      }
      case 'DELE': {
        if (args.length !== 1) return this.bad('Syntax: DELE msg');
        if (!MSG_NUMBER.test(args[0])) return this.bad('Syntax: a message number is 1 or more');
        const msg = drop.messages[Number(args[0]) - 1];
        if (!msg) return void this.send('-ERR No such message');
        if (msg.deleted) return void this.send(`-ERR Message ${args[0]} already deleted`);
        msg.deleted = true;
        return void this.send(`+OK Message ${args[0]} deleted`);
      }
      case 'RSET': {
        if (args.length) return this.bad('Syntax: RSET');
        drop.reset();
        const { count, octets } = drop.live();
        return void this.send(`+OK Maildrop has ${count} messages (${octets} octets)`);
      }
      case 'NOOP':
        if (args.length) return this.bad('Syntax: NOOP');
        return void this.send('+OK');
    }
    return this.bad('Unknown command');
  }

  /** A message number that names a message not marked deleted, or null after answering -ERR. */
  private msgNumber(arg: string): number | null {
    if (!MSG_NUMBER.test(arg)) {
      this.bad('Syntax: a message number is 1 or more');
      return null;
    }
    const n = Number(arg);
    const msg = this.drop!.messages[n - 1];
    if (!msg) {
      this.send('-ERR No such message');
      return null;
    }
    if (msg.deleted) {
      this.send(`-ERR Message ${n} is deleted`);
      return null;
    }
    return n;
  }

  // ---- AUTHORIZATION ----------------------------------------------------------------------

  private authAllowed(): boolean {
    return this.secure || this.opts.allowPlaintextAuth;
  }

  private capa() {
    const caps = ['+OK Capability list follows', 'TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.state === 'authorization') {
      if (this.authAllowed()) caps.push('USER', 'SASL PLAIN');
      if (!this.secure && this.opts.tls) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION Mailstack', '.');
    this.send(caps.join('\r\n'));
  }

  private plaintextRefused() {
    this.send('-ERR [AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first');
  }

  private userCommand(name: string) {
    if (!this.authAllowed()) return this.plaintextRefused();
    if (!name || name.length > 320) return this.bad('Syntax: USER name');
    this.user = name;
    // The same answer whether or not the mailbox exists (RFC 1939 §13).
    this.send('+OK Send your password');
  }

  private async passCommand(password: string) {
    if (!this.authAllowed()) return this.plaintextRefused();
    if (this.user === null) return this.bad('USER first');
    const user = this.user;
    this.user = null;
    await this.login(user, password);
  }

  private async authCommand(args: string[]) {
    if (args.length === 0) {
      // Some clients list mechanisms with a bare AUTH (pre-RFC 5034 practice).
      if (!this.authAllowed()) return this.plaintextRefused();
      return this.write(Buffer.from('+OK\r\nPLAIN\r\n.\r\n'));
    }
    if (!this.authAllowed()) return this.plaintextRefused();
    if (args[0].toUpperCase() !== 'PLAIN') return void this.send('-ERR Unrecognized authentication type: only PLAIN is offered');
    if (args.length > 2) return this.bad('Syntax: AUTH PLAIN [initial-response]');
    if (args.length === 1) {
      this.saslPending = true;
      return void this.send('+ ');
    }
    return this.authPlain(args[1] === '=' ? '' : args[1]); // RFC 5034 §4: "=" is an empty response
  }

  /** RFC 4616: base64 of authzid NUL authcid NUL passwd; authzid empty or the same user. */
  private async authPlain(b64: string) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return void this.send('-ERR [AUTH] Invalid base64 in the PLAIN response');
    const parts = Buffer.from(b64, 'base64').toString('utf8').split('\u0000');
    if (parts.length !== 3) return void this.send('-ERR [AUTH] Malformed PLAIN response');
    const [authzid, authcid, password] = parts;
    if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) return void this.send('-ERR [AUTH] Acting as another user is not allowed');
    await this.login(authcid, password);
  }

  private async login(username: string, password: string) {
    const result = await loginMailbox(this.core, { username, password, ip: this.remoteAddress, door: 'pop3' });
    if (this.state !== 'authorization') return;
    if (!result.ok) {
      if (result.reason === 'suspended') {
        this.send(`-ERR [SYS/PERM] ${result.message}; logins are refused`);
      } else if (result.reason === 'locked') {
        const minutes = Math.max(1, Math.ceil((result.retryAfterSeconds ?? 60) / 60));
        this.send(`-ERR [SYS/TEMP] Too many failed logins; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
      } else {
        this.send('-ERR [AUTH] Invalid user name or password');
      }
      if (++this.authFailures >= this.opts.maxAuthFailures) this.close();
      return;
    }
    const release = lockMaildrop(result.mailbox.id);
    if (!release) return void this.send('-ERR [IN-USE] The maildrop is already open in another POP3 session');
    try {
      this.drop = await Maildrop.open(this.core, result.mailbox);
    } catch (err) {
      release();
      throw err;
    }
    if (this.state !== 'authorization') {
      // Closed while the maildrop was opening.
      release();
      this.drop = null;
      return;
    }
    this.release = release;
    this.state = 'transaction';
    const { count, octets } = this.drop.live();
    this.send(`+OK Logged in: ${count} messages (${octets} octets)`);
  }

  private stls(args: string[]) {
    if (args.length) return this.bad('Syntax: STLS');
    if (this.secure) return void this.send('-ERR Already under TLS');
    if (!this.opts.tls) return void this.send('-ERR TLS is not available');
    this.send('+OK Begin TLS negotiation');
    const plain = this.socket;
    plain.off('data', this.onData);
    if (plain.isPaused()) plain.resume();
    // RFC 2595 §4 / RFC 3207 §6: forget anything the client sent before the handshake.
    this.queue = [];
    this.reader.reset();
    this.user = null;
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.opts.tls });
    this.socket = secure;
    this.secure = true;
    this.attach(secure);
  }

  // ---- TRANSACTION ------------------------------------------------------------------------

  private async retr(drop: Maildrop, n: number) {
    const msg = drop.get(n)!;
    const stream = drop.stream(msg);
    const encoder = new CrlfEncoder(true);
    // Open the blob before the +OK, so a missing one is a clean -ERR rather than a cut response.
    const opened = await new Promise<Error | null>((resolve) => {
      stream.once('readable', () => resolve(null));
      stream.once('error', (err) => resolve(err));
    });
    if (opened) {
      stream.destroy();
      return void this.send('-ERR [SYS/TEMP] The message cannot be read now');
    }
    await this.write(Buffer.from(`+OK ${msg.size} octets\r\n`));
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (this.state === 'closed') break;
        await this.write(encoder.push(chunk));
      }
    } catch (err) {
      // Part of the message was sent: the response cannot be finished correctly; end the session.
      this.core.log.error({ err, door: 'pop3' }, 'pop3 RETR read failed');
      stream.destroy();
      this.close();
      return;
    }
    await this.write(Buffer.concat([encoder.end(), Buffer.from('.\r\n')]));
    msg.retrieved = true;
  }

  private async top(drop: Maildrop, n: number, lines: number) {
    const msg = drop.get(n)!;
    let raw: Buffer;
    try {
      raw = await drop.read(msg);
    } catch {
      return void this.send('-ERR [SYS/TEMP] The message cannot be read now');
    }
    const crlf = new CrlfEncoder(false);
    const normal = Buffer.concat([crlf.push(raw), crlf.end()]);
    const stuffing = new CrlfEncoder(true);
    const part = stuffing.push(topOf(normal, lines));
    await this.write(Buffer.concat([Buffer.from('+OK Top of message follows\r\n'), part, stuffing.end(), Buffer.from('.\r\n')]));
  }

  private async quit() {
    if (this.state === 'transaction' && this.drop) {
      this.state = 'update';
      let text: string;
      try {
        const removed = await this.drop.commitUpdate();
        text = `+OK Bye (${removed} message${removed === 1 ? '' : 's'} deleted)`;
      } catch (err) {
        this.core.log.error({ err, door: 'pop3' }, 'pop3 UPDATE failed');
        text = '-ERR [SYS/TEMP] Some deleted messages were not removed'; // RFC 1939 §6
      }
      this.send(text);
    } else {
      this.send('+OK Bye');
    }
    this.close();
  }
}
