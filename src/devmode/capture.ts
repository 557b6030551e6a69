// Captured mail (development mode, like Mailpit): every message the node would have sent to the
// internet is kept here instead, once per email whatever its number of recipients, and read back
// by `GET /v1/captured` with its headers, HTML, text and raw source.
//
// Implementation notes:
// - Scoped by workspace like everything else: another workspace's capture is `not_found`. The
//   platform's own mail (sign-in links, invitations) belongs to no workspace (workspace_id null):
//   it is never listed by the API (a sign-in link is a credential); the node logs it instead.
// - The raw source is the stored, DKIM-signed blob of the email, the bytes that would have gone
//   out. Blobs are content-addressed, so the capture shares the email's file.
import type { Core } from '../core/core.ts';
import { notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { PageRequest } from '../db/paginate.ts';
import { paginate } from '../db/paginate.ts';
import type { CapturedMessagesTable } from '../db/schema.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { blobStore } from '../outbound/accept.ts';

export interface CaptureInput {
  workspaceId: string | null;
  emailId: string | null;
  envelopeFrom: string;
  recipients: string[];
  fromHeader: string | null;
  subject: string | null;
  raw: Buffer;
  /** The blob already holding `raw`, if any. */
  rawBlob?: string | null;
}

/** Keeps one message; a second capture of the same email is ignored. Returns the capture's id. */
export async function captureMessage(core: Core, input: CaptureInput): Promise<string> {
  if (input.emailId) {
    const existing = await core.db.selectFrom('captured_messages').select('id').where('email_id', '=', input.emailId).executeTakeFirst();
    if (existing) return existing.id;
  }
  const rawBlob = input.rawBlob ?? (await blobStore(core).put(input.raw));
  const now = core.clock.now();
  const id = newId(now);
  await core.db
    .insertInto('captured_messages')
    .values({
      id,
      workspace_id: input.workspaceId,
      email_id: input.emailId,
      envelope_from: input.envelopeFrom,
      recipients_json: JSON.stringify(input.recipients),
      from_header: input.fromHeader,
      subject: input.subject,
      raw_blob: rawBlob,
      size: input.raw.length,
      created_at: now,
    })
    .onConflict((oc) => oc.column('email_id').doNothing())
    .execute();
  return id;
}

function summaryJson(row: CapturedMessagesTable) {
  return {
    object: 'captured_email' as const,
    id: row.id,
    email_id: row.email_id,
    from: row.from_header ?? row.envelope_from,
    envelope_from: row.envelope_from,
    to: JSON.parse(row.recipients_json) as string[],
    subject: row.subject ?? '',
    size: row.size,
    created_at: new Date(row.created_at).toISOString(),
  };
}

export async function listCaptured(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('captured_messages').selectAll().where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(summaryJson) };
}

async function findCaptured(core: Core, workspaceId: string, id: string) {
  const row = await core.db.selectFrom('captured_messages').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Captured email');
  return row;
}

/** The raw source of one captured message. */
export async function capturedRaw(core: Core, workspaceId: string, id: string): Promise<Buffer> {
  const row = await findCaptured(core, workspaceId, id);
  try {
    return await blobStore(core).get(row.raw_blob);
  } catch {
    throw notFound('The source of this captured email (purged)');
  }
}

/** One captured message with its header fields, text, HTML and raw source. */
export async function getCaptured(core: Core, workspaceId: string, id: string) {
  const row = await findCaptured(core, workspaceId, id);
  const raw = await capturedRaw(core, workspaceId, id);
  // A message the parser refuses is still shown: its header fields and raw source.
  const parsed = await parseMessage(raw).catch(() => ({ text: null, html: null, attachments: [] as { filename: string | null; contentType: string; size: number }[] }));
  return {
    ...summaryJson(row),
    headers: headerFields(raw),
    text: parsed.text ?? null,
    html: parsed.html ?? null,
    attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, content_type: a.contentType, size: a.size })),
    raw: raw.toString('utf8'),
  };
}

/** Header fields in order, unfolded (RFC 5322 §2.2.3), as `{ name, value }`. */
function headerFields(raw: Buffer): { name: string; value: string }[] {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const head = end === -1 ? text : text.slice(0, end);
  const out: { name: string; value: string }[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1].value += ' ' + line.trim();
    else {
      const colon = line.indexOf(':');
      if (colon > 0) out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
    }
  }
  return out;
}

/** Deletes one capture, or all of the workspace's (`id` omitted); returns how many. */
export async function deleteCaptured(core: Core, workspaceId: string, id?: string): Promise<number> {
  let q = core.db.deleteFrom('captured_messages').where('workspace_id', '=', workspaceId);
  if (id !== undefined) {
    await findCaptured(core, workspaceId, id);
    q = q.where('id', '=', id);
  }
  const res = await q.executeTakeFirst();
  return Number(res.numDeletedRows);
}
