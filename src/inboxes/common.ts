// Shared pieces of the inbox API's core (Resend's `inboxes.*`): finding an inbox by id or address
// inside the caller's workspace, the folder words, small validators and JSON helpers.
//
// Implementation notes:
// - Every look-up is scoped by workspace: another workspace's inbox, thread, email, label or
//   draft is `not_found` (404), never "forbidden", so ids and addresses leak nothing.
// - An inbox is selected by its id or by its address (the SDK url-encodes it; Fastify decodes).
// - Resend's folders map onto special-use folders: inbox→INBOX, archive→Archive, spam→Junk,
//   sent→Sent, trash→Trash. A user folder made over IMAP shows as `archive` (out of the inbox).
import { CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { SpecialUse } from '../db/schema.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { assertInboxNotSuspended } from '../privacy/gates.ts';

export type Inbox = Mailbox;

export const INBOX_FOLDERS = ['inbox', 'archive', 'spam', 'sent', 'trash'] as const;
export type InboxFolder = (typeof INBOX_FOLDERS)[number];
export const MOVE_FOLDERS = ['inbox', 'archive', 'spam', 'trash'] as const;
export type MoveFolder = (typeof MOVE_FOLDERS)[number];

export const SPECIAL_USE_OF: Record<InboxFolder, SpecialUse> = { inbox: 'inbox', archive: 'archive', spam: 'junk', sent: 'sent', trash: 'trash' };

/** The Resend folder word of a folder (drafts are not a thread folder: null). */
export function folderWord(specialUse: SpecialUse | null): InboxFolder | null {
  switch (specialUse) {
    case 'inbox':
      return 'inbox';
    case 'sent':
      return 'sent';
    case 'trash':
      return 'trash';
    case 'junk':
      return 'spam';
    case 'drafts':
      return null;
    default:
      return 'archive';
  }
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

export const parseJsonArray = <T = unknown>(text: string | null | undefined): T[] => {
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
};

/** Bare addresses (lower-cased) stored as JSON. */
export function bareAddresses(json: string | null | undefined): string[] {
  return parseJsonArray<any>(json)
    .map((a) => (typeof a === 'string' ? (/<([^<>]+)>\s*$/.exec(a)?.[1] ?? a) : a?.address))
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .map((s) => s.trim().toLowerCase());
}

/** The caller's inbox by id or address, or 404. */
export async function inboxFor(db: Db, workspaceId: string, selector: string): Promise<Inbox> {
  const s = String(selector ?? '').trim();
  if (!s || s.length > 320) throw notFound('Inbox');
  let q = db.selectFrom('mailboxes').selectAll().where('workspace_id', '=', workspaceId);
  if (isUuid(s)) q = q.where('id', '=', s.toLowerCase());
  else if (s.includes('@')) q = q.where('address', '=', s.toLowerCase());
  else throw notFound('Inbox');
  const row = await q.executeTakeFirst();
  if (!row) throw notFound('Inbox');
  assertInboxNotSuspended(row);
  return row;
}

export function body(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('The request body must be a JSON object.');
  return raw as Record<string, unknown>;
}

/** An optional single-line text field: undefined when absent, null when null. */
export function optionalText(b: Record<string, unknown>, field: string, max: number, opts: { multiline?: boolean } = {}): string | null | undefined {
  const v = b[field];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string') throw invalid(`The \`${field}\` field must be a string.`);
  if (v.length > max) throw invalid(`The \`${field}\` field must be at most ${max} characters.`);
  if (!opts.multiline && /[\r\n\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) throw invalid(`The \`${field}\` field may not contain line breaks or control characters.`);
  return v;
}

export function optionalBool(b: Record<string, unknown>, field: string): boolean | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`The \`${field}\` field must be true or false.`);
  return v;
}

/** A boolean query parameter as text ('true'/'false'). */
export function queryBool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw invalid(`The \`${field}\` query parameter must be true or false.`);
}

/** A comma-separated list query parameter (the SDK joins arrays with commas). */
export function queryList(v: unknown, field: string, max = 50): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const parts = (Array.isArray(v) ? v.join(',') : String(v)).split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length > max) throw invalid(`The \`${field}\` query parameter may list at most ${max} values.`);
  return parts;
}

export function queryDate(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const s = String(v);
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(t)) throw invalid(`The \`${field}\` query parameter must be an ISO 8601 date or date-time.`);
  return t;
}

export const conflict = (message: string) => new CoreError(409, 'conflict', message);

/** LIKE pattern that finds `"keyword"` inside a messages.keywords JSON array. */
export function keywordPattern(keyword: string): string {
  return `%${JSON.stringify(keyword).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Splits a list into chunks (bounded IN lists on both stores). */
export function chunks<T>(list: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}


/**
 * The IMAP keyword a label is stored as on messages (RFC 9051 §2.3.2 flag-keyword = atom):
 * the label's name with every character an atom may not hold (space, ( ) { % * " \ ] , controls,
 * non-ASCII) replaced by `_`. Two labels of one inbox may not share a keyword.
 */
export function keywordFor(labelName: string): string {
  // Backslash is among the replaced characters, so a label never becomes a system flag.
  return labelName.replace(/[^\x21-\x7e]|[(){%*"\\\]]/g, '_');
}
