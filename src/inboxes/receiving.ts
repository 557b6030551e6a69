// Resend's receiving API: `emails.receiving.list, get` and `emails.receiving.attachments.list,
// get`, over the inbound messages of every mailbox of the workspace; plus the signed downloads
// behind `raw.download_url` and each attachment's `download_url`.
//
// Implementation notes:
// - A "received email" is a mail store message with direction 'inbound' (any folder, any inbox
//   of the caller's workspace). Another workspace's id is 404.
// - Downloads need no API key (the SDK's `receiving.forward` fetches `raw.download_url` without
//   one): src/core/signed-links.ts, context `received-download`, bound to the message and the
//   part (an attachment id or `raw`), like the sent-attachment links of src/outbound/emails.ts.
//   The URL is absolute, on MAILSTACK_PUBLIC_URL.
// - The JSON is built by src/mailstore/views.ts (the one builder of Resend's message shapes, also
//   used by the email.received webhook and the thread emails): `html_format=data_uri` (the
//   default) inlines cid: images, and Mailstack's extras (`html_sanitized`, `extracted_text`,
//   `inbox_id`, `thread_id`, `auth`) come with it.
// - Attachment bytes are re-read from the stored raw message (the parse is deterministic), by the
//   attachment's position.
import type { Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import { type LinkFetcher, linkActor, openSignedLink, signedLink } from '../core/signed-links.ts';
import { recordContentRead } from '../privacy/content-access.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, pageOfList, paginate } from '../db/paginate.ts';
import type { MessagesTable } from '../db/schema.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { attachmentsOfMessages, readRaw, viewInputOf } from '../mailstore/read.ts';
import { spamOf, spamOfMany } from '../spam/filter.ts';
import { type AttachmentRowForView, receivedAttachmentJson, receivedEmailJson, receivedEmailListItem } from '../mailstore/views.ts';

const DOWNLOAD_CONTEXT = 'received-download';

export async function receivedMessage(db: Db, workspaceId: string, id: string): Promise<MessagesTable> {
  if (!isUuid(String(id))) throw notFound('Email');
  const row = await db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id.toLowerCase()).where('direction', '=', 'inbound').executeTakeFirst();
  if (!row) throw notFound('Email');
  return row;
}

/** A signed link to one part (`raw` or an attachment id) of a received message. */
const partLink = (core: Core, workspaceId: string, messageId: string, part: string, path: string) =>
  signedLink(core, DOWNLOAD_CONTEXT, workspaceId, { m: messageId, p: part }, `/v1/emails/receiving/${messageId}${path}`);

/**
 * The received message a download link was made for (403 for a bad or expired link). The fetch is
 * recorded as a content read of its inbox before anything is read.
 */
async function linkedMessage(core: Core, messageId: string, part: string, token: string, fetcher?: LinkFetcher): Promise<MessagesTable> {
  const workspaceId = openSignedLink(core, DOWNLOAD_CONTEXT, token, { m: messageId, p: part }, 'email');
  const row = await receivedMessage(core.db, workspaceId, messageId);
  if (row.mailbox_id) {
    await recordContentRead(core, { workspaceId, actor: linkActor(fetcher), userId: null, reason: 'signed download link' }, { mailboxId: row.mailbox_id, what: part === 'raw' ? 'raw' : 'attachments', messageId: row.id, requireReason: false });
  }
  return row;
}

const attachmentJson = (core: Core, workspaceId: string, messageId: string, a: AttachmentRowForView) =>
  receivedAttachmentJson(a, partLink(core, workspaceId, messageId, a.id, `/attachments/${a.id}/content`));

async function attachmentOf(db: Db, messageId: string, attachmentId: string) {
  if (!isUuid(String(attachmentId))) throw notFound('Attachment');
  const a = await db.selectFrom('message_attachments').selectAll().where('message_id', '=', messageId).where('id', '=', attachmentId.toLowerCase()).executeTakeFirst();
  if (!a) throw notFound('Attachment');
  return a;
}

export async function listReceived(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('messages').selectAll().where('workspace_id', '=', workspaceId).where('direction', '=', 'inbound');
  const { rows, has_more } = await paginate(q, 'id', page);
  const atts = await attachmentsOfMessages(core.db, rows.map((r) => r.id));
  const spam = await spamOfMany(core.db, workspaceId, rows.map((r) => r.id));
  return { object: 'list' as const, has_more, data: rows.map((r) => ({ ...receivedEmailListItem(r, atts.get(r.id) ?? []), spam: spam.get(r.id) ?? null })) };
}

export async function getReceived(core: Core, workspaceId: string, id: string, htmlFormat: unknown) {
  if (htmlFormat !== undefined && htmlFormat !== 'data_uri' && htmlFormat !== 'cid') throw invalid('The `html_format` query parameter must be `data_uri` or `cid`.');
  const row = await receivedMessage(core.db, workspaceId, id);
  const json = receivedEmailJson(await viewInputOf(core, core.db, row), { htmlFormat: htmlFormat as 'data_uri' | 'cid' | undefined, raw: partLink(core, workspaceId, row.id, 'raw', '/raw') });
  // The spam filter's verdict (src/spam/filter.ts), null when no filter judged the message.
  return { ...json, spam: await spamOf(core.db, workspaceId, row.id) };
}

export async function listReceivedAttachments(core: Core, workspaceId: string, id: string, page: PageRequest) {
  const row = await receivedMessage(core.db, workspaceId, id);
  const all = (await attachmentsOfMessages(core.db, [row.id])).get(row.id) ?? [];
  const { items, has_more } = pageOfList(all, page, 'an attachment of this email');
  return { object: 'list' as const, has_more, data: items.map((a) => attachmentJson(core, workspaceId, row.id, a)) };
}

export async function getReceivedAttachment(core: Core, workspaceId: string, id: string, attachmentId: string) {
  const row = await receivedMessage(core.db, workspaceId, id);
  const a = await attachmentOf(core.db, row.id, attachmentId);
  return { object: 'attachment' as const, ...attachmentJson(core, workspaceId, row.id, a) };
}

/**
 * The bytes behind a signed attachment download_url. They are re-read from the stored raw message
 * (the parse is deterministic), by the attachment's position.
 */
export async function receivedAttachmentContent(core: Core, id: string, attachmentId: string, token: string, fetcher?: LinkFetcher) {
  const row = await linkedMessage(core, id, attachmentId, token, fetcher);
  const a = await attachmentOf(core.db, row.id, attachmentId);
  const parsed = await parseMessage(await readRaw(core, row));
  const part = parsed.attachments.find((p) => p.position === Number(a.position));
  if (!part) throw notFound('Attachment');
  return { meta: a, content: part.content };
}

/** The raw RFC 5322 message behind a signed raw.download_url. */
export async function receivedRaw(core: Core, id: string, token: string, fetcher?: LinkFetcher): Promise<Buffer> {
  return readRaw(core, await linkedMessage(core, id, 'raw', token, fetcher));
}
