// The inbound MX door on MAILSTACK_SMTP_PORT (RFC 5321 server): mail for hosted mailboxes,
// aliases and catch-alls, bounces (RFC 3464 DSNs) and complaints (RFC 5965 ARF reports) at our
// return-path addresses. What an address is and what becomes of a message is src/inbound/route.ts;
// SPF/DKIM/DMARC/ARC is src/inbound/authenticate.ts, called by delivery.
//
// Implementation notes (invariants a newcomer must not break):
// - A thin door: at RCPT it asks the core router (`routeRecipient`) whether the address is ours;
//   after DATA it hands the message to `deliverInbound`. It never decides routing itself.
// - Never relay (RFC 5321 §3.6.2 and §7.1): the router refuses at RCPT every address in a domain
//   we do not serve (550 5.7.1), and an unknown user in a domain we serve gets 550 5.1.1. There is
//   no AUTH on this door (RFC 4954 AUTH belongs to submission, RFC 6409), so no client can unlock
//   relaying.
// - 250 only after commit: the reply to DATA is sent only when `deliverInbound` has returned, i.e.
//   every row it writes is committed. A store failure answers 451 4.3.0 (RFC 3463 §3.4) and the
//   sender keeps the message and retries; nothing acknowledged is lost.
// - SIZE (RFC 1870): the limit is advertised in EHLO and a larger declared SIZE= is refused at MAIL
//   by smtp-server; the bytes actually sent are counted too and a message over the limit is
//   drained (never buffered past the limit) and refused with 552 5.3.4 (RFC 3463 §3.4).
// - The header section (up to the first empty line, RFC 5322 §2.1) is bounded too, by
//   MAILSTACK_MX_MAX_HEADER_BYTES: it is found while the data streams in (`HeaderScanner`, no
//   copy), and past the bound nothing more is kept, the rest is drained and the message refused
//   with 552 5.3.4. Every parser downstream (mailauth, postal-mime, our trace and report readers)
//   works on the header as one string or several, so an unbounded header line costs memory many
//   times its size; a bounded one cannot.
// - STARTTLS (RFC 3207) with the node's TLS material (configured or self-signed). Opportunistic:
//   remote MTAs may send in clear text, as RFC 3207 §4 allows for public MX hosts.
// - ENHANCEDSTATUSCODES (RFC 2034, codes from RFC 3463) is advertised, so every reply but the
//   greeting and EHLO carries exactly one enhanced code. smtp-server adds one per reply number to
//   its own replies (and would give 5.1.1 to every 550); the router's and delivery's replies carry
//   their own in their text (`5.7.1 Relaying denied…`), so `withOwnEnhancedCodes` makes
//   smtp-server add none to a reply text that already starts with one. The door passes the
//   router's and delivery's `{code, enhanced, message}` through unchanged, whatever the code.
// - Hostile input never throws out of a handler: router and handler errors become 451 replies and
//   a log line; the MIME parser runs with limits (src/inbound/reports.ts). smtp-server answers
//   over-long lines (421), unknown or out-of-order commands (500/503) and NUL bytes itself.
// - Limits: recipients per message (452 4.5.3 past it, RFC 5321 §4.5.3.1.10), concurrent clients
//   (maxClients), connections per client address (MAILSTACK_MX_MAX_CONNECTIONS_PER_IP: the extra
//   one gets 421 4.7.0 and is closed, RFC 5321 §3.8), and the RFC 5321 §4.5.3.2 server timeout of
//   5 minutes while the client owes us a command or message data (421 4.4.2, then closed). A
//   client that goes away mid-DATA delivers nothing: smtp-server ends our stream with an error.
// - The client's reverse DNS name (for logs and Received headers) is looked up through
//   MAILSTACK_DNS_SERVERS like every other look-up, with smtp-server's 1.5 s cap.
import { Resolver as CallbackResolver } from 'node:dns';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { SMTPServer } from 'smtp-server';
import type { Core } from '../core/core.ts';
import { deliverInbound, routeRecipient } from '../inbound/route.ts';
import type { InboundTarget } from '../inbound/types.ts';
import { HeaderScanner } from '../inbound/header-section.ts';
import type { TlsMaterial } from '../tls/certificate.ts';
import { metricsOf } from '../metrics/metrics.ts';

/** The default when no limit is passed (the platform passes MAILSTACK_MAX_MESSAGE_BYTES). */
export const MX_MAX_MESSAGE_BYTES = 50 * 1024 * 1024;
export const MX_MAX_RECIPIENTS = 100;
export const MX_MAX_CLIENTS = 500;
/** RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command. */
export const MX_SERVER_TIMEOUT_MS = 5 * 60 * 1000;

export interface MxOptions {
  port: number;
  host: string;
  tls: TlsMaterial;
  maxMessageBytes?: number;
  /** Largest header section accepted (default MAILSTACK_MX_MAX_HEADER_BYTES). */
  maxHeaderBytes?: number;
  maxRecipients?: number;
  /** How long close() waits for sessions to end before cutting them (default 30 s). */
  closeTimeoutMs?: number;
  /** Idle time allowed while the client owes a command or data (default 5 minutes). */
  socketTimeoutMs?: number;
  /** Simultaneous sessions from one client address (default MAILSTACK_MX_MAX_CONNECTIONS_PER_IP). */
  maxConnectionsPerIp?: number;
  /** Simultaneous sessions in all (default 500). */
  maxClients?: number;
}

export interface MxDoor {
  /** The port listened on (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

type Reply = Error & { responseCode?: number };

function reply(code: number, text: string): Reply {
  const err = new Error(text) as Reply;
  err.responseCode = code;
  return err;
}

interface SessionState {
  targets: InboundTarget[];
}

/** An RFC 3463 enhanced status code at the start of a reply text. */
const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;

/**
 * Makes smtp-server add its own enhanced code only to replies whose text has none, so a reply
 * carries one code, the one its author chose (RFC 2034 §3). It hooks each connection as
 * smtp-server registers it in `server.connections` (public in its typings); if that ever changes
 * shape, the extension is simply not advertised rather than sent with doubled codes.
 */
function withOwnEnhancedCodes(server: SMTPServer, log: Core['log']): void {
  const connections = server.connections as Set<unknown> | undefined;
  if (!(connections instanceof Set)) {
    log.warn('smtp-server has no connection set: ENHANCEDSTATUSCODES not advertised');
    server.options.hideENHANCEDSTATUSCODES = true;
    return;
  }
  const add = connections.add.bind(connections);
  connections.add = (connection: any) => {
    const send = connection?.send;
    if (typeof send === 'function' && !connection.__ownEnhancedCodes) {
      connection.__ownEnhancedCodes = true;
      connection.send = (code: number, data?: string | string[] | null, context?: string | false) =>
        send.call(connection, code, data, typeof data === 'string' && ENHANCED_CODE.test(data) ? false : context);
    }
    return add(connection);
  };
}

/** smtp-server's reverse look-up of the client, through the configured DNS servers. */
function reverseResolver(core: Core) {
  const resolver = new CallbackResolver({ timeout: 1000, tries: 1 });
  const servers = core.settings.dnsServers;
  if (servers.length) resolver.setServers(servers.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)));
  return {
    reverse(ip: string, callback: (err: Error | null, hostnames?: string[]) => void) {
      try {
        resolver.reverse(ip, (err, hostnames) => callback(err, hostnames));
      } catch (err) {
        // dns.reverse throws on an address it cannot parse.
        callback(err as Error);
      }
    },
  };
}

export async function startMx(core: Core, opts: MxOptions): Promise<MxDoor> {
  const log = core.log.child({ door: 'smtp-mx' });
  const maxBytes = opts.maxMessageBytes ?? MX_MAX_MESSAGE_BYTES;
  const maxHeaderBytes = opts.maxHeaderBytes ?? core.settings.mxMaxHeaderBytes;
  const state = new WeakMap<SMTPServerSession, SessionState>();
  const stateOf = (session: SMTPServerSession) => {
    let s = state.get(session);
    if (!s) state.set(session, (s = { targets: [] }));
    return s;
  };
  // Sessions per client address, counted from onConnect to onClose.
  const perIpLimit = opts.maxConnectionsPerIp ?? core.settings.mxMaxConnectionsPerIp;
  const perIp = new Map<string, number>();
  const counted = new Map<string, string>();

  const server = new SMTPServer({
    name: core.settings.hostname,
    banner: 'Mailstack ESMTP MX',
    secure: false,
    key: opts.tls.key,
    cert: opts.tls.cert,
    size: maxBytes,
    maxRecipients: opts.maxRecipients ?? MX_MAX_RECIPIENTS,
    maxClients: opts.maxClients ?? MX_MAX_CLIENTS,
    socketTimeout: opts.socketTimeoutMs ?? MX_SERVER_TIMEOUT_MS,
    closeTimeout: opts.closeTimeoutMs ?? 30_000,
    // No AUTH on an MX: nothing here may submit mail for relaying.
    authOptional: true,
    disabledCommands: ['AUTH'],
    // PIPELINING (RFC 2920), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES
    // (RFC 2034); STARTTLS and SIZE come from key/cert and size. No DSN (RFC 3461): we never
    // relay, so there is nothing to notify about beyond our own replies.
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    resolver: reverseResolver(core),
    logger: false,

    onConnect(session, callback) {
      const ip = session.remoteAddress || 'unknown';
      const open = perIp.get(ip) ?? 0;
      if (open >= perIpLimit) {
        log.info({ ip, open }, 'MX connection refused: too many from this address');
        return callback(reply(421, '4.7.0 Too many connections from your address; try again later'));
      }
      perIp.set(ip, open + 1);
      counted.set(session.id, ip);
      metricsOf(core).sessionOpened('smtp-mx');
      callback();
    },

    onClose(session) {
      const ip = counted.get(session.id);
      if (ip === undefined) return;
      counted.delete(session.id);
      metricsOf(core).sessionClosed('smtp-mx');
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left > 0) perIp.set(ip, left);
      else perIp.delete(ip);
    },

    onMailFrom(_address, session, callback) {
      // A new transaction: the recipients of the previous one (RSET, or a second MAIL) are gone.
      stateOf(session).targets = [];
      callback();
    },

    onRcptTo(address, session, callback) {
      routeRecipient(core, address.address).then(
        (decision) => {
          if (!decision.accept) return callback(reply(decision.code, `${decision.enhanced} ${decision.message}`));
          const s = stateOf(session);
          s.targets = s.targets.filter((t) => t.address !== decision.target.address);
          s.targets.push(decision.target);
          callback();
        },
        (err) => {
          log.error({ err }, 'routing a recipient failed');
          callback(reply(451, '4.3.0 Temporary failure looking up the recipient; try again later'));
        },
      );
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      const header = new HeaderScanner();
      let bytes = 0;
      let over = false;
      let headerOver = false;
      let finished = false;
      const finish = (err: Reply | null, text?: string) => {
        if (finished) return;
        finished = true;
        callback(err, text);
      };
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        header.push(chunk);
        if (header.headerBytes > maxHeaderBytes) headerOver = true;
        // Past a limit, keep reading (the client is still sending) but keep nothing.
        if (bytes > maxBytes) over = true;
        if (!over && !headerOver) chunks.push(chunk);
        else chunks.length = 0;
      });
      stream.on('error', (err) => {
        log.info({ err }, 'message stream failed');
        finish(reply(451, '4.3.0 Error reading the message; try again later'));
      });
      stream.on('end', () => {
        if (headerOver) {
          log.info({ bytes, maxHeaderBytes }, 'MX message refused: header section over the limit');
          return finish(reply(552, `5.3.4 Message header section too big for this server (limit ${maxHeaderBytes} bytes)`));
        }
        if (over || stream.sizeExceeded) {
          return finish(reply(552, `5.3.4 Message too big for this server (limit ${maxBytes} bytes)`));
        }
        const targets = stateOf(session).targets;
        stateOf(session).targets = [];
        deliverInbound(core, {
          raw: Buffer.concat(chunks, bytes),
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          targets,
          remoteAddress: session.remoteAddress ?? null,
          heloName: session.hostNameAppearsAs || null,
          // For the Received header: ESMTPS after STARTTLS (RFC 3848), and the reverse-DNS name
          // (smtp-server writes `[ip]` when there is none; the address literal is added anyway).
          secure: session.secure,
          clientHostname: session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : null,
        }).then(
          (outcome) => {
            // Whatever delivery answers (250, 452 4.2.2 over quota, 550 5.7.1 DMARC reject, …)
            // goes out as it is.
            const code: number = outcome.code;
            if (code >= 200 && code < 300) finish(null, `${outcome.enhanced} ${outcome.reply}`);
            else finish(reply(code, `${outcome.enhanced} ${outcome.reply}`));
          },
          (err) => {
            log.error({ err }, 'processing an inbound message failed');
            finish(reply(451, '4.3.0 Local error in processing; try again later'));
          },
        );
      });
    },
  });
  withOwnEnhancedCodes(server, log);
  server.on('error', (err) => log.warn({ err }, 'MX connection error'));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ port, tls: opts.tls.source, maxBytes }, 'MX listening');

  let closing: Promise<void> | null = null;
  return {
    port,
    close: () => (closing ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
