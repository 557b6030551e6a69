// Unsubscribe links of broadcast messages (RFC 8058 one-click, RFC 2369 List-Unsubscribe).
//
// Implementation notes:
// - The token is sealed by the vault (AES-256-GCM, context `list-unsubscribe`) around the contact
//   and workspace ids: unguessable, bound to both, and it reveals neither the address nor anything
//   else to whoever reads the URL. It does not expire: an old message's link must keep working.
// - A POST of `List-Unsubscribe=One-Click` unsubscribes at once: no sign-in, no confirmation, and a
//   second POST answers the same (idempotent). The contact's `unsubscribed` is the global opt-out
//   every later broadcast checks, so the next broadcast skips the contact.
// - The `mailto:` of List-Unsubscribe is `unsubscribe+<contact id><mac>@<return-path host>` (60
//   characters, under RFC 5321's 64 for a local part): the MX takes it at the sending domain's
//   return-path host only when the MAC (HMAC-SHA256 under an instance secret, over workspace and
//   contact) checks out and the host is a domain of the contact's workspace; any mail to it
//   unsubscribes the contact. The address names the contact id, never the address.
// - The preference page (GET) is plain HTML served by the HTTP door, with topic switches and
//   "unsubscribe from all"; every value put in it is escaped.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { instanceSecret } from '../secrets/instance-secrets.ts';
import { CoreError } from '../core/core.ts';
import { escapeHtml } from './render.ts';
import { setTopic, unsubscribeContact } from './contacts.ts';
import { subscriptionsOf } from './audience.ts';

const CONTEXT = 'list-unsubscribe';
const hex = (uuid: string) => uuid.replace(/-/g, '');
const uuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

export function unsubscribeToken(core: Core, workspaceId: string, contactId: string): string {
  return core.vault.encrypt(hex(contactId) + hex(workspaceId), CONTEXT);
}

export function unsubscribeUrl(core: Core, workspaceId: string, contactId: string): string {
  return `${core.settings.publicUrl}/unsubscribe/${unsubscribeToken(core, workspaceId, contactId)}`;
}

/** The contact and workspace of a token, or a 404 that says nothing more. */
export function openToken(core: Core, token: string): { workspaceId: string; contactId: string } {
  try {
    const plain = core.vault.decrypt(token, CONTEXT);
    if (/^[0-9a-f]{64}$/.test(plain)) return { contactId: uuid(plain.slice(0, 32)), workspaceId: uuid(plain.slice(32)) };
  } catch {}
  throw new CoreError(404, 'not_found', 'This unsubscribe link is not valid.');
}

async function contactOf(core: Core, token: string) {
  const { workspaceId, contactId } = openToken(core, token);
  const c = await core.db.selectFrom('contacts').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', contactId).executeTakeFirst();
  if (!c) throw new CoreError(404, 'not_found', 'This unsubscribe link is not valid.');
  return c;
}

/** RFC 8058 one-click, and "unsubscribe from all" on the preference page. */
export async function oneClickUnsubscribe(core: Core, token: string): Promise<void> {
  const c = await contactOf(core, token);
  await core.store.transaction((tx) => unsubscribeContact(core, tx, c.workspace_id, c.id));
}

/** The preference page's form: which topics stay on (the rest are opted out). */
export async function savePreferences(core: Core, token: string, on: Set<string>): Promise<void> {
  const c = await contactOf(core, token);
  await core.store.transaction(async (tx) => {
    const now = core.clock.now();
    for (const t of await subscriptionsOf(tx, c.workspace_id, c.id)) await setTopic(tx, c.workspace_id, c.id, t.id, on.has(t.id) ? 'opt_in' : 'opt_out', now);
  });
}

export async function preferencePage(core: Core, token: string, notice: string | null): Promise<string> {
  const c = await contactOf(core, token);
  const topics = await subscriptionsOf(core.db, c.workspace_id, c.id);
  const action = `/unsubscribe/${escapeHtml(token)}`;
  const rows = topics
    .map((t) => `<li><label><input type="checkbox" name="topic" value="${escapeHtml(t.id)}"${t.subscription === 'opt_in' ? ' checked' : ''}> ${escapeHtml(t.name)}</label>${t.description ? ` <small>${escapeHtml(t.description)}</small>` : ''}</li>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Email preferences</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}ul{list-style:none;padding:0}li{margin:.5rem 0}</style></head><body>
<h1>Email preferences</h1>
${notice ? `<p role="status"><strong>${escapeHtml(notice)}</strong></p>` : ''}
<p>${c.unsubscribed ? 'You are unsubscribed from all emails.' : 'Choose what you receive.'}</p>
${topics.length ? `<form method="post" action="${action}"><input type="hidden" name="action" value="topics"><ul>${rows}</ul><button type="submit">Save</button></form>` : ''}
<form method="post" action="${action}"><input type="hidden" name="action" value="unsubscribe_all"><button type="submit">Unsubscribe from all</button></form>
</body></html>`;
}

const MAILTO = /^unsubscribe\+([0-9a-f]{32})([0-9a-f]{16})$/i;

async function mac(core: Core, workspaceId: string, contactId: string): Promise<string> {
  const key = await instanceSecret(core, 'list-unsubscribe-mailto');
  return createHmac('sha256', key).update(`${workspaceId}:${contactId}`).digest('hex').slice(0, 16);
}

/** The `mailto:` address that unsubscribes this contact, at the sending domain's return-path host. */
export async function unsubscribeMailto(core: Core, workspaceId: string, contactId: string, returnPathHost: string): Promise<string> {
  return `unsubscribe+${hex(contactId)}${await mac(core, workspaceId, contactId)}@${returnPathHost}`;
}

/**
 * The contact a mailto local part names, when its MAC checks out and one of `workspaceIds` (the
 * workspaces whose domain has this return-path host) owns it; otherwise null.
 */
export async function mailtoContact(core: Core, local: string, workspaceIds: string[]): Promise<{ workspaceId: string; contactId: string } | null> {
  const m = MAILTO.exec(local);
  if (!m) return null;
  const contactId = uuid(m[1].toLowerCase());
  const c = await core.db.selectFrom('contacts').select(['id', 'workspace_id']).where('id', '=', contactId).executeTakeFirst();
  if (!c || !workspaceIds.includes(c.workspace_id)) return null;
  const want = Buffer.from(await mac(core, c.workspace_id, c.id));
  const got = Buffer.from(m[2].toLowerCase());
  return want.length === got.length && timingSafeEqual(want, got) ? { workspaceId: c.workspace_id, contactId: c.id } : null;
}

/** A mail reached a contact's unsubscribe address: unsubscribe it (idempotent). */
export async function unsubscribeByMail(core: Core, tx: Db, workspaceId: string, contactId: string): Promise<void> {
  await unsubscribeContact(core, tx, workspaceId, contactId);
}
