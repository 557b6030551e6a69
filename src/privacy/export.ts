// Exports (data portability): a zip of a workspace's, a person's or an inbox's data, made by a job
// on the durable queue, downloaded through a signed time-limited link.
//
// Implementation notes (invariants a newcomer must not break):
// - The zip is streamed (yazl) straight to <data>/exports/<id>.zip.tmp and renamed once complete:
//   each entry is a lazy stream over keyset pages (JSON Lines) or over one message blob at a time
//   (mbox), so memory stays bounded whatever the mailbox size.
// - A person's export holds every record of the workspace that names the address (records.ts
//   matches it case-insensitively); secrets never leave: API keys without their hash, domains
//   without the DKIM private key, webhooks without their signing secret.
// - The job is idempotent: a rerun (a crashed worker) starts the file over. An export an erasure
//   has overtaken (status `failed`, file gone) is not resurrected: the job re-reads the row first
//   and again before publishing the file.
// - Only owners and admins (and full-access keys, which act as admins) may export.
// - Exports that carry mail content write a `content.read` audit record when asked for.
import { createWriteStream, mkdirSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import yazl from 'yazl';
import { audit } from '../audit/audit-log.ts';
import { type Actor, type Core, CoreError, invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import { type LinkFetcher, linkActor, openSignedLink, signedLink } from '../core/signed-links.ts';
import type { ExportsTable } from '../db/schema.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { Worker } from '../jobs/worker.ts';
import { blobStore } from '../outbound/accept.ts';
import { mboxMessage } from './mbox.ts';
import { recordExportRead } from './content-access.ts';
import { containsCI, equalsCI, pages, tableExists } from './records.ts';
import { DAY, registerRetentionKind, windowDays, windowFor } from './retention.ts';

export const EXPORT_JOB = 'privacy.export';
const DOWNLOAD_CONTEXT = 'export-download';
const PAGE = 500;
const ADDRESS = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export type ExportScope = 'workspace' | 'person' | 'inbox';

export interface ExportObject {
  object: 'export';
  id: string;
  scope: ExportScope;
  status: ExportsTable['status'];
  progress: { done: number; total: number };
  download_url: string | null;
  expires_at: string | null;
  created_at: string;
}

export function exportsDir(core: Core): string {
  return path.join(core.settings.dataDir, 'exports');
}

export function exportJson(core: Core, row: ExportsTable): ExportObject {
  const link = row.status === 'completed' ? signedLink(core, DOWNLOAD_CONTEXT, row.workspace_id, { d: row.id }, `/v1/exports/${row.id}/download`) : null;
  return {
    object: 'export',
    id: row.id,
    scope: row.scope,
    status: row.status,
    progress: { done: Number(row.done), total: Number(row.total) },
    download_url: link?.download_url ?? null,
    expires_at: link?.expires_at ?? null,
    created_at: new Date(row.created_at).toISOString(),
  };
}

export interface ExportRequest {
  scope?: unknown;
  email?: unknown;
  inbox_id?: unknown;
}

/** Records the request and returns the row; the job (or the CLI) makes the file. */
export async function requestExport(core: Core, actor: Actor, workspaceId: string, body: ExportRequest, opts: { enqueue?: boolean } = {}): Promise<ExportsTable> {
  const scope = body.scope;
  let subject: string | null = null;
  if (scope === 'person') {
    if (typeof body.email !== 'string' || !ADDRESS.test(body.email.trim())) throw invalid('A person export needs `email`, an email address.');
    subject = body.email.trim().toLowerCase();
  } else if (scope === 'inbox') {
    if (typeof body.inbox_id !== 'string' || !body.inbox_id) throw invalid('An inbox export needs `inbox_id`.');
    const mb = await core.db
      .selectFrom('mailboxes')
      .select('id')
      .where('workspace_id', '=', workspaceId)
      .where((eb) => (isUuid(body.inbox_id as string) ? eb('id', '=', body.inbox_id as string) : eb('address', '=', (body.inbox_id as string).toLowerCase())))
      .executeTakeFirst();
    if (!mb) throw notFound('Inbox');
    subject = mb.id;
  } else if (scope !== 'workspace') {
    throw invalid('The `scope` field must be one of workspace, person, inbox.');
  }
  const now = core.clock.now();
  const row: ExportsTable = {
    id: newId(now),
    workspace_id: workspaceId,
    scope,
    subject,
    status: 'queued',
    done: 0,
    total: 0,
    file: null,
    size: null,
    error: null,
    requested_by: `${actor.type}:${actor.id ?? ''}`,
    created_at: now,
    completed_at: null,
    updated_at: now,
  };
  await core.store.transaction(async (tx) => {
    await tx.insertInto('exports').values(row).execute();
    // The person's address is not written to the audit log (an erasure could not find every copy).
    await audit(core, actor, { workspaceId, action: 'export.requested', targetType: 'export', targetId: row.id, data: { scope } }, tx);
    if (opts.enqueue !== false) await core.jobs.enqueue(EXPORT_JOB, { exportId: row.id }, { maxAttempts: 3 }, tx);
  });
  // An export reads mail content on the requester's behalf: one content-read record per inbox it
  // reads, on that inbox (so its owner sees it), unless the requester owns the inbox.
  await recordExportRead(core, actor, workspaceId, await exportMailboxIds(core, row), { userId: actor.type === 'user' ? actor.id : null, exportId: row.id });
  return row;
}

export async function getExport(core: Core, workspaceId: string, id: string): Promise<ExportsTable> {
  const row = isUuid(id) ? await core.db.selectFrom('exports').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw notFound('Export');
  return row;
}

export async function listExports(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('exports').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  return { object: 'list' as const, has_more, data: rows.map((r) => exportJson(core, r as ExportsTable)) };
}

/** The inboxes whose mail an export reads: the one inbox, or every inbox of the workspace. */
async function exportMailboxIds(core: Core, row: Pick<ExportsTable, 'workspace_id' | 'scope' | 'subject'>): Promise<string[]> {
  if (row.scope === 'inbox') return [row.subject!];
  return (await core.db.selectFrom('mailboxes').select('id').where('workspace_id', '=', row.workspace_id).orderBy('id').execute()).map((m) => m.id);
}

/**
 * Opens a download link: the export's file, for the workspace the link was made for. Every fetch
 * is audited before the file is handed out (`export.downloaded`, and a content read per inbox).
 */
export async function openExportDownload(core: Core, id: string, token: unknown, fetcher?: LinkFetcher): Promise<{ file: string; size: number }> {
  const workspaceId = openSignedLink(core, DOWNLOAD_CONTEXT, token, { d: id }, 'export');
  const row = await getExport(core, workspaceId, id);
  if (row.status !== 'completed' || !row.file) throw new CoreError(410, 'not_found', 'The export file is no longer available.');
  const actor = linkActor(fetcher);
  await audit(core, actor, { workspaceId, action: 'export.downloaded', targetType: 'export', targetId: row.id, data: { scope: row.scope, size: Number(row.size ?? 0) } });
  await recordExportRead(core, actor, workspaceId, await exportMailboxIds(core, row), { reason: `download of export ${row.id}` });
  return { file: row.file, size: Number(row.size ?? 0) };
}

// ---- making the file ----

interface Kind {
  /** File name in the zip. */
  name: string;
  count(): Promise<number>;
  rows(): AsyncGenerator<Record<string, unknown>[]>;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const json = (s: string | null) => {
  if (s === null) return null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

async function countOf(q: any): Promise<number> {
  const r = await q.select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** A kind over one table: `base` filters (workspace, person …), rows paged by `key`. */
function tableKind(name: string, base: () => any, map: (r: any) => Record<string, unknown> | Promise<Record<string, unknown>[]>, key = 'id', columns: string[] | '*' = '*', rowKey = key): Kind {
  return {
    name,
    count: () => countOf(base()),
    async *rows() {
      for await (const page of pages(rowKey, PAGE, (after) => {
        let q = base();
        q = columns === '*' ? q.selectAll() : q.select(columns);
        if (after !== null) q = q.where(key, '>', after);
        return q.orderBy(key).limit(PAGE).execute();
      })) {
        const out: Record<string, unknown>[] = [];
        for (const r of page) {
          const m = await map(r);
          if (Array.isArray(m)) out.push(...m);
          else out.push(m);
        }
        yield out;
      }
    },
  };
}

interface Plan {
  kinds: Kind[];
  /** Folders whose (matching) messages become mbox files. */
  folders: { mailboxAddress: string; folderId: string; folderName: string; count: number }[];
  messageFilter: (q: any) => any;
}

async function planFor(core: Core, row: ExportsTable): Promise<Plan> {
  const db = core.db as any;
  const ws = row.workspace_id;
  const person = row.scope === 'person' ? row.subject! : null;
  const inbox = row.scope === 'inbox' ? row.subject! : null;
  const kinds: Kind[] = [];

  if (!person && !inbox) {
    kinds.push(
      tableKind('workspace.jsonl', () => db.selectFrom('workspaces').where('id', '=', ws), (r) => ({ id: r.id, name: r.name, settings: json(r.settings), created_at: iso(r.created_at), closed_at: iso(r.closed_at) })),
      tableKind('api_keys.jsonl', () => db.selectFrom('api_keys').where('workspace_id', '=', ws), (r) => ({ id: r.id, name: r.name, token_hint: r.token_hint, permission: r.permission, domain_id: r.domain_id, created_by: r.created_by, created_at: iso(r.created_at), last_used_at: iso(r.last_used_at) }), 'id', ['id', 'name', 'token_hint', 'permission', 'domain_id', 'created_by', 'created_at', 'last_used_at']),
      tableKind('domains.jsonl', () => db.selectFrom('domains').where('workspace_id', '=', ws), (r) => {
        const { dkim_private_key_enc: _secret, ...rest } = r;
        return { ...rest, capabilities: json(r.capabilities), records: json(r.records), created_at: iso(r.created_at), updated_at: iso(r.updated_at), verified_at: iso(r.verified_at), last_checked_at: iso(r.last_checked_at), verification_started_at: iso(r.verification_started_at) };
      }),
      tableKind('webhooks.jsonl', () => db.selectFrom('webhooks').where('workspace_id', '=', ws), (r) => ({ id: r.id, endpoint: r.endpoint, events: json(r.events), status: r.status, disabled_reason: r.disabled_reason, created_at: iso(r.created_at), updated_at: iso(r.updated_at) }), 'id', ['id', 'endpoint', 'events', 'status', 'disabled_reason', 'created_at', 'updated_at']),
    );
  }
  if (!inbox) {
    kinds.push(
      tableKind(
        'members.jsonl',
        () => {
          let q = db.selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id').where('memberships.workspace_id', '=', ws);
          if (person) q = q.where('users.email', '=', person);
          return q;
        },
        (r) => ({ user_id: r.user_id, email: r.email, name: r.name, role: r.role, created_at: iso(r.created_at) }),
        'users.id',
        ['users.id as user_id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'],
        'user_id',
      ),
      tableKind(
        'emails.jsonl',
        () => {
          let q = db.selectFrom('emails').where('workspace_id', '=', ws);
          if (person) {
            q = q.where((eb: any) =>
              eb.or([
                eb('from_address', '=', person),
                eb.exists(db.selectFrom('email_recipients').select('email_recipients.id').whereRef('email_recipients.email_id', '=', 'emails.id').where('email_recipients.address', '=', person)),
                containsCI('reply_to_json', person),
              ]),
            );
          }
          return q;
        },
        async (r) => {
          const recipients = await db.selectFrom('email_recipients').selectAll().where('email_id', '=', r.id).orderBy('id').execute();
          const { raw_blob: _blob, ...rest } = r;
          return [
            {
              ...rest,
              to: json(r.to_json), cc: json(r.cc_json), bcc: json(r.bcc_json), reply_to: json(r.reply_to_json), headers: json(r.headers_json), tags: json(r.tags_json), attachments: json(r.attachments_json),
              to_json: undefined, cc_json: undefined, bcc_json: undefined, reply_to_json: undefined, headers_json: undefined, tags_json: undefined, attachments_json: undefined,
              created_at: iso(r.created_at), updated_at: iso(r.updated_at), scheduled_at: iso(r.scheduled_at), body_purged_at: iso(r.body_purged_at),
              recipients: recipients.map((x: any) => ({ address: x.address, kind: x.kind, status: x.status, attempts: x.attempts, last_response: x.last_response, last_attempt_at: iso(x.last_attempt_at), mx_host: x.mx_host })),
            },
          ];
        },
      ),
      tableKind(
        'events.jsonl',
        () => {
          let q = db.selectFrom('event_records').where('workspace_id', '=', ws);
          if (person) q = q.where(containsCI('payload', person));
          return q;
        },
        (r) => ({ id: r.id, type: r.type, payload: json(r.payload), created_at: iso(r.created_at) }),
      ),
      tableKind(
        'suppressions.jsonl',
        () => {
          let q = db.selectFrom('suppressions').where('workspace_id', '=', ws);
          if (person) q = q.where('email', '=', person);
          return q;
        },
        (r) => ({ id: r.id, email: r.email, origin: r.origin, reason: r.reason, source_id: r.source_id, created_at: iso(r.created_at) }),
      ),
      tableKind(
        'audit_log.jsonl',
        () => {
          let q = db.selectFrom('audit_log').where('workspace_id', '=', ws);
          if (person) q = q.where((eb: any) => eb.or([containsCI('data', person), equalsCI('actor_label', person), equalsCI('target_id', person)]));
          return q;
        },
        (r) => ({ id: r.id, action: r.action, actor: { type: r.actor_type, id: r.actor_id, label: r.actor_label, ip: r.ip, user_agent: r.user_agent }, target: { type: r.target_type, id: r.target_id }, data: json(r.data), created_at: iso(r.created_at) }),
      ),
    );
    // Contacts come with the campaigns part; exported when that table exists in this store.
    if (await tableExists(core.store, 'contacts')) {
      kinds.push(
        tableKind(
          'contacts.jsonl',
          () => {
            let q = db.selectFrom('contacts').where('workspace_id', '=', ws);
            if (person) q = q.where(equalsCI('email', person));
            return q;
          },
          (r) => ({ ...r }),
        ),
      );
    }
  }
  kinds.push(
    tableKind(
      'mailboxes.jsonl',
      () => {
        let q = db.selectFrom('mailboxes').where('workspace_id', '=', ws);
        if (inbox) q = q.where('id', '=', inbox);
        if (person) q = q.where('address', '=', person);
        return q;
      },
      (r) => ({ id: r.id, address: r.address, name: r.name, from_name: r.from_name, mode: r.mode, quota_bytes: r.quota_bytes, used_bytes: r.used_bytes, created_at: iso(r.created_at) }),
    ),
  );

  const messageFilter = (q: any) => {
    if (!person) return q;
    return q.where((eb: any) =>
      eb.or([
        eb('from_address', '=', person),
        containsCI('to_json', person),
        containsCI('cc_json', person),
        containsCI('bcc_json', person),
        containsCI('reply_to_json', person),
        equalsCI('envelope_from', person),
        containsCI('received_for_json', person),
      ]),
    );
  };
  let fq = db.selectFrom('folders').innerJoin('mailboxes', 'mailboxes.id', 'folders.mailbox_id').select(['folders.id', 'folders.name', 'mailboxes.address']).where('folders.workspace_id', '=', ws);
  if (inbox) fq = fq.where('folders.mailbox_id', '=', inbox);
  const folderRows = await fq.orderBy('mailboxes.address').orderBy('folders.name').execute();
  const folders: Plan['folders'] = [];
  for (const f of folderRows) {
    const count = await countOf(messageFilter(db.selectFrom('messages').where('folder_id', '=', f.id)));
    if (count || !person) folders.push({ mailboxAddress: f.address, folderId: f.id, folderName: f.name, count });
  }
  return { kinds, folders, messageFilter };
}

const README = (row: ExportsTable, kinds: string[], mboxes: string[]) => `Mailstack export ${row.id}
Scope: ${row.scope}${row.scope === 'inbox' ? ` (inbox ${row.subject})` : ''}
Made: ${new Date().toISOString()}

Each .jsonl file holds one JSON object per line:
  workspace.jsonl      the workspace's name and settings
  members.jsonl        members: user id, email, name, role
  api_keys.jsonl       API keys: name, permission, a hint of the token (never the key or its hash)
  domains.jsonl        domains with their DNS records and DKIM public key (never the private key)
  webhooks.jsonl       webhook endpoints and their event types (never the signing secret)
  emails.jsonl         emails sent, each with its per-recipient delivery status
  events.jsonl         events (email.sent, email.delivered ...) with their payloads
  suppressions.jsonl   suppressed addresses and why
  contacts.jsonl       contacts (when this installation has campaigns)
  audit_log.jsonl      the audit log
  mailboxes.jsonl      hosted mailboxes (inboxes)
A person's export holds only the records that name that address; an inbox's, only that inbox.

Files in this export: ${kinds.join(', ') || '(none)'}

mbox/<address>/<folder>.mbox holds the messages of one folder of a hosted mailbox, in the mbox
format of RFC 4155 with mboxrd quoting: each message starts with a "From " line; a body line that
starts with ">*From " has one more ">" in front, to be removed when reading. Lines end with LF.
Folders in this export: ${mboxes.length}
`;

/** Makes the export's file. Idempotent; `onProgress` is told counts as items are written. */
export async function runExport(core: Core, exportId: string, onProgress?: (done: number, total: number) => void): Promise<ExportsTable> {
  const row = await core.db.selectFrom('exports').selectAll().where('id', '=', exportId).executeTakeFirst();
  if (!row || row.status === 'completed' || row.status === 'failed') return row!;
  const started = core.clock.now();
  await core.db.updateTable('exports').set({ status: 'running', done: 0, updated_at: started }).where('id', '=', exportId).execute();
  const dir = exportsDir(core);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${exportId}.zip`);
  const tmp = `${file}.tmp`;
  try {
    const plan = await planFor(core, row);
    let total = plan.folders.reduce((n, f) => n + f.count, 0);
    for (const k of plan.kinds) total += await k.count();
    let done = 0;
    let lastWrite = 0;
    const progressed = async (n: number) => {
      done += n;
      onProgress?.(done, total);
      const now = Date.now();
      if (now - lastWrite > 500) {
        lastWrite = now;
        await core.db.updateTable('exports').set({ done, total, updated_at: core.clock.now() }).where('id', '=', exportId).execute();
      }
    };
    await core.db.updateTable('exports').set({ total, updated_at: core.clock.now() }).where('id', '=', exportId).execute();

    const zip = new yazl.ZipFile();
    const out = createWriteStream(tmp, { mode: 0o600 });
    const finished = new Promise<void>((resolve, reject) => {
      out.on('close', resolve);
      out.on('error', reject);
      zip.outputStream.on('error', reject);
    });
    zip.outputStream.pipe(out);
    const mboxNames = plan.folders.map((f) => `mbox/${safeName(f.mailboxAddress)}/${f.folderName.split('/').map(safeName).join('/')}.mbox`);
    zip.addBuffer(Buffer.from(README(row, plan.kinds.map((k) => k.name), mboxNames)), 'README.txt');
    // Entries are read one after another, each when its turn comes: a failure is surfaced through
    // `failure` and ends the stream, which fails the zip.
    let failure: unknown = null;
    const lazy = (gen: () => AsyncGenerator<Buffer>) =>
      Readable.from(
        (async function* () {
          try {
            yield* gen();
          } catch (err) {
            failure = err;
            throw err;
          }
        })(),
      );
    for (const k of plan.kinds) {
      zip.addReadStream(
        lazy(async function* () {
          for await (const page of k.rows()) {
            yield Buffer.from(page.map((r) => JSON.stringify(r)).join('\n') + '\n');
            await progressed(page.length);
          }
        }),
        k.name,
      );
    }
    const blobs = blobStore(core);
    plan.folders.forEach((f, i) => {
      zip.addReadStream(
        lazy(async function* () {
          for await (const page of pages('uid', PAGE, (after) => {
            let q = plan.messageFilter((core.db as any).selectFrom('messages').where('folder_id', '=', f.folderId)).select(['uid', 'blob_id', 'envelope_from', 'from_address', 'internal_date']);
            if (after !== null) q = q.where('uid', '>', Number(after));
            return q.orderBy('uid').limit(PAGE).execute();
          })) {
            for (const m of page) {
              const body = (await blobs.has(m.blob_id)) ? blobs.stream(m.blob_id) : Readable.from([Buffer.from('')]);
              yield* mboxMessage(body, m.envelope_from ?? m.from_address, Number(m.internal_date));
              await progressed(1);
            }
          }
        }),
        mboxNames[i],
      );
    });
    zip.end();
    await finished;
    if (failure) throw failure;
    // An erasure may have overtaken this export: do not publish a file it meant to remove.
    const now = await core.db.selectFrom('exports').select('status').where('id', '=', exportId).executeTakeFirst();
    if (!now || now.status !== 'running') {
      await rm(tmp, { force: true });
      return (await core.db.selectFrom('exports').selectAll().where('id', '=', exportId).executeTakeFirst())!;
    }
    await rename(tmp, file);
    const size = (await stat(file)).size;
    await core.db.updateTable('exports').set({ status: 'completed', done: total, total, file, size, completed_at: core.clock.now(), updated_at: core.clock.now() }).where('id', '=', exportId).execute();
  } catch (err) {
    await rm(tmp, { force: true });
    await core.db.updateTable('exports').set({ status: 'failed', error: String((err as Error).message ?? err).slice(0, 500), updated_at: core.clock.now() }).where('id', '=', exportId).where('status', '=', 'running').execute();
    throw err;
  }
  return (await core.db.selectFrom('exports').selectAll().where('id', '=', exportId).executeTakeFirst())!;
}

/** A path segment for the zip: no separators, no dot-dot, printable. */
function safeName(s: string): string {
  const cleaned = s.replace(/[\\/\x00-\x1f]/g, '_').replace(/^\.+$/, '_');
  return cleaned || '_';
}

/** Deletes an export's file and row (retention, erasure). */
export async function deleteExport(core: Core, row: Pick<ExportsTable, 'id' | 'file'>): Promise<void> {
  if (row.file) await rm(row.file, { force: true });
  await rm(path.join(exportsDir(core), `${row.id}.zip.tmp`), { force: true });
  await core.db.deleteFrom('exports').where('id', '=', row.id).execute();
}

/**
 * Deletes exports finished (completed or failed) more than `days` ago, file and row, in one
 * workspace or all; returns how many.
 */
export async function purgeExpiredExports(core: Core, days: number, workspaceId?: string): Promise<number> {
  const cutoff = core.clock.now() - days * DAY;
  let total = 0;
  for (;;) {
    let q = core.db.selectFrom('exports').select(['id', 'file']).where('status', 'in', ['completed', 'failed']).where('updated_at', '<', cutoff);
    if (workspaceId !== undefined) q = q.where('workspace_id', '=', workspaceId);
    const rows = await q.orderBy('id').limit(PAGE).execute();
    for (const r of rows) await deleteExport(core, r);
    total += rows.length;
    if (rows.length < PAGE) return total;
  }
}

// Finished exports in the retention table (MAILSTACK_EXPORT_DAYS); a workspace may keep its own shorter.
const EXPORTS_KIND = {
  name: 'exports',
  description: 'finished export files (zip) and their records',
  setting: 'MAILSTACK_EXPORT_DAYS',
  perWorkspace: true,
  window: (core: Core) => ({ days: core.settings.exportDays }),
  async oldest(core: Core) {
    const r = await core.db.selectFrom('exports').select((eb) => eb.fn.min<number>('updated_at').as('t')).where('status', 'in', ['completed', 'failed']).executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  },
  async due(core: Core) {
    let n = 0;
    for (const ws of await core.db.selectFrom('workspaces').select(['id', 'settings']).execute()) {
      const days = windowDays(windowFor(core, EXPORTS_KIND, ws.settings))!;
      n += await countOf(core.db.selectFrom('exports').where('workspace_id', '=', ws.id).where('status', 'in', ['completed', 'failed']).where('updated_at', '<', core.clock.now() - days * DAY));
    }
    return n;
  },
  async purge(core: Core) {
    const out = new Map<string | null, Record<string, number>>();
    for (const ws of await core.db.selectFrom('workspaces').select(['id', 'settings']).execute()) {
      out.set(ws.id, { exports: await purgeExpiredExports(core, windowDays(windowFor(core, EXPORTS_KIND, ws.settings))!, ws.id) });
    }
    return out;
  },
};
registerRetentionKind(EXPORTS_KIND);

export function registerExports(core: Core, worker: Worker, _scheduler: Scheduler): void {
  worker.handle(EXPORT_JOB, async ({ exportId }: { exportId: string }) => {
    try {
      await runExport(core, exportId);
    } catch (err) {
      core.log.warn({ err, exportId }, 'export failed');
    }
  });
}

