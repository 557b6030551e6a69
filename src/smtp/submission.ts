// The SMTP relay: message submission (RFC 6409) on MAILSTACK_SUBMISSION_PORT with STARTTLS
// (RFC 3207) and on MAILSTACK_SUBMISSIONS_PORT with implicit TLS (RFC 8314 §3.3). A client signs
// in with AUTH PLAIN or LOGIN (RFC 4954; mechanisms RFC 4616 and the LOGIN draft), any user name
// and an API key as the password, as Resend's relay does; the message then enters the same
// pipeline as the send API (src/outbound/accept.ts). A mailbox user signs in with the inbox address
// and an app password instead, and may send only as itself or its aliases (mailbox-sender.ts).
//
// Implementation notes (invariants a newcomer must not break):
// - AUTH exists only under TLS: it is neither advertised in EHLO nor accepted before STARTTLS
//   (538 5.7.0, RFC 4954 §4 "a server SHOULD NOT advertise … PLAIN … unless … TLS"), and no MAIL,
//   RCPT or DATA is accepted before AUTH (530 5.7.0, RFC 4954 §6). After STARTTLS the server forgets
//   everything said before it (RFC 3207 §4.2); smtp-server does that.
// - Failed AUTH is 535 5.7.8 (RFC 4954 §6) and counted by the shared login throttle
//   (src/accounts/login-throttle.ts) per client IP, counted *before* the key is looked up so
//   parallel attempts cannot overrun the limit. A locked IP gets 454 4.7.0 (temporary, RFC 4954 §6).
//   The user name is not a throttle key: it is free-form, and everyone uses the same one ("resend"),
//   so locking it would let anyone lock everyone out.
// - MAIL FROM's domain must be verified in the key's workspace (domainForSending) and a
//   sending_access key limited to a domain is held to it: else 550 5.7.1 (RFC 3463 §3.8). The
//   From header must name exactly one address whose domain is the envelope's or is verified too
//   (and allowed to the key); the message is DKIM-signed with the From domain's key so DMARC aligns.
// - 250 after DATA is sent only after acceptMessage returned: the message is signed, stored
//   (fsynced) and its rows and delivery jobs committed (PRODUCT.md: nothing acknowledged is lost).
//   Any failure before that is a 4xx (try again) or a 5xx (will never work), never a 250.
// - The message as submitted is repaired the way an MSA may (RFC 6409 §8): line ends become CRLF
//   (bare LF or CR), Message-ID (§8.3) and Date (§8.2) are added when missing, Bcc is removed
//   (RFC 5322 §3.6.3), and a Received line without the client's address is prepended. NUL bytes are
//   refused (554 5.6.0): no part of the pipeline (DKIM, PostgreSQL text) can carry them.
// - Envelope recipients are what is delivered; each is `to`/`cc` when the header names it, else
//   `bcc` (an envelope-only recipient). Recipient limit 452 4.5.3 (RFC 5321 §4.5.3.1.10), size
//   limit announced with SIZE and enforced with 552 (RFC 1870, RFC 5321 §4.5.3.1.9).
// - smtp-server prefixes replies with an enhanced code chosen from the reply code alone (550 →
//   5.1.1, which would be wrong for a policy refusal). Our own replies carry their code in the
//   text; the per-connection send() wrapper then suppresses the automatic one.
// - Which kind of sign-in: a password starting with `ms_` is an API key (behaviour above, unchanged);
//   anything else is a mailbox login (loginMailbox: throttled per IP *and* per mailbox, 535 / 454
//   like the key path). A mailbox user's MAIL FROM and every From address must be its own address
//   or one of its aliases, else 550 5.7.1; its message is DKIM-signed with its domain's key and a
//   copy is stored in its Sent folder in the same commit as the outbound rows, before the 250.
// - Stopping: both listeners stop accepting, DATA already being processed is awaited (bounded by
//   MAILSTACK_SHUTDOWN_TIMEOUT), then open sessions get 421 and are closed. A client cut off before
//   its 250 retries: nothing it was told is stored can be lost.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import PostalMime, { addressParser } from 'postal-mime';
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { API_KEY_PREFIX, authenticateApiKey } from '../accounts/api-keys.ts';
import { loginMailbox } from '../accounts/mailbox-login.ts';
import { inboxSuspension, suspensionText, workspaceSuspension } from '../privacy/gates.ts';
import { attemptFailed, attemptSucceeded, beginAttempt } from '../accounts/login-throttle.ts';
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import { SendingRefused } from '../abuse/sending.ts';
import { newId } from '../core/ids.ts';
import { type SendingDomain, domainForSending } from '../domains/domains.ts';
import { type AcceptInput, type AttachmentMeta, acceptMessage, blobStore } from '../outbound/accept.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { acceptWithSentCopy, mailboxSenderAlive, senderAddresses } from './mailbox-sender.ts';
import { metricsOf } from '../metrics/metrics.ts';

/** Who signed in on a session (session.user). */
interface RelayUser {
  keyId: string;
  keyName: string;
  workspaceId: string;
  /** Set for a sending_access key held to one domain. */
  domainId: string | null;
  /** Set when a mailbox user signed in (then keyId is ''): it sends as itself or its aliases only. */
  mailbox?: { id: string; address: string; appPasswordId: string | null };
}

/** An error smtp-server answers with `code text`; the text starts with the enhanced code. */
function reply(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** smtp-server's connection, as far as this module touches it. */
interface Connection {
  secure: boolean;
  send(code: number, data?: string | string[], context?: string | false): void;
  close(): void;
}

class RelayServer extends SMTPServer {
  /**
   * Adjusts each new connection's replies: our texts carry their own enhanced code (RFC 2034),
   * and AUTH is left out of EHLO until the session is under TLS (RFC 4954 §4, RFC 3207 §4.2).
   */
  override connect(socket: Socket | TLSSocket, socketOptions?: any): void {
    super.connect(socket, socketOptions);
    let conn: Connection | undefined;
    for (const c of this.connections) conn = c as unknown as Connection;
    if (!conn) return;
    const c = conn;
    const send = c.send.bind(c);
    c.send = (code, data, context) => {
      if (typeof data === 'string' && ENHANCED.test(data)) return send(code, data, false);
      if (Array.isArray(data) && code === 250 && !c.secure) data = data.filter((line) => !/^AUTH\b/i.test(line));
      return send(code, data, context);
    };
  }
}

export interface SubmissionDoors {
  /** Bound ports (0 when that door is disabled). */
  ports: { submission: number; submissions: number };
  stop(): Promise<void>;
}

/** Opens the submission doors the settings ask for; returns null when both are disabled. */
export async function startSubmission(core: Core): Promise<SubmissionDoors | null> {
  const { submissionPort, submissionsPort } = core.settings;
  if (submissionPort === 0 && submissionsPort === 0) return null;
  const log = core.log.child({ door: 'submission' });
  const tls = loadTlsMaterial(core.settings);
  const inflight = new Set<Promise<unknown>>();
  const servers: RelayServer[] = [];
  const ports = { submission: 0, submissions: 0 };

  const options = (secure: boolean): SMTPServerOptions => ({
    secure,
    key: tls.key,
    cert: tls.cert,
    minVersion: 'TLSv1.2',
    name: core.settings.hostname,
    banner: 'Mailstack submission (RFC 6409); AUTH with an API key as the password',
    logger: false,
    hideSTARTTLS: false,
    allowInsecureAuth: false,
    authOptional: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authRequiredMessage: '5.7.0 Authentication required: sign in with AUTH (any user name, an API key as the password)',
    size: core.settings.maxMessageBytes,
    disabledCommands: secure ? ['STARTTLS'] : [],
    hideDSN: true,
    hideREQUIRETLS: true,
    socketTimeout: 5 * 60_000,
    closeTimeout: core.settings.shutdownTimeoutMs,
    onConnect: (_session, callback) => (metricsOf(core).sessionOpened('submission'), callback()),
    onClose: () => metricsOf(core).sessionClosed('submission'),
    onAuth: (auth, session, callback) => {
      onAuth(core, auth, session).then((user) => callback(null, { user }), (err) => callback(err));
    },
    onMailFrom: (address, session, callback) => {
      onMailFrom(core, address, session).then(() => callback(), (err) => callback(err));
    },
    onRcptTo: (address, session, callback) => {
      try {
        onRcptTo(core, address, session);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    onData: (stream, session, callback) => {
      const work = onData(core, stream, session).then(
        (emailId) => callback(null, `2.6.0 Queued as ${emailId}`),
        (err) => {
          // Quotas and pause (src/abuse/sending.ts) carry their own SMTP answer.
          if (err instanceof SendingRefused) return callback(reply(err.smtp.code, `${err.smtp.enhanced} ${err.message}`));
          if (!(err as any)?.responseCode) log.error({ err }, 'submission failed');
          callback((err as any)?.responseCode ? err : reply(451, '4.3.0 Local error while storing the message; try again later'));
        },
      );
      inflight.add(work);
      void work.finally(() => inflight.delete(work));
    },
  });

  const listen = async (port: number, secure: boolean) => {
    const server = new RelayServer(options(secure));
    server.on('error', (err: Error & { code?: string }) => {
      // Client errors (bad TLS, resets) are the client's business; keep the server up.
      log.debug({ err: err.message, code: err.code }, 'submission connection error');
    });
    server.listen(port, core.settings.listenAddress);
    await once(server.server, 'listening');
    servers.push(server);
    const addr = server.server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  };

  try {
    if (submissionPort !== 0) ports.submission = await listen(submissionPort, false);
    if (submissionsPort !== 0) ports.submissions = await listen(submissionsPort, true);
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  log.info({ ports, tls: tls.source }, 'submission doors open');

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      // Messages being stored finish and get their answer; then idle sessions are told and closed.
      const deadline = new Promise((resolve) => setTimeout(resolve, core.settings.shutdownTimeoutMs).unref());
      await Promise.race([Promise.allSettled([...inflight]), deadline]);
      for (const s of servers) {
        for (const c of s.connections as Set<unknown>) {
          const conn = c as Connection;
          try {
            conn.send(421, '4.3.2 Service shutting down, try again later');
            conn.close();
          } catch {
            // already gone
          }
        }
      }
      await Promise.race([Promise.all(closed), deadline]);
    })());

  return { ports, stop };
}

// ---- AUTH -----------------------------------------------------------------------------------

async function onAuth(core: Core, auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<RelayUser> {
  if (!session.secure) throw reply(538, '5.7.11 Encryption required: issue STARTTLS first'); // RFC 4954 §6
  if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') throw reply(504, '5.5.4 Unrecognized authentication type');
  const ip = session.remoteAddress || null;
  if (typeof auth.password === 'string' && !auth.password.trim().startsWith(API_KEY_PREFIX)) return mailboxAuth(core, auth, ip);
  try {
    await beginAttempt(core, null, ip);
  } catch (err) {
    if (err instanceof CoreError && err.status === 429) {
      const minutes = Math.max(1, Math.ceil((err.retryAfterSeconds ?? 60) / 60));
      throw reply(454, `4.7.0 Too many failed sign-in attempts from your address; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
    }
    throw err;
  }
  const key = typeof auth.password === 'string' ? await authenticateApiKey(core, auth.password.trim()) : null;
  if (!key) {
    await attemptFailed(core, null, ip);
    metricsOf(core).authFailed('submission');
    throw reply(535, '5.7.8 Authentication credentials invalid: use any user name and an API key as the password');
  }
  await attemptSucceeded(core, `smtp-key:${key.id}`, ip);
  return { keyId: key.id, keyName: key.name, workspaceId: key.workspace_id, domainId: key.domain_id };
}

/** An inbox address and its app password (or its owner's account password where allowed). */
async function mailboxAuth(core: Core, auth: SMTPServerAuthentication, ip: string | null): Promise<RelayUser> {
  const result = await loginMailbox(core, { username: auth.username ?? '', password: auth.password ?? '', ip, door: 'submission' });
  if (!result.ok && result.reason === 'locked') {
    const minutes = Math.max(1, Math.ceil((result.retryAfterSeconds ?? 60) / 60));
    throw reply(454, `4.7.0 Too many failed sign-in attempts; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`);
  }
  if (!result.ok && result.reason === 'suspended') throw reply(535, `5.7.1 ${result.message}; sending is refused`);
  if (!result.ok) throw reply(535, '5.7.8 Authentication credentials invalid: use an inbox address with one of its app passwords, or any user name with an API key');
  const m = result.mailbox;
  return { keyId: '', keyName: m.address, workspaceId: m.workspace_id, domainId: null, mailbox: { id: m.id, address: m.address, appPasswordId: result.via === 'app_password' ? result.credentialId : null } };
}

/** A mailbox user may use only its own address and its aliases (checked afresh: aliases change). */
async function assertMailboxSender(core: Core, user: RelayUser, addresses: string[], what: string): Promise<void> {
  const mailbox = user.mailbox!;
  const allowed = await senderAddresses(core, mailbox.id);
  for (const a of addresses) {
    if (!allowed.has(a.toLowerCase())) {
      throw reply(550, `5.7.1 ${what} ${a.slice(0, 254)} is not yours: this mailbox may send only as ${mailbox.address} or one of its aliases`);
    }
  }
}

function userOf(session: SMTPServerSession): RelayUser {
  const user = session.user as RelayUser | undefined;
  if (!user?.workspaceId) throw reply(530, '5.7.0 Authentication required');
  return user;
}

// ---- MAIL FROM / RCPT TO --------------------------------------------------------------------------

function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return address.slice(at + 1).toLowerCase();
}

/** The sending domain for `domain`, or the 550 that says why it may not be used. */
async function sendingDomain(core: Core, user: RelayUser, domain: string, what: string): Promise<SendingDomain> {
  let sending: SendingDomain;
  try {
    sending = await domainForSending(core, user.workspaceId, domain);
  } catch (err) {
    if (err instanceof CoreError && err.status < 500) {
      throw reply(550, `5.7.1 ${what} domain ${domain.slice(0, 255)} is not a verified domain of this workspace; add and verify it first`);
    }
    throw err;
  }
  if (user.domainId && sending.id !== user.domainId) {
    throw reply(550, `5.7.1 This API key may only send from its own domain, not ${sending.name}`);
  }
  return sending;
}

async function onMailFrom(core: Core, address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
  const user = userOf(session);
  // Suspension is checked on every message, not only at AUTH: it may begin mid-session.
  const suspended = user.mailbox ? await inboxSuspension(core.db, user.mailbox.id) : await workspaceSuspension(core.db, user.workspaceId);
  if (suspended) throw reply(550, `5.7.1 ${suspensionText(suspended)}; sending is refused`);
  if (!address.address) throw reply(550, '5.7.1 The null sender <> cannot submit mail here');
  const domain = domainOf(address.address);
  if (!domain) throw reply(553, '5.1.7 The sender address must be a full address (local@domain)');
  if (user.mailbox) await assertMailboxSender(core, user, [address.address], 'Sender');
  await sendingDomain(core, user, domain, 'Sender');
  // The key must still exist: it may have been removed since AUTH.
  await assertKeyAlive(core, user);
}

async function assertKeyAlive(core: Core, user: RelayUser): Promise<void> {
  if (user.mailbox) {
    if (!(await mailboxSenderAlive(core, user.mailbox.id, user.mailbox.appPasswordId))) throw reply(535, '5.7.8 The mailbox or app password used to sign in has been removed');
    return;
  }
  const key = await core.db.selectFrom('api_keys').select('id').where('id', '=', user.keyId).executeTakeFirst();
  if (!key) throw reply(535, '5.7.8 The API key used to sign in has been removed');
}

function onRcptTo(core: Core, address: SMTPServerAddress, session: SMTPServerSession): void {
  userOf(session);
  if (!domainOf(address.address)) throw reply(553, '5.1.3 The recipient address must be a full address (local@domain)');
  const max = core.settings.maxRecipients;
  const rcpts = session.envelope.rcptTo;
  const key = address.address.toLowerCase();
  if (rcpts.length >= max && !rcpts.some((r) => r.address.toLowerCase() === key)) {
    throw reply(452, `4.5.3 Too many recipients: at most ${max} per message; send the rest in another message`);
  }
}

// ---- DATA -------------------------------------------------------------------------------------

async function readStream(stream: SMTPServerDataStream, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= max) chunks.push(chunk);
  }
  if (stream.sizeExceeded || size > max) return null;
  return Buffer.concat(chunks);
}

interface HeaderField {
  /** Lower-cased name, '' for a line that is not a header field. */
  name: string;
  /** The field's lines, CRLF-joined, without the final CRLF. */
  text: string;
}

/** Splits the header section (latin1 text, CRLF line ends) into fields, keeping folded lines together. */
function headerFields(header: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of header.split('\r\n')) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1].text += '\r\n' + line;
    else {
      const m = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/.exec(line);
      fields.push({ name: m ? m[1].toLowerCase() : '', text: line });
    }
  }
  return fields;
}

const clean = (s: string | null | undefined): string => (s ?? '').replace(/\u0000/g, '');

function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}

type Mailbox = { name?: string; address?: string; group?: Mailbox[] };

/** Every address of a parsed address list, group members included. */
function addressesOf(list: Mailbox[] | undefined): string[] {
  const out: string[] = [];
  for (const m of list ?? []) {
    if (m.group) out.push(...addressesOf(m.group));
    else if (m.address && domainOf(m.address)) out.push(clean(m.address));
  }
  return out;
}

const SENDER_FIELDS = new Set(['sender', 'resent-from', 'resent-sender']);
const HEADER_LABEL: Record<string, string> = { sender: 'Sender', 'resent-from': 'Resent-From', 'resent-sender': 'Resent-Sender' };

async function onData(core: Core, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
  const user = userOf(session);
  const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const raw = await readStream(stream, core.settings.maxMessageBytes);
  // smtp-server answers an oversized message with 552 whatever we say (RFC 1870 §6.2).
  if (raw === null) throw reply(552, `5.3.4 Message too big: the limit is ${core.settings.maxMessageBytes} bytes`);
  if (raw.includes(0)) throw reply(554, '5.6.0 The message contains NUL bytes, which mail may not carry (RFC 5322 §2.3); encode binary content');

  // Line ends: bare LF or CR become CRLF (RFC 5321 §2.3.8 allows only CRLF).
  const text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  const split = text.indexOf('\r\n\r\n');
  const headerText = split === -1 ? text.replace(/\r\n$/, '') : text.slice(0, split);
  const bodyText = split === -1 ? '\r\n' : text.slice(split + 4);
  const fields = headerFields(headerText);

  const fromFields = fields.filter((f) => f.name === 'from');
  if (fromFields.length !== 1) {
    throw reply(554, `5.6.0 The message must have exactly one From header field (RFC 5322 §3.6), it has ${fromFields.length}`);
  }

  const parsed = await PostalMime.parse(Buffer.from(text, 'latin1'));
  const fromAddress = parsed.from?.address && domainOf(parsed.from.address) ? clean(parsed.from.address) : null;
  if (!fromAddress) throw reply(554, '5.6.0 The From header field must hold one address (local@domain)');

  const envelopeDomain = domainOf(envelopeFrom);
  if (!envelopeDomain) throw reply(503, '5.5.1 MAIL FROM first');
  const envelopeSending = await sendingDomain(core, user, envelopeDomain, 'Sender');
  if (user.mailbox) {
    // Every address of the From field, not just the first one the parser shows.
    const field = fromFields[0].text.replace(/^[^:]*:/, '').replace(/\r\n[ \t]+/g, ' ');
    const listed = addressParser(field, { flatten: true }).map((a) => clean(a.address));
    await assertMailboxSender(core, user, [envelopeFrom, ...(listed.length ? listed : [fromAddress])], 'From address');
  }
  // Sender, Resent-From and Resent-Sender (RFC 5322 §3.6.2, §3.6.6) name who sends as much as From
  // does: every address in every one of them is held to the same rule (issue 9: a Sender of someone
  // else's went out DKIM-signed).
  for (const f of fields.filter((x) => SENDER_FIELDS.has(x.name))) {
    const field = f.text.replace(/^[^:]*:/, '').replace(/\r\n[ \t]+/g, ' ');
    const listed = addressParser(field, { flatten: true }).map((a) => clean(a.address ?? ''));
    const label = HEADER_LABEL[f.name];
    if (listed.length === 0 || listed.some((a) => !domainOf(a))) throw reply(554, `5.6.0 The ${label} header field must hold addresses (local@domain)`);
    if (user.mailbox) await assertMailboxSender(core, user, listed, `${label} address`);
    else for (const a of listed) if (domainOf(a) !== envelopeSending.name) await sendingDomain(core, user, domainOf(a)!, `${label} header`);
  }
  const fromDomain = domainOf(fromAddress)!;
  const signing = fromDomain === envelopeSending.name ? envelopeSending : await sendingDomain(core, user, fromDomain, 'From header');
  await assertKeyAlive(core, user);

  // The header as it will be sent: Bcc gone (RFC 5322 §3.6.3), Date and Message-ID added when
  // missing (RFC 6409 §8.2, §8.3), a Received line on top (RFC 5321 §4.4) without the client address.
  const now = core.clock.now();
  const kept = fields.filter((f) => f.name !== 'bcc');
  const added: string[] = [];
  const existingId = fields.find((f) => f.name === 'message-id');
  let messageId = existingId ? clean(existingId.text.replace(/^[^:]*:/, '').replace(/\r\n[ \t]+/g, ' ').trim()).slice(0, 900) : '';
  if (!messageId) {
    messageId = `<${newId(now)}@${signing.name}>`;
    added.push(`Message-ID: ${messageId}`);
  }
  if (!fields.some((f) => f.name === 'date')) added.push(`Date: ${rfc5322Date(now)}`);
  const received = `Received: by ${core.settings.hostname} (Mailstack) with ${session.secure ? 'ESMTPSA' : 'ESMTPA'} id ${session.id};\r\n\t${rfc5322Date(now)}`;
  const header = [received, ...kept.map((f) => f.text), ...added].join('\r\n');
  const composed = Buffer.from(`${header}\r\n\r\n${bodyText}`, 'latin1');

  const to = addressesOf(parsed.to as Mailbox[]);
  const cc = addressesOf(parsed.cc as Mailbox[]);
  const toSet = new Set(to.map((a) => a.toLowerCase()));
  const ccSet = new Set(cc.map((a) => a.toLowerCase()));
  const recipients = session.envelope.rcptTo.map((r) => {
    const address = r.address.toLowerCase();
    return { address, kind: toSet.has(address) ? ('to' as const) : ccSet.has(address) ? ('cc' as const) : ('bcc' as const) };
  });
  const bcc = recipients.filter((r) => r.kind === 'bcc').map((r) => r.address);

  const store = blobStore(core);
  const attachments: AttachmentMeta[] = [];
  for (const a of parsed.attachments) {
    const bytes = typeof a.content === 'string' ? Buffer.from(a.content) : Buffer.from(a.content as ArrayBuffer);
    attachments.push({
      id: newId(now),
      filename: a.filename ? clean(a.filename).slice(0, 255) : null,
      content_type: clean(a.mimeType || 'application/octet-stream').slice(0, 255),
      size: bytes.length,
      content_id: a.contentId ? clean(a.contentId).replace(/^<|>$/g, '').slice(0, 255) : null,
      blob_id: await store.put(bytes),
    });
  }

  const fromName = clean(parsed.from?.name);
  const input: AcceptInput = {
    workspaceId: user.workspaceId,
    apiKeyId: user.mailbox ? null : user.keyId,
    source: 'smtp',
    domain: signing,
    fromHeader: fromName ? `${fromName} <${fromAddress}>` : fromAddress,
    fromAddress,
    subject: clean(parsed.subject).slice(0, 998),
    to,
    cc,
    bcc,
    replyTo: addressesOf(parsed.replyTo as Mailbox[] | undefined),
    recipients,
    html: typeof parsed.html === 'string' ? clean(parsed.html) : null,
    text: typeof parsed.text === 'string' ? clean(parsed.text) : null,
    headers: {},
    tags: [],
    attachments,
    raw: composed,
    messageId,
    scheduledAt: null,
  };
  if (user.mailbox) {
    const mailbox = await mailboxSenderAlive(core, user.mailbox.id, user.mailbox.appPasswordId);
    if (!mailbox) throw reply(535, '5.7.8 The mailbox or app password used to sign in has been removed');
    return acceptWithSentCopy(core, input, mailbox);
  }
  return acceptMessage(core, input);
}
