// Open and click tracking of broadcast messages (Resend's `open_tracking` / `click_tracking` on a
// domain, `broadcasts.clickedLinks`, the `email.opened` / `email.clicked` events).
//
// Implementation notes:
// - Off unless the sending domain turned it on (domains.update): with it off a message carries
//   no pixel and its links are left exactly as written.
// - A tracked link is `<public url>/t/c/<token>`, a pixel `<public url>/t/o/<token>`. The token is
//   sealed by the vault (AES-256-GCM, context `broadcast-tracking`) around the broadcast
//   recipient's id and, for a link, its target: it cannot be forged, so the redirect is never an
//   open redirect, and it reveals neither the address nor the target to whoever reads it.
// - The redirect and the pixel answer at once after one transaction that records the event and
//   queues its webhook deliveries; an unknown or damaged token answers 404 (a click on a damaged
//   link cannot be sent anywhere safe).
// - Only http(s) links are rewritten; the unsubscribe link and mailto: are never wrapped, so
//   unsubscribing never depends on the tracker.
import type { Core } from '../core/core.ts';
import { CoreError, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest } from '../db/paginate.ts';
import { emitEvent } from '../events/webhooks.ts';
import { emailEventData } from '../outbound/recipients.ts';

const CONTEXT = 'broadcast-tracking';
const MAX_URL = 2048;
const hex = (uuid: string) => uuid.replace(/-/g, '');
const uuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

/** A transparent 1×1 GIF. */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export interface Tracking {
  open: boolean;
  click: boolean;
}

export async function trackingOf(db: Db, domainId: string): Promise<Tracking> {
  const d = await db.selectFrom('domains').select(['open_tracking', 'click_tracking']).where('id', '=', domainId).executeTakeFirst();
  return { open: d?.open_tracking === 1, click: d?.click_tracking === 1 };
}

function seal(core: Core, recipientId: string, url?: string): string {
  return core.vault.encrypt(hex(recipientId) + (url === undefined ? '' : `|${url}`), CONTEXT);
}

function unseal(core: Core, token: string): { recipientId: string; url: string | null } {
  try {
    const plain = core.vault.decrypt(token, CONTEXT);
    const m = /^([0-9a-f]{32})(?:\|(.*))?$/s.exec(plain);
    if (m) return { recipientId: uuid(m[1]), url: m[2] ?? null };
  } catch {}
  throw new CoreError(404, 'not_found', 'This link is not valid.');
}

const decodeAttr = (v: string) => v.replace(/&(amp|quot|#39|#x27|lt|gt);/gi, (_m, e: string) => ({ amp: '&', quot: '"', '#39': "'", '#x27': "'", lt: '<', gt: '>' })[e.toLowerCase()]!);

/** The rendered HTML of one recipient's message with its links wrapped and/or a pixel added. */
export function addTracking(core: Core, html: string, recipientId: string, tracking: Tracking): string {
  let out = html;
  if (tracking.click) {
    const keep = `${core.settings.publicUrl}/unsubscribe/`;
    out = out.replace(/(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2/gis, (all, pre: string, q: string, raw: string) => {
      const url = decodeAttr(raw.trim());
      if (!/^https?:\/\/[^\s]+$/i.test(url) || url.length > MAX_URL || url.startsWith(keep)) return all;
      return `${pre}${q}${core.settings.publicUrl}/t/c/${seal(core, recipientId, url)}${q}`;
    });
  }
  if (tracking.open) {
    const img = `<img src="${core.settings.publicUrl}/t/o/${seal(core, recipientId)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
    out = /<\/body>/i.test(out) ? out.replace(/<\/body>/i, `${img}</body>`) : out + img;
  }
  return out;
}

interface Seen {
  ip: string;
  userAgent: string;
}

async function record(core: Core, token: string, kind: 'opened' | 'clicked', seen: Seen): Promise<string | null> {
  const { recipientId, url } = unseal(core, token);
  if ((kind === 'clicked') !== (url !== null)) throw new CoreError(404, 'not_found', 'This link is not valid.');
  return core.store.transaction(async (tx) => {
    const r = await tx.selectFrom('broadcast_recipients').selectAll().where('id', '=', recipientId).executeTakeFirst();
    // The broadcast (or the contact's data) was removed since: still send the reader on.
    if (!r) return url;
    const now = core.clock.now();
    await tx.insertInto('broadcast_events').values({ id: newId(now), workspace_id: r.workspace_id, broadcast_id: r.broadcast_id, recipient_id: r.id, kind, url, created_at: now }).execute();
    const email = r.email_id ? await tx.selectFrom('emails').selectAll().where('id', '=', r.email_id).executeTakeFirst() : undefined;
    if (email) {
      const data: Record<string, unknown> = emailEventData(email, [r.email]);
      if (kind === 'clicked') data.click = { ipAddress: seen.ip, link: url, timestamp: new Date(now).toISOString(), userAgent: seen.userAgent.slice(0, 500) };
      await emitEvent(core, r.workspace_id, kind === 'opened' ? 'email.opened' : 'email.clicked', data, tx);
    }
    return url;
  });
}

export async function recordOpen(core: Core, token: string, seen: Seen): Promise<void> {
  await record(core, token, 'opened', seen);
}

/** Records the click and returns where the link goes. */
export async function recordClick(core: Core, token: string, seen: Seen): Promise<string> {
  return (await record(core, token, 'clicked', seen))!;
}

/** Resend's broadcasts.clickedLinks: each link with its clicks and unique clicks (by recipient). */
export async function clickedLinks(core: Core, workspaceId: string, broadcastId: string, page: PageRequest) {
  if (!isUuid(broadcastId)) throw notFound('Broadcast');
  const b = await core.db.selectFrom('broadcasts').select('id').where('workspace_id', '=', workspaceId).where('id', '=', broadcastId.toLowerCase()).executeTakeFirst();
  if (!b) throw notFound('Broadcast');
  const rows = await core.db
    .selectFrom('broadcast_events')
    .select((eb) => ['url', eb.fn.countAll<number>().as('clicks'), eb.fn.count<number>('recipient_id').distinct().as('unique_clicks')])
    .where('broadcast_id', '=', b.id)
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', 'clicked')
    .groupBy('url')
    .execute();
  // The `id` is an opaque cursor (Resend's words): the link's rank by clicks, then by URL.
  const all = rows.map((r) => ({ url: r.url!, clicks: Number(r.clicks), unique_clicks: Number(r.unique_clicks) })).sort((x, y) => y.clicks - x.clicks || (x.url < y.url ? -1 : 1));
  const ids = all.map((r, i) => ({ id: String(i + 1).padStart(8, '0'), ...r }));
  const limit = Math.min(Math.max(page.limit ?? 20, 1), 100);
  let from = 0;
  if (page.after) from = ids.findIndex((r) => r.id === page.after) + 1;
  const slice = ids.slice(from, from + limit);
  return { object: 'list' as const, has_more: from + limit < ids.length, data: slice };
}

/** Per recipient of a broadcast: its opens, and its clicks by link. */
export async function engagementOf(db: Db, broadcastId: string, recipientIds: string[]) {
  const out = new Map<string, { opens: number; clicks: Map<string, number> }>();
  if (!recipientIds.length) return out;
  const rows = await db.selectFrom('broadcast_events').select(['recipient_id', 'kind', 'url']).where('broadcast_id', '=', broadcastId).where('recipient_id', 'in', recipientIds).execute();
  for (const r of rows) {
    const e = out.get(r.recipient_id) ?? { opens: 0, clicks: new Map() };
    if (r.kind === 'opened') e.opens++;
    else e.clicks.set(r.url!, (e.clicks.get(r.url!) ?? 0) + 1);
    out.set(r.recipient_id, e);
  }
  return out;
}
