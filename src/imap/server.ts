// The IMAP door: IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) on MAILSTACK_IMAP_PORT (STARTTLS,
// RFC 9051 §6.2.1) and MAILSTACK_IMAPS_PORT (implicit TLS, RFC 8314 §3.3), over the one mail store.
//
// Implementation notes (the invariants a newcomer must not break):
// - One command at a time per connection (session.ts): the reader pulls the next command only when
//   the previous one has been answered, so pipelining clients are served in order and a flood is
//   held back by TCP, not by our memory (reader.ts). Limits: 64 KB lines, literals of 64 KB outside
//   APPEND and MAILSTACK_MAX_MESSAGE_BYTES in it, 32 levels of parentheses, a command rate, 20
//   consecutive BADs, 5 failed logins per connection; then BYE. Hostile input is BAD or NO, never
//   an exception out of a handler (every handler error becomes a tagged NO/BAD in session.ts).
// - Never write to a slow client while holding a store lock: every write goes through
//   `mailTransaction` (src/mailstore/changes.ts) and completes before any response is queued;
//   output is flushed (awaiting 'drain') only outside transactions.
// - Changes are broadcast only after commit (`mailTransaction` publishes after COMMIT). A session
//   treats the bus as a wake-up only: what it shows comes from re-reading the store (the folder's
//   HIGHESTMODSEQ, then messages and expunged_messages above the MODSEQ it last showed), so a
//   change made on another node is seen at the next command too, and nothing depends on the order
//   events arrive in.
// - The selected folder is revalidated after every command (session.ts `sync`): new messages give
//   EXISTS, flag changes FETCH (UID FLAGS [MODSEQ]), expunges EXPUNGE — or VANISHED once QRESYNC is
//   enabled (RFC 7162 §3.2.10). A folder deleted under a session ends it with BYE.
// - Untagged EXPUNGE only where allowed: never while answering FETCH, STORE or SEARCH (their UID
//   forms may) (RFC 9051 §7.5.1). Until then the message keeps its sequence number ("deferred").
// - Sequence numbers are positions in the session's own ascending UID list; they change only by
//   EXISTS (append at the end) and EXPUNGE/VANISHED responses, exactly as the client sees them.
// - A session's own STORE/FETCH-\Seen report FLAGS in their responses and remember the MODSEQ so
//   the later re-read does not echo them.
// - Logins: LOGIN and AUTHENTICATE PLAIN are refused before TLS (LOGINDISABLED, NO
//   [PRIVACYREQUIRED], RFC 9051 §6.2.3) unless MAILSTACK_ALLOW_PLAINTEXT_AUTH; credentials and
//   throttling are src/accounts/mailbox-login.ts's; a failure waits `authFailureDelayMs` and
//   answers NO [AUTHENTICATIONFAILED], a lockout NO [UNAVAILABLE] (RFC 5530).
// - Mailbox names are UTF-8 in the store; IMAP4rev1 clients see modified UTF-7 (utf7.ts) until they
//   ENABLE IMAP4rev2 or UTF8=ACCEPT. Delimiter '/', one personal namespace.
// - Autologout after `idleTimeoutMs` without traffic (RFC 9051 §5.4: 30 minutes), which also ends a
//   literal announced and never sent.
import net, { type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Core } from '../core/core.ts';
import type { TlsMaterial } from '../tls/certificate.ts';
import * as auth from './commands/auth.ts';
import * as fetchCmd from './commands/fetch.ts';
import * as folders from './commands/folders.ts';
import * as search from './commands/search.ts';
import * as selectCmd from './commands/select.ts';
import * as storeCmd from './commands/store.ts';
import { type DoorConfig, type Handler, Session } from './session.ts';
import { metricsOf } from '../metrics/metrics.ts';

export interface ImapOptions {
  port: number;
  host: string;
  tls: TlsMaterial;
  /** true: TLS from the first byte (993); false: plain with STARTTLS (143). */
  implicitTls: boolean;
  /** Default 30 minutes (RFC 9051 §5.4). */
  idleTimeoutMs?: number;
  /** Default 1 s. */
  authFailureDelayMs?: number;
  /** Default 500. */
  maxCommandsPerSecond?: number;
  maxMessageBytes?: number;
  maxConnections?: number;
  /** How long close() lets sessions finish their command before cutting them (default 5 s). */
  closeTimeoutMs?: number;
}

export interface ImapDoor {
  port: number;
  close(): Promise<void>;
}

export const HANDLERS: Record<string, Handler> = {
  CAPABILITY: auth.capability,
  NOOP: auth.noop,
  LOGOUT: auth.logout,
  ID: auth.id,
  STARTTLS: auth.starttls,
  LOGIN: auth.login,
  AUTHENTICATE: auth.authenticate,
  ENABLE: auth.enable,
  NAMESPACE: auth.namespace,
  LIST: folders.list,
  LSUB: folders.list,
  STATUS: folders.status,
  CREATE: folders.create,
  DELETE: folders.del,
  RENAME: folders.rename,
  SUBSCRIBE: folders.subscribe,
  UNSUBSCRIBE: folders.subscribe,
  GETQUOTA: folders.getquota,
  GETQUOTAROOT: folders.getquotaroot,
  SETQUOTA: folders.setquota,
  SELECT: selectCmd.select,
  EXAMINE: selectCmd.select,
  CLOSE: selectCmd.close,
  UNSELECT: selectCmd.close,
  CHECK: selectCmd.check,
  EXPUNGE: selectCmd.expunge,
  IDLE: selectCmd.idle,
  FETCH: fetchCmd.fetch,
  STORE: storeCmd.store,
  COPY: storeCmd.copy,
  MOVE: storeCmd.copy,
  APPEND: storeCmd.append,
  SEARCH: search.search,
  SORT: search.sort,
  THREAD: search.thread,
};

export async function startImap(core: Core, opts: ImapOptions): Promise<ImapDoor> {
  const log = core.log.child({ part: opts.implicitTls ? 'imaps' : 'imap' });
  const secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' });
  const door: DoorConfig = {
    core,
    log,
    secureContext,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30 * 60 * 1000,
    authFailureDelayMs: opts.authFailureDelayMs ?? 1000,
    maxCommandsPerSecond: opts.maxCommandsPerSecond ?? 500,
    maxMessageBytes: opts.maxMessageBytes ?? core.settings.maxMessageBytes,
  };
  const sessions = new Set<Session>();
  const maxConnections = opts.maxConnections ?? 2000;

  const serve = (sock: Socket, secure: boolean) => {
    sock.setNoDelay(true);
    if (sessions.size >= maxConnections) {
      sock.end('* BYE Too many connections\r\n');
      return;
    }
    const session = new Session(sock, secure, door, HANDLERS);
    sessions.add(session);
    metricsOf(core).sessionOpened('imap');
    void (async () => {
      try {
        await session.greet(auth.capabilities(session));
        await session.run();
      } catch (err) {
        log.warn({ err }, 'imap session failed');
        session.end();
      } finally {
        sessions.delete(session);
        metricsOf(core).sessionClosed('imap');
      }
    })();
  };

  let server: Server;
  if (opts.implicitTls) {
    server = tls.createServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, (sock) => serve(sock as unknown as Socket, true));
    server.on('tlsClientError', () => {});
  } else {
    server = net.createServer((sock) => serve(sock, false));
  }
  server.on('error', (err) => log.error({ err }, 'imap server error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ port, implicitTls: opts.implicitTls }, 'imap listening');

  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) {
        s.untaggedNow('BYE Server shutting down');
        s.end();
      }
      const deadline = Date.now() + (opts.closeTimeoutMs ?? 5000);
      while (sessions.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of sessions) s.sock.destroy();
      await closed;
    },
  };
}
