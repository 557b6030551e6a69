// One SMTP client session to a remote MX or the smarthost, as promises over nodemailer's
// `lib/smtp-connection` (which speaks the protocol: EHLO, STARTTLS, AUTH, pipelining, dot-stuffing).
//
// - STARTTLS (RFC 3207): with tls 'opportunistic' it is used whenever the server offers it, the
//   certificate is not verified (RFC 7435: opportunistic security protects against passive
//   listeners only), and a failed STARTTLS command is followed by plaintext. With 'enforced' the
//   server must offer STARTTLS and present a certificate valid for the MX host name, or the
//   session fails (and the delivery is deferred).
// - Every failure becomes an SmtpFailure naming the phase it happened in, so the caller can tell a
//   session that never got going (try the next MX) from an answer to this message (RFC 5321
//   §4.2.1: 2yz done, 4yz try again later, 5yz do not repeat).
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { TLSSocket } from 'node:tls';

/** 'none' is used only to retry a server whose TLS handshake failed (RFC 7435 §3: fall back to cleartext). */
export type TlsPolicy = 'opportunistic' | 'enforced' | 'none';

export interface SmtpTarget {
  /** The address (or host name) to connect to. */
  host: string;
  port: number;
  /** The name the certificate is checked against and sent as SNI: the MX host name. */
  servername?: string;
  /** Implicit TLS from the first byte (smtps://, port 465). */
  secure?: boolean;
  tls: TlsPolicy;
  auth?: { user: string; pass: string } | null;
  /** CAs to verify an enforced certificate against (default: the system's). */
  ca?: string[];
}

export interface SessionOptions {
  /** EHLO name (RFC 5321 §4.1.1.1: our fully qualified host name). */
  name: string;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export type Phase = 'connect' | 'auth' | 'envelope' | 'data' | 'reset';

export class SmtpFailure extends Error {
  constructor(
    message: string,
    readonly phase: Phase,
    /** The SMTP reply code, when the server answered (421, 450, 550 …). */
    readonly responseCode: number | null,
    /** The server's full reply line, when there was one. */
    readonly response: string | null,
    /** nodemailer's error code (ECONNECTION, ETIMEDOUT, ETLS, EENVELOPE …) or the system's. */
    readonly code: string,
    /** The SMTP command that failed, as nodemailer names it (MAIL FROM, RCPT TO, DATA, CONN …). */
    readonly command: string = '',
  ) {
    super(message);
  }

  /** The reply as it should be kept in the log: the server's words, or ours. */
  get text(): string {
    return this.response ?? this.message;
  }
}

function failure(err: any, phase: Phase): SmtpFailure {
  if (err instanceof SmtpFailure) return err;
  const response = typeof err?.response === 'string' ? err.response.replace(/\s+/g, ' ').trim() : null;
  const responseCode = typeof err?.responseCode === 'number' ? err.responseCode : null;
  const code = String(err?.originalCode ?? err?.code ?? 'EUNKNOWN');
  return new SmtpFailure(String(err?.message ?? err), phase, responseCode, response, code, String(err?.command ?? ''));
}

export interface SendResult {
  /** The final reply to the message (250 …). */
  response: string;
}

/** An open, greeted (and possibly TLS-protected and authenticated) session. */
export class SmtpSession {
  /** Messages sent through this session so far. */
  messages = 0;
  /** True once the session may not be used again (closed, or left in an unknown state). */
  broken = false;
  readonly openedAt = Date.now();
  private closed: Promise<SmtpFailure>;
  private lastError: SmtpFailure | null = null;

  private constructor(
    private readonly conn: SMTPConnection,
    readonly target: SmtpTarget,
  ) {
    // nodemailer emits 'error' and then 'end'; without a listener an 'error' would crash the process.
    this.closed = new Promise<SmtpFailure>((resolve) => {
      conn.on('error', (err: unknown) => {
        this.broken = true;
        this.lastError = failure(err, 'connect');
      });
      conn.once('end', () => {
        this.broken = true;
        resolve(this.lastError ?? new SmtpFailure('the server closed the connection', 'connect', null, null, 'ECONNECTION'));
      });
    });
    this.closed.catch(() => {});
  }

  /** Connects, reads the greeting, sends EHLO, upgrades with STARTTLS when offered, and logs in. */
  static async open(target: SmtpTarget, opts: SessionOptions): Promise<SmtpSession> {
    const enforced = target.tls === 'enforced';
    const conn = new SMTPConnection({
      host: target.host,
      port: target.port,
      secure: target.secure ?? false,
      servername: target.servername,
      name: opts.name,
      // RFC 3207: opportunistic unless the domain demands TLS.
      opportunisticTLS: !enforced,
      requireTLS: enforced && !target.secure,
      ignoreTLS: target.tls === 'none',
      tls: { rejectUnauthorized: enforced, servername: target.servername, minVersion: 'TLSv1.2', ...(target.ca ? { ca: target.ca } : {}) },
      connectionTimeout: opts.connectionTimeoutMs ?? 30_000,
      greetingTimeout: opts.greetingTimeoutMs ?? 60_000,
      // RFC 5321 §4.5.3.2 allows a server up to 10 minutes for the reply to the end of DATA.
      socketTimeout: opts.socketTimeoutMs ?? 10 * 60_000,
      socketCloseTimeout: 1000,
      logger: false,
    });
    const session = new SmtpSession(conn, target);
    await session.race(new Promise<void>((resolve) => conn.connect(() => resolve())), 'connect');
    if (target.auth) {
      await session.race(
        new Promise<void>((resolve, reject) => conn.login({ user: target.auth!.user, pass: target.auth!.pass }, (err) => (err ? reject(err) : resolve()))),
        'auth',
      );
    }
    return session;
  }

  /** Whether the session is protected by TLS (implicit or STARTTLS). */
  get tlsUsed(): boolean {
    return Boolean(this.conn.secure);
  }

  /** The TLS protocol in use, e.g. TLSv1.3, for the log. */
  get tlsProtocol(): string | null {
    const s = this.conn._socket as TLSSocket | null | false;
    return s && typeof s.getProtocol === 'function' ? s.getProtocol() : null;
  }

  /** Runs one step, failing as soon as the connection drops, whichever comes first. */
  private async race<T>(step: Promise<T>, phase: Phase): Promise<T> {
    try {
      return await Promise.race([step, this.closed.then((f) => Promise.reject(f))]);
    } catch (err) {
      const f = failure(err, phase);
      // An error in the middle of a transaction leaves the session in an unknown state.
      this.broken = true;
      if (phase === 'connect' || phase === 'auth') this.close();
      throw f.phase === phase ? f : new SmtpFailure(f.message, phase, f.responseCode, f.response, f.code, f.command);
    }
  }

  /** One transaction: MAIL FROM, RCPT TO, DATA (RFC 5321 §3.3). */
  async send(from: string, to: string, message: Buffer): Promise<SendResult> {
    if (this.broken) throw new SmtpFailure('the session is closed', 'connect', null, null, 'ECONNECTION');
    this.messages++;
    let info: SMTPConnection.SentMessageInfo;
    try {
      info = await this.race(
        new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
          this.conn.send({ from, to: [to], size: message.length }, message, (err, res) => (err ? reject(err) : resolve(res!))),
        ),
        'data',
      );
    } catch (err) {
      const f = err as SmtpFailure;
      // nodemailer names the command that failed; MAIL FROM and RCPT TO answers are the envelope's.
      const phase: Phase = /MAIL|RCPT/.test(f.command) ? 'envelope' : 'data';
      // A reply to the transaction (not a dropped socket) leaves the session usable after RSET.
      if (f.responseCode && f.responseCode !== 421 && !this.closedNow()) this.broken = false;
      throw new SmtpFailure(f.message, phase, f.responseCode, f.response, f.code, f.command);
    }
    if (info.rejected?.length) {
      // Only one recipient per transaction, so this is the all-rejected case nodemailer reports above;
      // kept as a guard.
      const e = info.rejectedErrors?.[0] as any;
      throw failure(e ?? new Error(`recipient rejected: ${to}`), 'envelope');
    }
    return { response: (info.response ?? '').replace(/\s+/g, ' ').trim() };
  }

  private closedNow(): boolean {
    return (this.conn as any)._destroyed === true || (this.conn as any).destroyed === true;
  }

  /** RSET before reusing the session for another message (RFC 5321 §4.1.1.5). */
  async reset(): Promise<void> {
    if (this.broken) throw new SmtpFailure('the session is closed', 'reset', null, null, 'ECONNECTION');
    await this.race(new Promise<void>((resolve, reject) => this.conn.reset((err) => (err ? reject(err) : resolve()))), 'reset');
  }

  /** QUIT and close (RFC 5321 §4.1.1.10); a broken session is just closed. Safe to call twice. */
  close(): void {
    const wasUsable = !this.broken;
    this.broken = true;
    try {
      if (wasUsable) {
        // QUIT closes the connection on its reply; if no reply comes, close anyway.
        this.conn.quit();
        setTimeout(() => this.conn.close(), 2000).unref();
      } else {
        this.conn.close();
      }
    } catch {
      // already closed
    }
  }
}
