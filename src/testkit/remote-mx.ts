// For the delivery tests: remote MX hosts played by real SMTP servers (smtp-server) on loopback
// addresses, a verified sending domain published into the test DNS server, and a way to accept a
// composed message the way the send API does.
import { authenticate } from 'mailauth';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { systemActor } from '../core/core.ts';
import type { Core } from '../core/core.ts';
import { createDomain, domainForSending, type SendingDomain } from '../domains/domains.ts';
import type { TestDns } from './dns-server.ts';
import { checkDomain } from '../domains/verify.ts';
import { acceptMessage } from '../outbound/accept.ts';

export interface ReceivedMessage {
  /** The smtp-server session id: one per connection. */
  sessionId: string;
  /** 1 for the first transaction on the connection, 2 for the next … */
  transaction: number;
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  user: string | null;
  clientHostname: string;
  /** The client's address as the remote MX saw it. */
  remoteAddress: string;
}

export type Verdict = { code: number; message: string } | null;

export interface MxOptions {
  /** Offer STARTTLS with this certificate (otherwise STARTTLS is not offered). */
  tls?: { key: Buffer; cert: Buffer };
  /** Decide each RCPT TO: null accepts, otherwise the reply. */
  rcpt?: (address: string, attempt: number) => Verdict;
  /** Decide the end of DATA (after the message is read). */
  data?: (to: string[], attempt: number) => Verdict;
  /** Wait this long before answering the end of DATA (a slow MX). */
  dataDelayMs?: number;
  /** Require AUTH with these credentials. */
  auth?: { user: string; pass: string };
}

export interface TestMx {
  host: string;
  port: number;
  messages: ReceivedMessage[];
  /** Connections opened so far. */
  connections: number;
  /** The most connections open at the same moment. */
  maxOpen: number;
  /** Times each recipient address was offered in RCPT TO. */
  rcptAttempts: Map<string, number>;
  close(): Promise<void>;
}

/** A port free on 127.0.0.1, to use on every 127.0.0.x MX of one test file. */
export { freePort } from './server.ts';

function smtpError(v: { code: number; message: string }): Error {
  return Object.assign(new Error(v.message), { responseCode: v.code });
}

export async function startMx(host: string, port: number, opts: MxOptions = {}): Promise<TestMx> {
  const state: TestMx = {
    host,
    port,
    messages: [],
    connections: 0,
    maxOpen: 0,
    rcptAttempts: new Map(),
    close: async () => {},
  };
  let open = 0;
  const dataAttempts = new Map<string, number>();
  const server = new SMTPServer({
    name: `mx.${host}`,
    secure: false,
    hideSTARTTLS: !opts.tls,
    key: opts.tls?.key,
    cert: opts.tls?.cert,
    authOptional: !opts.auth,
    authMethods: ['PLAIN', 'LOGIN'],
    // AUTH is offered only after STARTTLS unless the MX has no TLS.
    allowInsecureAuth: !opts.tls,
    disabledCommands: opts.auth ? [] : ['AUTH'],
    logger: false,
    closeTimeout: 1000,
    onConnect(session, cb) {
      state.connections++;
      open++;
      state.maxOpen = Math.max(state.maxOpen, open);
      cb();
    },
    onClose() {
      open--;
    },
    onAuth(auth, session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
      cb(smtpError({ code: 535, message: '5.7.8 Authentication failed' }));
    },
    onRcptTo(address, session, cb) {
      const a = address.address.toLowerCase();
      const n = (state.rcptAttempts.get(a) ?? 0) + 1;
      state.rcptAttempts.set(a, n);
      const v = opts.rcpt?.(a, n) ?? null;
      cb(v ? smtpError(v) : null);
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        const key = to.join(',');
        const n = (dataAttempts.get(key) ?? 0) + 1;
        dataAttempts.set(key, n);
        const answer = () => {
          const v = opts.data?.(to, n) ?? null;
          if (v) return cb(smtpError(v));
          state.messages.push({
            sessionId: session.id,
            transaction: session.transaction,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to,
            raw: Buffer.concat(chunks),
            secure: session.secure,
            user: (session.user as string | undefined) ?? null,
            clientHostname: session.hostNameAppearsAs,
            remoteAddress: session.remoteAddress,
          });
          cb(null, `2.0.0 Ok: queued as ${session.id}.${session.transaction}`);
        };
        if (opts.dataDelayMs) setTimeout(answer, opts.dataDelayMs);
        else answer();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.on('error', () => {});
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

/** Creates a domain in the workspace, publishes its records in the test DNS, verifies it, returns its sending key. */
export async function verifiedDomain(core: Core, dns: TestDns, workspaceId: string, name: string): Promise<SendingDomain> {
  const created = await createDomain(core, systemActor, workspaceId, { name });
  for (const r of created.records as { name: string; type: string; value: string; priority?: number }[]) {
    const fqdn = r.name === '@' ? name : `${r.name}.${name}`;
    if (r.type === 'TXT') dns.txt(fqdn, r.value);
    else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
  }
  const status = await checkDomain(core, created.id);
  if (status !== 'verified') throw new Error(`domain ${name} did not verify: ${status}`);
  return domainForSending(core, workspaceId, name);
}

/** Composes a message with nodemailer's composer and accepts it for delivery; returns the email id. */
export async function send(
  core: Core,
  workspaceId: string,
  domain: SendingDomain,
  to: string[],
  subject = 'Hello',
  text = 'Hello from Mailstack.\r\n.leading dot line\r\n',
  scheduledAt: number | null = null,
): Promise<string> {
  const from = `sender@${domain.name}`;
  const messageId = `<${Date.now()}.${Math.random().toString(36).slice(2)}@${domain.name}>`;
  const raw = await new MailComposer({ from: `Sender <${from}>`, to, subject, text, messageId, date: new Date() }).compile().build();
  return acceptMessage(core, {
    workspaceId,
    apiKeyId: null,
    source: 'api',
    domain,
    fromHeader: `Sender <${from}>`,
    fromAddress: from,
    subject,
    to,
    cc: [],
    bcc: [],
    replyTo: [],
    recipients: to.map((address) => ({ address, kind: 'to' as const })),
    html: null,
    text,
    headers: {},
    tags: [],
    attachments: [],
    raw,
    messageId,
    scheduledAt,
  });
}

/** Polls `check` until it returns a value (bounded). */
export async function until<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function recipientsOf(core: Core, emailId: string) {
  return core.db.selectFrom('email_recipients').selectAll().where('email_id', '=', emailId).orderBy('address').execute();
}

/** The email.* event types recorded for one email, oldest first. */
export async function eventTypes(core: Core, emailId: string): Promise<string[]> {
  const rows = await core.db.selectFrom('event_records').select(['type', 'payload', 'id']).orderBy('id').execute();
  return rows.filter((r) => JSON.parse(r.payload).data?.email_id === emailId).map((r) => r.type);
}

/** Waits until every recipient of the email has the given status; returns the rows. */
export function untilStatus(core: Core, emailId: string, status: string, ms?: number) {
  return until(
    `${emailId} to be ${status}`,
    async () => {
      const rows = await recipientsOf(core, emailId);
      return rows.length > 0 && rows.every((r) => r.status === status) && rows;
    },
    ms,
  );
}

/**
 * What the remote MX's operator would see checking a message it received: mailauth's SPF, DKIM,
 * DMARC and ARC verdicts, looked up in the test DNS server (the client address and envelope as
 * the remote MX saw them).
 */
export async function authenticateAtRemote(m: ReceivedMessage, dns: TestDns) {
  const resolver = dns.resolver();
  return authenticate(m.raw, {
    ip: m.remoteAddress.replace(/^::ffff:/, ''),
    helo: m.clientHostname,
    sender: m.from || undefined,
    mta: 'mx.remote.test',
    disableBimi: true,
    resolver: (name: string, rr: string) => resolver.resolve(name, rr as 'TXT') as Promise<any>,
  });
}
