// Logging in to a mailbox from a mail client (IMAP, POP3, submission): the inbox address as user
// name with one of its app passwords, or a workspace user's account password for a mailbox they
// own where the workspace allows it. Throttled per IP and per account like web sign-in.
// CONTRACT (filled by the credentials helper).
import type { Core } from '../core/core.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';

export type MailboxLoginResult =
  | { ok: true; mailbox: Mailbox; via: 'app_password' | 'account_password'; credentialId: string }
  /** 'locked': too many failures (retry later); 'invalid': wrong user or password. */
  | { ok: false; reason: 'invalid' | 'locked'; retryAfterSeconds?: number };

export async function loginMailbox(_core: Core, _input: { username: string; password: string; ip: string | null; door: 'imap' | 'pop3' | 'submission' }): Promise<MailboxLoginResult> {
  throw new Error('not implemented yet');
}
