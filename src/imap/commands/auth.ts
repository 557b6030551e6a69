// Connection and login commands: CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE PLAIN,
// ENABLE, NAMESPACE (RFC 9051 §6.1–§6.3, RFC 2971 ID, RFC 4959 SASL-IR, RFC 5161 ENABLE,
// RFC 6855 UTF8=ACCEPT).
import { loginMailbox } from '../../accounts/mailbox-login.ts';
import { type Command, type Completion, type Session, no, ok } from '../session.ts';
import { Bad, stringOf } from '../syntax.ts';

/** What we offer after login (and, for clients that read it early, before). RFC 9051 §7.2.2. */
export function capabilities(s: Session): string {
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE'];
  if (s.state === 'notauth') {
    if (!s.secure) caps.push('STARTTLS');
    if (s.secure || s.core.settings.allowPlaintextAuth) caps.push('AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
  }
  caps.push(
    'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES',
    'LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE', 'STATUS=SIZE', 'QUOTA', 'QUOTA=RES-STORAGE', 'BINARY',
    'UTF8=ACCEPT', 'MULTIAPPEND', `APPENDLIMIT=${s.door.maxMessageBytes}`, 'SORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES',
  );
  return caps.join(' ');
}

export async function capability(s: Session, cmd: Command): Promise<Completion> {
  cmd.args.end();
  s.untagged(`CAPABILITY ${capabilities(s)}`);
  return ok('CAPABILITY completed');
}

export async function noop(s: Session, cmd: Command): Promise<Completion> {
  cmd.args.end();
  // The session re-reads the selected folder after every command: NOOP is the client's poll.
  if (s.selected) s.markDirty();
  return ok(`${cmd.name} completed`);
}

export async function logout(s: Session, cmd: Command): Promise<Completion> {
  cmd.args.end();
  s.untagged('BYE Logging out');
  s.state = 'logout';
  return ok('LOGOUT completed');
}

/** RFC 2971: the client's list is read and ignored; we say who we are. */
export async function id(s: Session, cmd: Command): Promise<Completion> {
  const t = cmd.args.next();
  if (!(t.t === 'list' || (t.t === 'atom' && t.v.toUpperCase() === 'NIL'))) throw new Bad('ID takes a list or NIL');
  if (t.t === 'list' && t.v.length > 60) throw new Bad('ID list too long');
  cmd.args.end();
  s.untagged('ID ("name" "Mailstack" "vendor" "Mailstack")');
  return ok('ID completed');
}

export async function starttls(s: Session, cmd: Command): Promise<Completion | void> {
  cmd.args.end();
  if (s.secure) return { status: 'BAD', text: 'TLS is already active' };
  s.send(`${cmd.tag} OK Begin TLS negotiation now`);
  try {
    await s.startTls();
  } catch {
    s.end();
  }
  // The tagged response went out before the handshake; nothing more to say.
  return { status: 'OK', text: '', code: 'SILENT' };
}

function plaintextRefused(s: Session): Completion | null {
  if (s.secure || s.core.settings.allowPlaintextAuth) return null;
  // RFC 9051 §6.2.3 (LOGINDISABLED) and RFC 5530 PRIVACYREQUIRED.
  return no('Log in after STARTTLS (or over port 993)', 'PRIVACYREQUIRED');
}

async function tryLogin(s: Session, username: string, password: string): Promise<Completion> {
  const result = await loginMailbox(s.core, { username, password, ip: s.ip, door: 'imap' });
  if (result.ok) {
    await s.authenticated(result.mailbox);
    return ok('Logged in', `CAPABILITY ${capabilities(s)}`);
  }
  s.loginFailures++;
  await s.failDelay();
  if (s.loginFailures >= 5) {
    s.untagged('BYE Too many failed logins');
    s.state = 'logout';
  }
  if (result.reason === 'suspended') return no(`${result.message}; logins are refused`, 'UNAVAILABLE');
  if (result.reason === 'locked') return no(`Too many failed logins; try again in ${result.retryAfterSeconds ?? 60} seconds`, 'UNAVAILABLE');
  return no('Invalid user name or password', 'AUTHENTICATIONFAILED');
}

export async function login(s: Session, cmd: Command): Promise<Completion> {
  const user = cmd.args.astring();
  const pass = cmd.args.astring();
  cmd.args.end();
  return plaintextRefused(s) ?? tryLogin(s, user, pass);
}

/** AUTHENTICATE PLAIN with or without an initial response (RFC 4616, RFC 4959, RFC 9051 §6.2.2). */
export async function authenticate(s: Session, cmd: Command): Promise<Completion> {
  const mech = cmd.args.atom().toUpperCase();
  const initial = cmd.args.done ? undefined : stringOf(cmd.args.next());
  cmd.args.end();
  if (mech !== 'PLAIN') return no('Only AUTHENTICATE PLAIN is supported', 'CANNOT');
  const refused = plaintextRefused(s);
  if (refused) return refused;
  let response = initial;
  if (response === undefined) {
    s.send('+ ');
    await s.flush();
    const line = await s.readLine();
    if (line === null) return { status: 'BAD', text: 'Authentication line missing or too long' };
    response = line;
  }
  if (response === '*') return { status: 'BAD', text: 'Authentication cancelled' };
  if (response === '=') response = '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response)) return { status: 'BAD', text: 'Invalid base64' };
  const parts = Buffer.from(response, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) return { status: 'BAD', text: 'Invalid PLAIN response' };
  const [authzid, authcid, password] = parts;
  if (authzid && authzid.toLowerCase() !== authcid.toLowerCase()) {
    await s.failDelay();
    return no('Acting as another user is not allowed', 'AUTHORIZATIONFAILED');
  }
  return tryLogin(s, authcid, password);
}

/** RFC 5161 / RFC 9051 §6.3.1: turns on IMAP4rev2, CONDSTORE, QRESYNC, UTF8=ACCEPT. */
export async function enable(s: Session, cmd: Command): Promise<Completion> {
  // RFC 5161 §3.1 says authenticated state; some clients send it after SELECT, which does no harm.
  if (s.state !== 'auth' && s.state !== 'selected') return { status: 'BAD', text: 'ENABLE needs login first' };
  const names = cmd.args.rest().map((t) => {
    if (t.t !== 'atom') throw new Bad('ENABLE takes capability names');
    return t.v.toUpperCase();
  });
  if (!names.length) throw new Bad('ENABLE needs a capability');
  const now: string[] = [];
  for (const n of names) {
    const known = ['IMAP4REV2', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT'];
    if (!known.includes(n) || s.enabled.has(n)) continue;
    s.enabled.add(n);
    now.push(n === 'IMAP4REV2' ? 'IMAP4rev2' : n);
    // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
    if (n === 'QRESYNC' && !s.enabled.has('CONDSTORE')) s.enabled.add('CONDSTORE');
  }
  s.untagged(`ENABLED${now.length ? ' ' + now.join(' ') : ''}`);
  return ok('ENABLE completed');
}

export async function namespace(s: Session, cmd: Command): Promise<Completion> {
  cmd.args.end();
  // One personal namespace, no prefix, '/' as delimiter (RFC 2342, RFC 9051 §6.3.10).
  s.untagged('NAMESPACE (("" "/")) NIL NIL');
  return ok('NAMESPACE completed');
}
