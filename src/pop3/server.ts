// The POP3 door: RFC 1939 on MAILSTACK_POP3_PORT (clear, with STLS, RFC 2595) and on
// MAILSTACK_POP3S_PORT (implicit TLS, RFC 8314 §3.3), both serving each mailbox's INBOX.
//
// Implementation notes:
// - The door only accepts connections and hands each to a Pop3Session (session.ts); the
//   protocol lives there, the maildrop snapshot and lock in maildrop.ts, the wire format in wire.ts.
// - Connections per client IP are limited; over the limit a client gets one `-ERR [SYS/TEMP]` line
//   and is closed. TLS handshake failures and socket errors are the client's business and never
//   reach the process.
// - Stopping: listeners close, commands being handled (a QUIT removing messages) are awaited up to
//   the shutdown timeout, then every session is closed without UPDATE (RFC 1939 §6).
import { once } from 'node:events';
import { type Server, type Socket, createServer } from 'node:net';
import { type SecureContext, type TLSSocket, createSecureContext, createServer as createTlsServer } from 'node:tls';
import type { Core } from '../core/core.ts';
import type { TlsMaterial } from '../tls/certificate.ts';
import { Pop3Session, type Pop3SessionOptions } from './session.ts';
import { metricsOf } from '../metrics/metrics.ts';

export interface Pop3DoorOptions {
  /** 0 disables a port. */
  port: number;
  securePort: number;
  host: string;
  tls: TlsMaterial;
  allowPlaintextAuth?: boolean;
  /** RFC 1939 §3 autologout (default 10 minutes); tests shorten it. */
  idleTimeoutMs?: number;
  maxConnectionsPerIp?: number;
  closeTimeoutMs?: number;
}

export interface Pop3Door {
  ports: { pop3: number; pop3s: number };
  close(): Promise<void>;
}

export async function startPop3(core: Core, opts: Pop3DoorOptions): Promise<Pop3Door> {
  const log = core.log.child({ door: 'pop3' });
  const context: SecureContext = createSecureContext({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' });
  const sessionOptions = (): Pop3SessionOptions => ({
    allowPlaintextAuth: opts.allowPlaintextAuth ?? core.settings.allowPlaintextAuth,
    tls: context,
    idleTimeoutMs: opts.idleTimeoutMs ?? 10 * 60_000,
    maxLine: 2048,
    maxBadCommands: 20,
    maxAuthFailures: 5,
  });
  const maxPerIp = opts.maxConnectionsPerIp ?? 20;
  const sessions = new Set<Pop3Session>();
  const perIp = new Map<string, number>();
  const servers: Server[] = [];
  let closing = false;

  const accept = (socket: Socket, secure: boolean) => {
    socket.on('error', () => socket.destroy());
    const ip = socket.remoteAddress ?? 'unknown';
    const count = perIp.get(ip) ?? 0;
    if (closing || count >= maxPerIp) {
      socket.end(closing ? '-ERR [SYS/TEMP] Server shutting down\r\n' : '-ERR [SYS/TEMP] Too many connections from your address\r\n');
      return;
    }
    perIp.set(ip, count + 1);
    let counted = true;
    const session = new Pop3Session(core, socket, secure, sessionOptions(), (s) => {
      sessions.delete(s);
      if (counted) metricsOf(core).sessionClosed('pop3');
      if (counted) {
        counted = false;
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left <= 0) perIp.delete(ip);
        else perIp.set(ip, left);
      }
    });
    sessions.add(session);
    metricsOf(core).sessionOpened('pop3');
  };

  const listen = async (server: Server, port: number) => {
    server.on('error', (err) => log.warn({ err: err.message }, 'pop3 listener error'));
    server.listen(port, opts.host);
    await once(server, 'listening');
    servers.push(server);
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  };

  const ports = { pop3: 0, pop3s: 0 };
  try {
    if (opts.port !== 0) ports.pop3 = await listen(createServer((socket) => accept(socket, false)), opts.port);
    if (opts.securePort !== 0) {
      const tlsServer = createTlsServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, (socket: TLSSocket) => accept(socket, true));
      tlsServer.on('tlsClientError', (err) => log.debug({ err: err.message }, 'pop3s handshake failed'));
      ports.pop3s = await listen(tlsServer, opts.securePort);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  log.info({ ports }, 'pop3 door open');

  let stopping: Promise<void> | null = null;
  const close = () =>
    (stopping ??= (async () => {
      closing = true;
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      const deadline = new Promise((resolve) => setTimeout(resolve, opts.closeTimeoutMs ?? core.settings.shutdownTimeoutMs).unref());
      await Promise.race([Promise.allSettled([...sessions].map((s) => s.busy).filter(Boolean)), deadline]);
      for (const s of [...sessions]) s.shutdown('Server shutting down');
      await Promise.race([Promise.all(closed), deadline]);
    })());

  return { ports, close };
}
