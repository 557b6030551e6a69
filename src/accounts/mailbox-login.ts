// Logging in to a mailbox from a mail client (IMAP, POP3, submission): the inbox address as user
// name with one of its app passwords, or a workspace user's account password for a mailbox they
// own where the workspace allows it. Throttled per IP and per account like web sign-in.
//
// Implementation notes (invariants a newcomer must not break):
// - Every attempt is counted by the shared login throttle *before* any check (beginAttempt), under
//   the account key `mailbox:<address>` and the client IP, so parallel attempts cannot outrun the
//   limit (src/accounts/login-throttle.ts). A lock answers 'locked' with retryAfterSeconds; the
//   door turns it into its own temporary refusal. A success clears the account's count.
// - App passwords are random tokens stored as SHA-256 (src/accounts/app-passwords.ts); the typed
//   password is canonicalised (spaces and dashes dropped, lower-cased) before hashing, and compared
//   with every live app password of the mailbox in constant time (crypto.timingSafeEqual).
// - The account password is tried only when the workspace setting `mailbox_account_passwords` is
//   true (default false), the mailbox has an owner_user_id, and that user is enabled and still a
//   member of the mailbox's workspace. It is argon2id (src/accounts/passwords.ts).
// - A closed workspace's mailboxes, and revoked inboxes, cannot be logged in to at all; a suspended
//   one answers 'suspended' (with the reason) once the credentials are proved.
// - Every attempt is audited ('mailbox.login.succeeded' / 'mailbox.login.failed'), in the mailbox's
//   workspace when the mailbox exists; passwords are never logged.
import { timingSafeEqual } from 'node:crypto';
import { audit } from '../audit/audit-log.ts';
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { appPasswordHash, mailboxAccountPasswordsAllowed } from './app-passwords.ts';
import { attemptFailed, attemptSucceeded, beginAttempt } from './login-throttle.ts';
import { verifyPassword } from './passwords.ts';
import { metricsOf } from '../metrics/metrics.ts';
import { inboxSuspension, suspensionText } from '../privacy/gates.ts';

export type MailboxLoginResult =
  | { ok: true; mailbox: Mailbox; via: 'app_password' | 'account_password'; credentialId: string }
  /**
   * 'locked': too many failures (retry later); 'invalid': wrong user or password; 'suspended': right
   * credentials, but the inbox or its workspace is suspended (`message` says so).
   */
  | { ok: false; reason: 'invalid' | 'locked' | 'suspended'; retryAfterSeconds?: number; message?: string };

export type MailboxDoor = 'imap' | 'pop3' | 'submission';

/** The throttle's account key for a mailbox user name (kept apart from web sign-in's emails). */
export function mailboxThrottleAccount(address: string): string {
  return `mailbox:${address}`;
}

const MAX_USERNAME = 320; // RFC 5321 §4.5.3.1: 64 + 1 + 255
const MAX_PASSWORD = 1024;

export async function loginMailbox(core: Core, input: { username: string; password: string; ip: string | null; door: MailboxDoor }): Promise<MailboxLoginResult> {
  const username = String(input.username ?? '').trim().toLowerCase();
  const password = String(input.password ?? '');
  const ip = input.ip || null;
  // A user name no mailbox can have is still counted (per IP), never looked up.
  const plausible = username.length > 2 && username.length <= MAX_USERNAME && username.includes('@') && !username.includes('\u0000');
  const account = plausible ? mailboxThrottleAccount(username) : null;

  try {
    await beginAttempt(core, account, ip);
  } catch (err) {
    if (err instanceof CoreError && err.status === 429) {
      const mailbox = plausible ? await findMailbox(core, username) : undefined;
      await auditAttempt(core, input.door, ip, username, mailbox, 'mailbox.login.failed', { reason: 'locked' });
      return { ok: false, reason: 'locked', retryAfterSeconds: err.retryAfterSeconds ?? 60 };
    }
    throw err;
  }

  const mailbox = plausible ? await findMailbox(core, username) : undefined;
  let result: { via: 'app_password' | 'account_password'; credentialId: string } | null = null;
  if (mailbox && password.length > 0 && password.length <= MAX_PASSWORD && !password.includes('\u0000')) {
    result = (await checkAppPassword(core, mailbox, password)) ?? (await checkAccountPassword(core, mailbox, password));
  }

  if (!mailbox || !result) {
    await attemptFailed(core, account, ip);
    metricsOf(core).authFailed(input.door);
    await auditAttempt(core, input.door, ip, username, mailbox, 'mailbox.login.failed', { reason: 'invalid' });
    return { ok: false, reason: 'invalid' };
  }

  await attemptSucceeded(core, account!, ip);
  // Only told to someone who proved the credentials: a stranger learns nothing about the inbox.
  const suspended = await inboxSuspension(core.db, mailbox.id);
  if (suspended) {
    await auditAttempt(core, input.door, ip, username, mailbox, 'mailbox.login.failed', { reason: 'suspended' });
    return { ok: false, reason: 'suspended', message: suspensionText(suspended) };
  }
  if (result.via === 'app_password') {
    await core.db.updateTable('app_passwords').set({ last_used_at: core.clock.now() }).where('id', '=', result.credentialId).execute();
  }
  await auditAttempt(core, input.door, ip, username, mailbox, 'mailbox.login.succeeded', { via: result.via, credential_id: result.credentialId });
  return { ok: true, mailbox, via: result.via, credentialId: result.credentialId };
}

/** The mailbox with this address, if its workspace is open. */
async function findMailbox(core: Core, address: string): Promise<Mailbox | undefined> {
  return core.db
    .selectFrom('mailboxes')
    .innerJoin('workspaces', 'workspaces.id', 'mailboxes.workspace_id')
    .selectAll('mailboxes')
    .where('mailboxes.address', '=', address)
    .where('workspaces.closed_at', 'is', null)
    // A revoked inbox name can no longer be logged in to (src/privacy/suspension.ts).
    .where('mailboxes.revoked_at', 'is', null)
    .executeTakeFirst();
}

async function checkAppPassword(core: Core, mailbox: Mailbox, password: string): Promise<{ via: 'app_password'; credentialId: string } | null> {
  const rows = await core.db.selectFrom('app_passwords').select(['id', 'password_hash']).where('mailbox_id', '=', mailbox.id).execute();
  const typed = Buffer.from(appPasswordHash(password), 'hex');
  let found: string | null = null;
  // Compare with every one (no early exit) so the time does not depend on which matched.
  for (const row of rows) {
    const stored = Buffer.from(row.password_hash, 'hex');
    if (stored.length === typed.length && timingSafeEqual(stored, typed) && found === null) found = row.id;
  }
  return found ? { via: 'app_password', credentialId: found } : null;
}

async function checkAccountPassword(core: Core, mailbox: Mailbox, password: string): Promise<{ via: 'account_password'; credentialId: string } | null> {
  if (!mailbox.owner_user_id) return null;
  const ws = await core.db.selectFrom('workspaces').select('settings').where('id', '=', mailbox.workspace_id).executeTakeFirst();
  if (!ws || !mailboxAccountPasswordsAllowed(ws.settings)) return null;
  const user = await core.db
    .selectFrom('users')
    .innerJoin('memberships', 'memberships.user_id', 'users.id')
    .select(['users.id', 'users.password_hash', 'users.disabled_at'])
    .where('users.id', '=', mailbox.owner_user_id)
    .where('memberships.workspace_id', '=', mailbox.workspace_id)
    .executeTakeFirst();
  if (!user || user.disabled_at !== null) return null;
  return (await verifyPassword(user.password_hash, password)) ? { via: 'account_password', credentialId: user.id } : null;
}

async function auditAttempt(core: Core, door: MailboxDoor, ip: string | null, username: string, mailbox: Mailbox | undefined, action: string, data: Record<string, unknown>) {
  await audit(
    core,
    // The user name is whatever the client sent: no control characters (PostgreSQL text cannot hold NUL).
    { type: 'user', id: null, label: username.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 254), ip, userAgent: null },
    { workspaceId: mailbox?.workspace_id ?? null, action, targetType: 'mailbox', targetId: mailbox?.id ?? null, data: { door, ...data } },
  );
}
