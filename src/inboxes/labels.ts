// Resend's `inboxes.labels.list, create, update, remove` and `inboxes.threads.labels.add, set,
// remove`. A label is a row of `labels` and, on messages, the IMAP keyword `keywordFor(name)`, so
// a mail client sees the same labels as keywords and a keyword set over IMAP shows as the label.
//
// Implementation notes:
// - Labelling a thread adds (or removes) the keyword on every message of the thread, through the
//   mail store's storeFlags, one call per folder, in one mailTransaction.
// - Renaming a label rewrites its keyword on every message of the inbox; removing it strips the
//   keyword everywhere. Two labels of one inbox may share neither a name nor a keyword.
// - Label ids in thread requests must be labels of this inbox: anything else is 404.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { emitEvent } from '../events/webhooks.ts';
import { type Emit, mailTransaction } from '../mailstore/changes.ts';
import { storeFlags } from '../mailstore/messages.ts';
import { type Inbox, body, conflict, iso, keywordFor, keywordPattern } from './common.ts';
import { type LabelRow, labelsOfInbox, labelsOnMessages, threadFor } from './threads.ts';
import { sql } from 'kysely';

const COLOR = /^#[0-9A-Fa-f]{6}$/;
export const DEFAULT_LABEL_COLOR = '#8B8D98';
const MAX_LABEL_NAME = 64;
const MAX_THREAD_LABELS = 10;

function labelName(raw: unknown, required: boolean): string | undefined {
  if (raw === undefined || raw === null) {
    if (required) throw invalid('Missing `name` field.');
    return undefined;
  }
  if (typeof raw !== 'string') throw invalid('The `name` field must be a string.');
  const name = raw.trim();
  if (!name) throw invalid('The `name` field may not be empty.');
  if (name.length > MAX_LABEL_NAME) throw invalid(`The \`name\` field must be at most ${MAX_LABEL_NAME} characters.`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid('The `name` field may not contain control characters.');
  return name;
}

function labelColor(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string' || !COLOR.test(raw)) throw invalid('The `color` field must be a hex color in the #RRGGBB format.');
  return raw.toUpperCase();
}

async function labelFor(db: Db, inbox: Inbox, labelId: string) {
  if (!isUuid(String(labelId))) throw notFound('Label');
  const row = await db.selectFrom('labels').selectAll().where('workspace_id', '=', inbox.workspace_id).where('mailbox_id', '=', inbox.id).where('id', '=', labelId.toLowerCase()).executeTakeFirst();
  if (!row) throw notFound('Label');
  return row;
}

async function checkUnique(db: Db, inbox: Inbox, name: string, exceptId: string | null) {
  const all = await labelsOfInbox(db, inbox);
  const keyword = keywordFor(name).toLowerCase();
  for (const l of all) {
    if (l.id === exceptId) continue;
    if (l.name.toLowerCase() === name.toLowerCase() || keywordFor(l.name).toLowerCase() === keyword) throw conflict(`A label named ${JSON.stringify(l.name)} already exists in this inbox.`);
  }
}

export async function listLabels(core: Core, inbox: Inbox) {
  const rows = await core.db.selectFrom('labels').selectAll().where('mailbox_id', '=', inbox.id).orderBy('name').execute();
  return { object: 'list' as const, data: rows.map((l) => ({ id: l.id, name: l.name, color: l.color, created_at: iso(l.created_at)! })) };
}

export async function createLabel(core: Core, actor: Actor, inbox: Inbox, raw: unknown) {
  const b = body(raw);
  const name = labelName(b.name, true)!;
  const color = labelColor(b.color) ?? DEFAULT_LABEL_COLOR;
  return core.store.transaction(async (tx) => {
    await checkUnique(tx, inbox, name, null);
    const now = core.clock.now();
    const id = newId(now);
    await tx.insertInto('labels').values({ id, workspace_id: inbox.workspace_id, mailbox_id: inbox.id, name, color, created_at: now }).execute();
    await audit(core, actor, { workspaceId: inbox.workspace_id, action: 'inbox.label_created', targetType: 'inbox_label', targetId: id, data: { inbox_id: inbox.id, name } }, tx);
    return { object: 'inbox_label' as const, id };
  });
}

/** Every message of the inbox carrying `keyword`, grouped by folder. */
async function messagesWithKeyword(db: Db, inbox: Inbox, keyword: string): Promise<Map<string, number[]>> {
  const rows = await db
    .selectFrom('messages')
    .select(['folder_id', 'uid', 'keywords'])
    .where('mailbox_id', '=', inbox.id)
    .where(sql<boolean>`keywords like ${keywordPattern(keyword)} escape '\\'`)
    .execute();
  const out = new Map<string, number[]>();
  for (const r of rows) {
    // LIKE is case-insensitive on SQLite: confirm the exact keyword.
    let kws: unknown = [];
    try {
      kws = JSON.parse(r.keywords);
    } catch {}
    if (!Array.isArray(kws) || !kws.includes(keyword)) continue;
    out.set(r.folder_id, [...(out.get(r.folder_id) ?? []), Number(r.uid)]);
  }
  return out;
}

export async function updateLabel(core: Core, actor: Actor, inbox: Inbox, labelId: string, raw: unknown) {
  const b = body(raw);
  const name = labelName(b.name, false);
  const color = labelColor(b.color);
  if (name === undefined && color === undefined) throw invalid('Give at least one of `name` and `color`.');
  return mailTransaction(core, async (tx, emit) => {
    const label = await labelFor(tx, inbox, labelId);
    if (name !== undefined && name !== label.name) {
      await checkUnique(tx, inbox, name, label.id);
      const from = keywordFor(label.name);
      const to = keywordFor(name);
      if (from !== to) {
        for (const [folderId, uids] of await messagesWithKeyword(tx, inbox, from)) {
          await storeFlags(core, tx, emit, { folderId, uids, mode: 'remove', flags: [from] });
          await storeFlags(core, tx, emit, { folderId, uids, mode: 'add', flags: [to] });
        }
      }
    }
    await tx.updateTable('labels').set({ ...(name !== undefined ? { name } : {}), ...(color !== undefined ? { color } : {}) }).where('id', '=', label.id).execute();
    await audit(core, actor, { workspaceId: inbox.workspace_id, action: 'inbox.label_updated', targetType: 'inbox_label', targetId: label.id, data: { inbox_id: inbox.id, name, color } }, tx);
    return { object: 'inbox_label' as const, id: label.id };
  });
}

export async function removeLabel(core: Core, actor: Actor, inbox: Inbox, labelId: string) {
  return mailTransaction(core, async (tx, emit) => {
    const label = await labelFor(tx, inbox, labelId);
    const keyword = keywordFor(label.name);
    for (const [folderId, uids] of await messagesWithKeyword(tx, inbox, keyword)) await storeFlags(core, tx, emit, { folderId, uids, mode: 'remove', flags: [keyword] });
    await tx.deleteFrom('labels').where('id', '=', label.id).execute();
    await audit(core, actor, { workspaceId: inbox.workspace_id, action: 'inbox.label_deleted', targetType: 'inbox_label', targetId: label.id, data: { inbox_id: inbox.id, name: label.name } }, tx);
    return { object: 'inbox_label' as const, id: label.id, deleted: true };
  });
}

// ---- Labels of a thread ------------------------------------------------------------------------

function labelIds(raw: unknown): string[] {
  const b = body(raw);
  if (!Array.isArray(b.labels)) throw invalid('The `labels` field must be an array of label ids.');
  if (b.labels.length > MAX_THREAD_LABELS) throw invalid(`The \`labels\` field may hold at most ${MAX_THREAD_LABELS} label ids.`);
  for (const l of b.labels) if (typeof l !== 'string' || l.length > 100) throw invalid('Each of `labels` must be a label id.');
  return [...new Set(b.labels as string[])];
}

async function threadMessagesByFolder(db: Db, inbox: Inbox, threadId: string) {
  const rows = await db.selectFrom('messages').select(['folder_id', 'uid', 'keywords']).where('mailbox_id', '=', inbox.id).where('thread_id', '=', threadId).execute();
  const byFolder = new Map<string, number[]>();
  for (const r of rows) byFolder.set(r.folder_id, [...(byFolder.get(r.folder_id) ?? []), Number(r.uid)]);
  return { rows, byFolder };
}

async function applyThreadLabels(core: Core, tx: Db, emit: Emit, inbox: Inbox, threadId: string, add: LabelRow[], remove: LabelRow[]) {
  const { byFolder } = await threadMessagesByFolder(tx, inbox, threadId);
  for (const [folderId, uids] of byFolder) {
    if (remove.length) await storeFlags(core, tx, emit, { folderId, uids, mode: 'remove', flags: remove.map((l) => keywordFor(l.name)) });
    if (add.length) await storeFlags(core, tx, emit, { folderId, uids, mode: 'add', flags: add.map((l) => keywordFor(l.name)) });
  }
  const { rows } = await threadMessagesByFolder(tx, inbox, threadId);
  const labels = labelsOnMessages(rows, await labelsOfInbox(tx, inbox));
  if (add.length || remove.length) {
    await emitEvent(core, inbox.workspace_id, 'inbox.thread.labels.updated', { inbox_id: inbox.id, thread_id: threadId, labels: labels.map((l) => l.id) }, tx);
  }
  return { object: 'list' as const, data: labels };
}

async function labelsByIds(db: Db, inbox: Inbox, ids: string[]): Promise<LabelRow[]> {
  const out: LabelRow[] = [];
  for (const id of ids) {
    const l = await labelFor(db, inbox, id);
    out.push({ id: l.id, name: l.name, color: l.color });
  }
  return out;
}

export async function addThreadLabels(core: Core, inbox: Inbox, threadId: string, raw: unknown) {
  const ids = labelIds(raw);
  if (!ids.length) throw invalid('The `labels` field must hold between 1 and 10 label ids.');
  return mailTransaction(core, async (tx, emit) => {
    const thread = await threadFor(tx, inbox, threadId);
    return applyThreadLabels(core, tx, emit, inbox, thread.id, await labelsByIds(tx, inbox, ids), []);
  });
}

export async function setThreadLabels(core: Core, inbox: Inbox, threadId: string, raw: unknown) {
  const ids = labelIds(raw);
  return mailTransaction(core, async (tx, emit) => {
    const thread = await threadFor(tx, inbox, threadId);
    const wanted = await labelsByIds(tx, inbox, ids);
    const all = await labelsOfInbox(tx, inbox);
    const remove = all.filter((l) => !wanted.some((w) => w.id === l.id));
    return applyThreadLabels(core, tx, emit, inbox, thread.id, wanted, remove);
  });
}

export async function removeThreadLabel(core: Core, inbox: Inbox, threadId: string, labelId: string) {
  return mailTransaction(core, async (tx, emit) => {
    const thread = await threadFor(tx, inbox, threadId);
    const label = await labelFor(tx, inbox, labelId);
    return applyThreadLabels(core, tx, emit, inbox, thread.id, [], [{ id: label.id, name: label.name, color: label.color }]);
  });
}
