// Magic-link sign-in: a single-use token, valid 15 minutes, stored as its SHA-256, mailed to the
// user. Asking for a link never tells whether the address has an account.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { CoreError } from '../core/core.ts';
import { newId, randomToken, sha256 } from '../core/ids.ts';
import { queueSystemMail } from '../outbound/system-mail.ts';
import { type Client, auditLogin, startSession } from './login.ts';
import { assertNotLocked, recordFailure } from './login-throttle.ts';
import { findUserByEmail, getUser } from './users.ts';

export const MAGIC_LINK_TTL_MS = 15 * 60_000;

/** A new single-use sign-in link for a user (mailed by sendMagicLink; printed by `mailstack dev`). */
export async function createSignInLink(core: Core, userId: string, ip: string | null, db: Db = core.db): Promise<string> {
  const now = core.clock.now();
  const token = randomToken(44);
  await db
    .insertInto('magic_links')
    .values({ id: newId(now), token_hash: sha256(token), user_id: userId, ip, created_at: now, expires_at: now + MAGIC_LINK_TTL_MS, used_at: null })
    .execute();
  return `${core.settings.publicUrl}/login/magic?token=${encodeURIComponent(token)}`;
}

/** Mails a sign-in link to the user with this email, if there is one. */
export async function sendMagicLink(core: Core, rawEmail: string, opts: { ip?: string | null; reason?: 'login' | 'invite'; workspaceId?: string } = {}): Promise<void> {
  const email = rawEmail.trim().toLowerCase();
  const user = await findUserByEmail(core.db, email);
  if (!user || user.disabled_at !== null) return;
  await core.store.transaction(async (tx) => {
    const link = await createSignInLink(core, user.id, opts.ip ?? null, tx);
    const invite = opts.reason === 'invite';
    await queueSystemMail(
      core,
      {
        to: user.email,
        subject: invite ? 'You have been invited to Mailstack' : 'Your Mailstack sign-in link',
        text:
          (invite ? 'You have been added to a workspace on Mailstack.\n\n' : '') +
          `Sign in with this link within 15 minutes:\n\n${link}\n\nThe link works once. If you did not ask for it, ignore this message.\n`,
      },
      tx,
    );
  });
}

/** Spends a magic-link token and opens a session. */
export async function redeemMagicLink(core: Core, client: Client, token: string) {
  await assertNotLocked(core, null, client.ip);
  const now = core.clock.now();
  const hash = sha256(token);
  const spent = await core.db
    .updateTable('magic_links')
    .set({ used_at: now })
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id'])
    .executeTakeFirst();
  const user = spent ? await getUser(core.db, spent.user_id) : undefined;
  if (!user || user.disabled_at !== null) {
    await recordFailure(core, null, client.ip);
    await auditLogin(core, client, user ?? null, user?.email ?? '(magic link)', 'login.failed', { method: 'magic_link', reason: spent ? 'user disabled' : 'invalid, used or expired link' });
    throw new CoreError(401, 'invalid_credentials', 'This sign-in link is invalid, already used or expired. Ask for a new one.');
  }
  return startSession(core, client, user, 'magic_link');
}
