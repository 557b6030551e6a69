// The inbound MX door on MAILSTACK_SMTP_PORT (RFC 5321 server): today it takes bounces (RFC 3464
// DSNs) and complaints (RFC 5965 ARF reports) at our return-path addresses; the receiving issue
// extends the same door into hosted mailboxes by adding target kinds to src/inbound/route.ts.
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
// - STARTTLS (RFC 3207) with the node's TLS material (configured or self-signed). Opportunistic:
//   remote MTAs may send in clear text, as RFC 3207 §4 allows for public MX hosts.
// - Replies carry RFC 3463 enhanced codes in their text. smtp-server would add its own code per
//   reply number if ENHANCEDSTATUSCODES were advertised (RFC 2034), which gives 5.1.1 to every 550;
//   until the door picks codes itself, the extension is not advertised.
// - Hostile input never throws out of a handler: router and handler errors become 451 replies and
//   a log line; the MIME parser runs with limits (src/inbound/reports.ts).
// - Limits: recipients per message (452 4.5.3 past it, RFC 5321 §4.5.3.1.10), concurrent clients,
//   and the RFC 5321 §4.5.3.2 server timeout of 5 minutes.
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { SMTPServer } from 'smtp-server';
import type { Core } from '../core/core.ts';
import { type InboundTarget, deliverInbound, routeRecipient } from '../inbound/route.ts';
import type { TlsMaterial } from '../tls/certificate.ts';

/** The default when no limit is passed (the platform passes MAILSTACK_MAX_MESSAGE_BYTES). */
export const MX_MAX_MESSAGE_BYTES = 50 * 1024 * 1024;
export const MX_MAX_RECIPIENTS = 100;
const MX_MAX_CLIENTS = 500;
const SERVER_TIMEOUT_MS = 5 * 60 * 1000;

export interface MxOptions {
  port: number;
  host: string;
  tls: TlsMaterial;
  maxMessageBytes?: number;
  maxRecipients?: number;
  /** How long close() waits for sessions to end before cutting them (default 30 s). */
  closeTimeoutMs?: number;
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

export async function startMx(core: Core, opts: MxOptions): Promise<MxDoor> {
  const log = core.log.child({ door: 'smtp-mx' });
  const maxBytes = opts.maxMessageBytes ?? MX_MAX_MESSAGE_BYTES;
  const state = new WeakMap<SMTPServerSession, SessionState>();
  const stateOf = (session: SMTPServerSession) => {
    let s = state.get(session);
    if (!s) state.set(session, (s = { targets: [] }));
    return s;
  };

  const server = new SMTPServer({
    name: core.settings.hostname,
    banner: 'Mailstack ESMTP MX',
    secure: false,
    key: opts.tls.key,
    cert: opts.tls.cert,
    size: maxBytes,
    maxRecipients: opts.maxRecipients ?? MX_MAX_RECIPIENTS,
    maxClients: MX_MAX_CLIENTS,
    socketTimeout: SERVER_TIMEOUT_MS,
    closeTimeout: opts.closeTimeoutMs ?? 30_000,
    // No AUTH on an MX: nothing here may submit mail for relaying.
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideSMTPUTF8: false,
    logger: false,

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
      let bytes = 0;
      let over = false;
      let finished = false;
      const finish = (err: Reply | null, text?: string) => {
        if (finished) return;
        finished = true;
        callback(err, text);
      };
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        // Past the limit, keep reading (the client is still sending) but keep nothing.
        if (bytes > maxBytes) over = true;
        if (!over) chunks.push(chunk);
        else chunks.length = 0;
      });
      stream.on('error', (err) => {
        log.info({ err }, 'message stream failed');
        finish(reply(451, '4.3.0 Error reading the message; try again later'));
      });
      stream.on('end', () => {
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
          heloName: session.hostNameAppearsAs ?? null,
        }).then(
          (outcome) => {
            if (outcome.code === 250) finish(null, `${outcome.enhanced} ${outcome.reply}`);
            else finish(reply(outcome.code, `${outcome.enhanced} ${outcome.reply}`));
          },
          (err) => {
            log.error({ err }, 'processing an inbound message failed');
            finish(reply(451, '4.3.0 Local error in processing; try again later'));
          },
        );
      });
    },
  });
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
