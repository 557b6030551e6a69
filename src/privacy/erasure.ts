// Erasure ("right to be forgotten"): removes every trace of one address from a workspace and
// keeps only a keyed hash of it, so that sending can refuse it ever after.
//
// Implementation notes (invariants a newcomer must not break):
// - The address is never stored: not in the erasure row, not in the audit record, not in a job
//   payload (the work runs in the request, in bounded batches, each its own transaction). What
//   stays is HMAC-SHA256(lower-cased address) under the instance secret `erasure` in
//   do_not_contact, which storeMessage() checks before any message is signed or stored.
// - What goes: emails to or from it (deleted when it was their only recipient, else the recipient
//   row is deleted and the address cut out of the email's other fields, its signed raw message
//   dropped), events whose payload names it with their webhook deliveries and attempts, webhook
//   responses naming it, suppressions, API request log rows naming it, forwarding rules to it,
//   dev-mode captured mail, contacts (when that table exists), finished jobs naming it, and with
//   `include_mailbox_content` every hosted-inbox message and draft from, to or mentioning it
//   (expunged the IMAP way, so clients see it go) with its search-index entries. Audit records
//   keep their action but the address in them is replaced by `[erased]`. Exports that may hold
//   the address (the workspace's and inboxes', and the person's own) are deleted. Blobs no longer referenced are deleted.
// - Tables of other parts (campaigns' broadcast recipients and import reports, invitations,
//   sender lists, and whatever a part adds later) are covered through erasure-targets.ts: a part
//   registers its table there, and every erasure removes or redacts its matching rows.
// - SQLite: the connection runs with secure_delete (database.ts), so freed cells and pages are
//   zeroed; the FTS5 index is merged ('optimize') so no old segment keeps the words; the WAL is
//   checkpointed and truncated at the end. PostgreSQL: deleted tuples stay in the table files until
//   VACUUM reclaims them (autovacuum, usually within minutes); the README says so.
import { sql } from 'kysely';
import { audit } from '../audit/audit-log.ts';
import { type Actor, type Core, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { ErasuresTable } from '../db/schema.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import { releaseBlobs } from '../mailstore/blobs.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { expungeMessages } from '../mailstore/messages.ts';
import { addressHmac } from './do-not-contact.ts';
import '../campaigns/erasure-targets.ts';
import { deleteExport } from './export.ts';
import { erasureTargets, registerErasureTarget } from './erasure-targets.ts';

// Platform tables outside the core of sending and mail that name a person: invitations sent to the
// address, and allow or block entries for it (an erased address is no longer singled out).
registerErasureTarget({ kind: 'invitations', table: 'invitations', equals: ['email'] });
registerErasureTarget({ kind: 'sender_lists', table: 'sender_lists', equals: ['pattern'] });
import { containsCI, equalsCI, redactText, tableExists } from './records.ts';

const BATCH = 200;
const ADDRESS = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export interface ErasureObject {
  object: 'erasure';
  id: string;
  status: ErasuresTable['status'];
  removed: Record<string, number>;
  created_at: string;
}

export function erasureJson(row: ErasuresTable): ErasureObject {
  return { object: 'erasure', id: row.id, status: row.status, removed: JSON.parse(row.removed), created_at: new Date(row.created_at).toISOString() };
}

export async function getErasure(core: Core, workspaceId: string, id: string): Promise<ErasuresTable> {
  const row = isUuid(id) ? await core.db.selectFrom('erasures').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw notFound('Erasure');
  return row;
}

export async function listErasures(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('erasures').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return { object: 'list' as const, has_more, data: rows.map((r) => erasureJson(r as ErasuresTable)) };
}

/** Runs an erasure to the end and returns its row. */
export async function eraseAddress(core: Core, actor: Actor, workspaceId: string, body: { email?: unknown; include_mailbox_content?: unknown }): Promise<ErasuresTable> {
  if (typeof body.email !== 'string' || !ADDRESS.test(body.email.trim())) throw invalid('The `email` field must be an email address.');
  if (body.include_mailbox_content !== undefined && typeof body.include_mailbox_content !== 'boolean') throw invalid('The `include_mailbox_content` field must be true or false.');
  const address = body.email.trim().toLowerCase();
  const includeMail = body.include_mailbox_content === true;
  const now = core.clock.now();
  const id = newId(now);
  const hmac = await addressHmac(core, address);
  // The do-not-contact entry first: from this commit on, no new message to the address is accepted.
  await core.store.transaction(async (tx) => {
    await tx.insertInto('erasures').values({ id, workspace_id: workspaceId, status: 'running', include_mailbox_content: includeMail ? 1 : 0, removed: '{}', requested_by: `${actor.type}:${actor.id ?? ''}`, created_at: now, completed_at: null }).execute();
    await tx.insertInto('do_not_contact').values({ workspace_id: workspaceId, address_hmac: hmac, erasure_id: id, created_at: now }).onConflict((oc) => oc.columns(['workspace_id', 'address_hmac']).doNothing()).execute();
  });
  const removed: Record<string, number> = {};
  const add = (kind: string, n: number) => {
    if (n) removed[kind] = (removed[kind] ?? 0) + n;
  };
  const blobs = new Set<string>();
  try {
    await eraseEmails(core, workspaceId, address, add, blobs);
    await eraseEvents(core, workspaceId, address, add);
    await eraseSimple(core, workspaceId, address, add, blobs);
    await eraseRegistered(core, workspaceId, address, add);
    if (includeMail) await eraseMailbox(core, workspaceId, address, add, blobs);
    await redactAudit(core, workspaceId, address, add);
    // Any workspace or inbox export may hold the address; a person export only if it is theirs.
    const exports = await core.db
      .selectFrom('exports')
      .select(['id', 'file'])
      .where('workspace_id', '=', workspaceId)
      .where((eb) => eb.or([eb('scope', '!=', 'person'), eb('subject', '=', address)]))
      .execute();
    for (const e of exports) await deleteExport(core, e);
    add('exports', exports.length);
    add('blobs', await releaseBlobs(core, blobs));
    await scrubStorage(core);
    await core.store.transaction(async (tx) => {
      await tx.updateTable('erasures').set({ status: 'completed', removed: JSON.stringify(removed), completed_at: core.clock.now() }).where('id', '=', id).execute();
      await audit(core, actor, { workspaceId, action: 'erasure.completed', targetType: 'erasure', targetId: id, data: { removed, include_mailbox_content: includeMail } }, tx);
    });
  } catch (err) {
    await core.db.updateTable('erasures').set({ status: 'failed', removed: JSON.stringify(removed), completed_at: core.clock.now() }).where('id', '=', id).execute();
    throw err;
  }
  return getErasure(core, workspaceId, id);
}

type Add = (kind: string, n: number) => void;

/** Ids matching `where` in `table`, in batches, each handed to `fn` (which must remove or change them so they stop matching). */
async function inBatches(core: Core, table: string, key: string, where: (q: any) => any, fn: (ids: string[]) => Promise<void>): Promise<void> {
  let after: string | null = null;
  for (;;) {
    let q = where((core.db as any).selectFrom(table).select(key));
    if (after !== null) q = q.where(key, '>', after);
    const rows: any[] = await q.orderBy(key).limit(BATCH).execute();
    if (!rows.length) return;
    await fn(rows.map((r) => r[key]));
    after = rows[rows.length - 1][key];
  }
}

const n = (r: { numDeletedRows?: bigint; numUpdatedRows?: bigint } | undefined) => Number(r?.numDeletedRows ?? r?.numUpdatedRows ?? 0);

function blobIdsIn(json: string): string[] {
  return json.match(/[0-9a-f]{64}/g) ?? [];
}

function withoutAddress(jsonList: string, address: string): string {
  try {
    const list = JSON.parse(jsonList);
    if (Array.isArray(list)) return JSON.stringify(list.filter((x) => !(typeof x === 'string' && x.toLowerCase().includes(address))));
  } catch {
    /* not JSON: cut the text */
  }
  return redactText(jsonList, address);
}

async function eraseEmails(core: Core, ws: string, a: string, add: Add, blobs: Set<string>): Promise<void> {
  const db = core.db as any;
  const where = (q: any) =>
    q.where('workspace_id', '=', ws).where((eb: any) =>
      eb.or([
        eb('from_address', '=', a),
        eb.exists(db.selectFrom('email_recipients').select('email_recipients.id').whereRef('email_recipients.email_id', '=', 'emails.id').where('email_recipients.address', '=', a)),
        ...['to_json', 'cc_json', 'bcc_json', 'reply_to_json', 'headers_json', 'from_header', 'subject', 'html', 'text'].map((c) => containsCI(c, a)),
      ]),
    );
  await inBatches(core, 'emails', 'id', where, async (ids) => {
    await core.store.transaction(async (tx: any) => {
      for (const id of ids) {
        const e = await tx.selectFrom('emails').selectAll().where('id', '=', id).executeTakeFirst();
        if (!e) continue;
        const others = await tx.selectFrom('email_recipients').select('id').where('email_id', '=', id).where('address', '!=', a).execute();
        if (e.raw_blob) blobs.add(e.raw_blob);
        if (!others.length || e.from_address === a) {
          for (const b of blobIdsIn(e.attachments_json)) blobs.add(b);
          add('email_recipients', n(await tx.deleteFrom('email_recipients').where('email_id', '=', id).executeTakeFirst()));
          await tx.deleteFrom('idempotency_keys').where('workspace_id', '=', ws).where('response', 'like', `%${id}%`).execute();
          await tx.updateTable('messages').set({ email_id: null }).where('email_id', '=', id).execute();
          await tx.updateTable('drafts').set({ email_id: null }).where('email_id', '=', id).execute();
          await tx.deleteFrom('emails').where('id', '=', id).execute();
          add('emails', 1);
        } else {
          // Others received it too: keep their record, cut this recipient out of it.
          add('email_recipients', n(await tx.deleteFrom('email_recipients').where('email_id', '=', id).where('address', '=', a).executeTakeFirst()));
          const cut = (s: string | null) => (s === null ? null : redactText(s, a));
          await tx
            .updateTable('emails')
            .set({
              to_json: withoutAddress(e.to_json, a),
              cc_json: withoutAddress(e.cc_json, a),
              bcc_json: withoutAddress(e.bcc_json, a),
              reply_to_json: withoutAddress(e.reply_to_json, a),
              headers_json: redactText(e.headers_json, a),
              from_header: redactText(e.from_header, a),
              subject: redactText(e.subject, a),
              html: cut(e.html),
              text: cut(e.text),
              // The signed message names every recipient in its headers: it goes.
              raw_blob: null,
              body_purged_at: e.body_purged_at ?? core.clock.now(),
              updated_at: core.clock.now(),
            })
            .where('id', '=', id)
            .execute();
          add('emails_redacted', 1);
        }
      }
    });
  });
  // Remote answers about other recipients that quote the address.
  await inBatches(core, 'email_recipients', 'id', (q) => q.where('workspace_id', '=', ws).where(containsCI('last_response', a)), async (ids) => {
    for (const id of ids) {
      const r = await db.selectFrom('email_recipients').select('last_response').where('id', '=', id).executeTakeFirst();
      await db.updateTable('email_recipients').set({ last_response: redactText(r.last_response, a) }).where('id', '=', id).execute();
    }
  });
}

async function eraseEvents(core: Core, ws: string, a: string, add: Add): Promise<void> {
  await inBatches(core, 'event_records', 'id', (q) => q.where('workspace_id', '=', ws).where(containsCI('payload', a)), async (ids) => {
    await core.store.transaction(async (tx) => {
      add('webhook_attempts', n(await tx.deleteFrom('webhook_attempts').where('event_id', 'in', ids).executeTakeFirst()));
      add('webhook_deliveries', n(await tx.deleteFrom('webhook_deliveries').where('event_id', 'in', ids).executeTakeFirst()));
      add('events', n(await tx.deleteFrom('event_records').where('id', 'in', ids).executeTakeFirst()));
    });
  });
  await inBatches(core, 'webhook_attempts', 'id', (q) => q.where('workspace_id', '=', ws).where((eb: any) => eb.or([containsCI('response', a), containsCI('error', a)])), async (ids) => {
    add('webhook_attempts', n(await core.db.deleteFrom('webhook_attempts').where('id', 'in', ids).executeTakeFirst()));
  });
}

async function eraseSimple(core: Core, ws: string, a: string, add: Add, blobs: Set<string>): Promise<void> {
  const db = core.db as any;
  const encoded = a.replace('@', '%40');
  add('suppressions', n(await db.deleteFrom('suppressions').where('workspace_id', '=', ws).where((eb: any) => eb.or([eb('email', '=', a), containsCI('reason', a)])).executeTakeFirst()));
  add('api_requests', n(await db.deleteFrom('api_requests').where('workspace_id', '=', ws).where((eb: any) => eb.or([containsCI('endpoint', a), containsCI('endpoint', encoded), containsCI('user_agent', a)])).executeTakeFirst()));
  add('forwarding_rules', n(await db.deleteFrom('forwarding_rules').where('workspace_id', '=', ws).where('to_address', '=', a).executeTakeFirst()));
  const captured = await db.selectFrom('captured_messages').select(['id', 'raw_blob']).where('workspace_id', '=', ws).where((eb: any) => eb.or([containsCI('recipients_json', a), equalsCI('envelope_from', a), containsCI('from_header', a)])).execute();
  for (const c of captured) blobs.add(c.raw_blob);
  if (captured.length) add('captured_messages', n(await db.deleteFrom('captured_messages').where('id', 'in', captured.map((c: any) => c.id)).executeTakeFirst()));
  // Finished jobs are operational records: those naming the address go; live ones are left to run.
  add('jobs', n(await db.deleteFrom('jobs').where('status', 'in', ['done', 'dead']).where((eb: any) => eb.or([containsCI('payload', a), containsCI('last_error', a)])).executeTakeFirst()));
  if (await tableExists(core.store, 'contacts')) {
    add('contacts', n(await db.deleteFrom('contacts').where('workspace_id', '=', ws).where(equalsCI('email', a)).executeTakeFirst()));
  }
}

/** The tables other parts registered (src/privacy/erasure-targets.ts). */
async function eraseRegistered(core: Core, ws: string, a: string, add: Add): Promise<void> {
  const db = core.db as any;
  for (const t of erasureTargets()) {
    if (t.custom) add(t.kind, await t.custom(core, ws, a));
    if (!t.equals?.length && !t.contains?.length) continue;
    if (!(await tableExists(core.store, t.table))) continue;
    const key = t.key ?? 'id';
    const where = (q: any) => q.where('workspace_id', '=', ws).where((eb: any) => eb.or([...(t.equals ?? []).map((c) => equalsCI(c, a)), ...(t.contains ?? []).map((c) => containsCI(c, a))]));
    const dependents: NonNullable<typeof t.dependents> = [];
    for (const d of t.dependents ?? []) if (await tableExists(core.store, d.table)) dependents.push(d);
    await inBatches(core, t.table, key, where, async (ids) => {
      await core.store.transaction(async (tx: any) => {
        if (t.mode === 'redact') {
          for (const id of ids) {
            const r = await tx.selectFrom(t.table).select(t.contains!).where(key, '=', id).executeTakeFirst();
            const set: Record<string, string | null> = {};
            for (const c of t.contains!) set[c] = r[c] === null || r[c] === undefined ? null : redactText(String(r[c]), a);
            await tx.updateTable(t.table).set(set).where(key, '=', id).execute();
          }
          add(t.kind, ids.length);
          return;
        }
        for (const d of dependents) add(d.kind, n(await tx.deleteFrom(d.table).where(d.column, 'in', ids).executeTakeFirst()));
        add(t.kind, n(await tx.deleteFrom(t.table).where(key, 'in', ids).executeTakeFirst()));
      });
    });
  }
}

async function eraseMailbox(core: Core, ws: string, a: string, add: Add, blobs: Set<string>): Promise<void> {
  const db = core.db as any;
  const matching = (q: any) =>
    q.where('messages.workspace_id', '=', ws).where((eb: any) =>
      eb.or([
        eb('from_address', '=', a),
        ...['to_json', 'cc_json', 'bcc_json', 'reply_to_json', 'from_header', 'subject', 'snippet', 'received_for_json', 'envelope_from'].map((c) => containsCI(`messages.${c}`, a)),
        eb.exists(
          db
            .selectFrom('message_search')
            .select('message_search.message_id')
            .whereRef('message_search.message_id', '=', 'messages.id')
            .where((e2: any) => e2.or(['sender', 'recipients', 'subject', 'body'].map((c) => containsCI(`message_search.${c}`, a)))),
        ),
      ]),
    );
  for (;;) {
    const rows = await matching(db.selectFrom('messages').select(['messages.id', 'messages.folder_id', 'messages.uid', 'messages.blob_id'])).limit(BATCH).execute();
    if (!rows.length) break;
    const byFolder = new Map<string, number[]>();
    for (const r of rows) {
      blobs.add(r.blob_id);
      byFolder.set(r.folder_id, [...(byFolder.get(r.folder_id) ?? []), Number(r.uid)]);
    }
    for (const [folderId, uids] of byFolder) {
      const gone = await mailTransaction(core, (tx, emit) => expungeMessages(core, tx, emit, { folderId, uids, force: true }));
      add('messages', gone.length);
    }
    await db.deleteFrom('imap_structure_cache').where('blob_id', 'in', rows.map((r: any) => r.blob_id)).execute();
  }
  const drafts = await db
    .selectFrom('drafts')
    .select(['id', 'mailbox_id', 'attachments_json'])
    .where('workspace_id', '=', ws)
    .where((eb: any) => eb.or(['to_json', 'cc_json', 'bcc_json', 'subject', 'html', 'text'].map((c) => containsCI(c, a))))
    .execute();
  for (const d of drafts) for (const b of blobIdsIn(d.attachments_json)) blobs.add(b);
  if (drafts.length) add('drafts', n(await db.deleteFrom('drafts').where('id', 'in', drafts.map((d: any) => d.id)).executeTakeFirst()));
  add('imap_structure_cache', n(await db.deleteFrom('imap_structure_cache').where(containsCI('envelope', a)).executeTakeFirst()));
  // Thread subjects that named the address (threads of other messages stay).
  const threads = await db.selectFrom('threads').select(['id', 'subject', 'normalized_subject']).where('workspace_id', '=', ws).where((eb: any) => eb.or([containsCI('subject', a), containsCI('normalized_subject', a)])).execute();
  for (const t of threads) {
    await db.updateTable('threads').set({ subject: t.subject === null ? null : redactText(t.subject, a), normalized_subject: redactText(t.normalized_subject, a) }).where('id', '=', t.id).execute();
  }
}

async function redactAudit(core: Core, ws: string, a: string, add: Add): Promise<void> {
  const db = core.db as any;
  const cols = ['data', 'actor_label', 'target_id', 'user_agent'] as const;
  const encoded = a.replace('@', '%40');
  await inBatches(core, 'audit_log', 'id', (q) => q.where('workspace_id', '=', ws).where((eb: any) => eb.or(cols.flatMap((c) => [containsCI(c, a), containsCI(c, encoded)]))), async (ids) => {
    for (const id of ids) {
      const r = await db.selectFrom('audit_log').select([...cols]).where('id', '=', id).executeTakeFirst();
      const set: Record<string, string | null> = {};
      for (const c of cols) set[c] = r[c] === null ? null : redactText(r[c], a);
      await db.updateTable('audit_log').set(set).where('id', '=', id).execute();
    }
    add('audit_records_redacted', ids.length);
  });
}

/** Makes deleted bytes unreachable in the store's files (see the notes at the top). */
export async function scrubStorage(core: Core): Promise<void> {
  if (core.store.dialect !== 'sqlite') return;
  await sql`insert into message_fts(message_fts) values ('optimize')`.execute(core.db);
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(core.db);
}
