// For tests that need members: the invitation token of the newest invitation mailed to an address,
// read from the queued system mail (the job's sealed text, opened with the node's vault), and a
// helper that invites and accepts the way the invitee would (src/accounts/invitations.ts).
import type { Core } from '../core/core.ts';
import { acceptInvitation } from '../accounts/invitations.ts';
import { SEAL_CONTEXT, SYSTEM_MAIL_JOB } from '../outbound/system-mail.ts';

/** The token in the newest invitation mail queued for `email`. */
export async function invitationToken(core: Core, email: string): Promise<string> {
  const jobs = await core.db.selectFrom('jobs').select(['payload', 'created_at', 'id']).where('kind', '=', SYSTEM_MAIL_JOB).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  for (const j of jobs) {
    const p = JSON.parse(j.payload) as { to: string; text_sealed: string };
    if (p.to.toLowerCase() !== email.toLowerCase()) continue;
    const m = /\/invitations\/accept\?token=([A-Za-z0-9_%-]+)/.exec(core.vault.decrypt(p.text_sealed, SEAL_CONTEXT));
    if (m) return decodeURIComponent(m[1]);
  }
  throw new Error(`no invitation mail queued for ${email}`);
}

/** Accepts the newest invitation of `email` as that person (signed in when it has an account). */
export async function acceptAs(core: Core, email: string): Promise<string> {
  const token = await invitationToken(core, email);
  const user = await core.db.selectFrom('users').select('id').where('email', '=', email.toLowerCase()).executeTakeFirst();
  const joined = await acceptInvitation(core, { ip: '127.0.0.1', userAgent: 'test' }, token, user?.id ?? null);
  return joined.user.id;
}
