// Retention per kind of data: one table of windows, each from a setting, enforced by a scheduled
// job and by `mailstack retention run`. Other parts add their kinds with registerRetentionKind
// (finished exports and backups are registered by their own modules).
//
// Implementation notes (invariants a newcomer must not break):
// - A workspace may shorten, never lengthen, a window that concerns it: the window in force is
//   min(operator's setting, the workspace's own `retention.<kind>`). A setting of 0 days means
//   "everything older than now", removed at the next run.
// - Every purge works in bounded batches (BATCH rows a statement, each its own transaction), so a
//   purge of a million rows never holds SQLite's write lock for long; a run is idempotent.
// - Each run writes one audit record per kind that removed something (`retention.run`, the counts
//   and the window), in the workspace the rows belonged to when the kind is per workspace.
// - A blob is removed only when no row refers to it (BLOB_REFERENCES in src/outbound/retention.ts,
//   re-checked after the delete); the sweep of unreferenced blobs leaves young files alone, since a
//   writer stores the blob before it commits the row that names it.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { workspaceSettings } from '../accounts/workspaces.ts';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, systemActor } from '../core/core.ts';
import type { Scheduler } from '../jobs/scheduler.ts';
import type { Worker } from '../jobs/worker.ts';
import { MAIL_PURGE_JOB, runMailPurge, trashDaysByWorkspace } from '../mailstore/purge.ts';
import { RETENTION_JOB, blobReferenced, deleteIfUnreferenced, retentionDaysOf, runRetention } from '../outbound/retention.ts';
import { deleteDueClosedAccounts, deleteDueRevokedInboxes, purgeClosedAccountRecords } from './closing.ts';

export const PRIVACY_RETENTION_JOB = 'privacy.retention';
export const DAY = 86_400_000;
export const BATCH = 500;
/** A blob file younger than this is never swept: its row may not be committed yet. */
const BLOB_GRACE_MS = DAY;

export type RetentionWindow = { days: number } | { count: number };

export interface RetentionKind {
  /** The key in `retention status`, the workspace's `retention` settings and the audit record. */
  name: string;
  /** What the kind holds, for people. */
  description: string;
  /** The MAILSTACK_* setting of the window (null for a kind with no window of its own). */
  setting: string | null;
  /** The operator's window. */
  window(core: Core): RetentionWindow;
  /** A workspace may set a shorter window of this kind (in days). */
  perWorkspace: boolean;
  /** The oldest item held (epoch ms), or null when there is none. */
  oldest(core: Core): Promise<number | null>;
  /** How many items a run now would remove. */
  due(core: Core): Promise<number>;
  /**
   * Removes what is due, in bounded batches. Returns counts by what was removed, per workspace
   * for a per-workspace kind (key null: rows of no workspace).
   */
  purge(core: Core): Promise<Map<string | null, Record<string, number>>>;
  /** A job that already runs this purge on its own schedule; the retention job leaves it to that one. */
  scheduledBy?: string;
}

const KINDS = new Map<string, RetentionKind>();

/** Adds a kind to the table (a later registration of the same name replaces the earlier one). */
export function registerRetentionKind(kind: RetentionKind): void {
  KINDS.set(kind.name, kind);
}

export function retentionKinds(): RetentionKind[] {
  return [...KINDS.values()];
}

/** The window in force for a workspace: its own when shorter, else the operator's. */
export function windowFor(core: Core, kind: RetentionKind, settingsJson: string | null): RetentionWindow {
  const operator = kind.window(core);
  if (!kind.perWorkspace || !('days' in operator) || settingsJson === null) return operator;
  if (kind.name === 'messages') return { days: retentionDaysOf(core, settingsJson) };
  const own = ownWindows(settingsJson)[kind.name];
  return typeof own === 'number' && own < operator.days ? { days: own } : operator;
}

export function windowDays(w: RetentionWindow): number | null {
  return 'days' in w ? w.days : null;
}

function ownWindows(settingsJson: string): Record<string, number> {
  const r = workspaceSettings(settingsJson).retention;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return {};
  return Object.fromEntries(Object.entries(r as Record<string, unknown>).filter(([, v]) => typeof v === 'number' && Number.isInteger(v) && v >= 0)) as Record<string, number>;
}

/** The windows in force for a workspace, as GET /v1/workspace/retention shows them. */
export async function workspaceRetention(core: Core, workspaceId: string) {
  const ws = await core.db.selectFrom('workspaces').select('settings').where('id', '=', workspaceId).executeTakeFirstOrThrow();
  const own = ownWindows(ws.settings);
  const legacy = workspaceSettings(ws.settings).retention_days;
  if (typeof legacy === 'number' && own.messages === undefined) own.messages = legacy;
  return {
    object: 'retention' as const,
    windows: retentionKinds()
      .filter((k) => k.setting !== null)
      .map((k) => {
        const operator = k.window(core);
        const inForce = windowFor(core, k, ws.settings);
        return {
          kind: k.name,
          description: k.description,
          setting: k.setting,
          ...('days' in inForce ? { days: inForce.days } : { count: inForce.count }),
          operator_days: windowDays(operator),
          workspace_days: k.perWorkspace && own[k.name] !== undefined ? own[k.name] : null,
          can_shorten: k.perWorkspace,
        };
      }),
  };
}

/** Sets the workspace's own windows: each a whole number of days no longer than the operator's, or null to clear. */
export async function setWorkspaceRetention(core: Core, actor: Actor, workspaceId: string, changes: Record<string, unknown>) {
  const entries = Object.entries(changes);
  if (!entries.length) throw invalid('Give at least one kind with its number of days, e.g. { "audit_log": 30 }.');
  for (const [name, days] of entries) {
    const kind = KINDS.get(name);
    if (!kind || !kind.perWorkspace) {
      const names = retentionKinds().filter((k) => k.perWorkspace).map((k) => k.name);
      throw invalid(`\`${name}\` is not a window a workspace may set; it may set ${names.join(', ')}.`);
    }
    const operator = windowDays(kind.window(core))!;
    if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 0)) throw invalid(`\`${name}\` must be a whole number of days (0 or more), or null for the operator's window.`);
    if (typeof days === 'number' && days > operator) {
      throw invalid(`\`${name}\` may only be shortened: this server keeps it ${operator} days (${kind.setting}); a workspace may not keep it longer.`);
    }
  }
  await core.store.transaction(async (tx) => {
    const ws = await tx.selectFrom('workspaces').select('settings').where('id', '=', workspaceId).executeTakeFirstOrThrow();
    const settings = workspaceSettings(ws.settings);
    const own = ownWindows(ws.settings);
    const before = { ...own };
    for (const [name, days] of entries) {
      if (days === null) delete own[name];
      else own[name] = days as number;
    }
    settings.retention = own;
    await tx.updateTable('workspaces').set({ settings: JSON.stringify(settings), updated_at: core.clock.now() }).where('id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'workspace.retention_updated', targetType: 'workspace', targetId: workspaceId, data: { from: before, to: own } }, tx);
  });
  return workspaceRetention(core, workspaceId);
}

export interface KindStatus {
  kind: string;
  setting: string | null;
  window: RetentionWindow;
  oldest: string | null;
  due: number;
}

/** The table with the oldest item of each kind and what is due, for `mailstack retention status`. */
export async function retentionStatus(core: Core): Promise<KindStatus[]> {
  const out: KindStatus[] = [];
  for (const k of retentionKinds()) {
    const oldest = await k.oldest(core);
    out.push({ kind: k.name, setting: k.setting, window: k.window(core), oldest: oldest === null ? null : new Date(Number(oldest)).toISOString(), due: await k.due(core) });
  }
  return out;
}

/** Runs every purge (or, for the scheduled job, those no other job runs) and audits each kind's counts. */
export async function runRetentionKinds(core: Core, opts: { all?: boolean; actor?: Actor } = {}): Promise<Record<string, Record<string, number>>> {
  const actor = opts.actor ?? systemActor;
  const report: Record<string, Record<string, number>> = {};
  for (const k of retentionKinds()) {
    if (!opts.all && k.scheduledBy) continue;
    const byWorkspace = await k.purge(core);
    const total: Record<string, number> = {};
    for (const [workspaceId, counts] of byWorkspace) {
      for (const [what, n] of Object.entries(counts)) total[what] = (total[what] ?? 0) + n;
      if (!Object.values(counts).some((n) => n > 0)) continue;
      // Nothing is left to hold the record of a workspace that was just deleted: its closed-account record keeps the counts.
      const exists = workspaceId === null || !!(await core.db.selectFrom('workspaces').select('id').where('id', '=', workspaceId).executeTakeFirst());
      await audit(core, actor, {
        workspaceId: exists ? workspaceId : null,
        action: 'retention.run',
        targetType: 'retention_kind',
        targetId: k.name,
        data: { kind: k.name, window: k.window(core), removed: counts },
      });
    }
    report[k.name] = total;
  }
  return report;
}

/** Deletes, BATCH rows at a time, rows of `table` older than `cutoff` (by created_at) in one workspace (or none). */
async function deleteOlder(core: Core, table: 'audit_log' | 'api_requests', workspaceId: string | null, cutoff: number): Promise<number> {
  let total = 0;
  for (;;) {
    let q = core.db.selectFrom(table).select('id').where('created_at', '<', cutoff);
    q = workspaceId === null ? q.where('workspace_id', 'is', null) : q.where('workspace_id', '=', workspaceId);
    const ids = (await q.orderBy('created_at').limit(BATCH).execute()).map((r) => r.id);
    if (!ids.length) break;
    const r = await core.db.deleteFrom(table).where('id', 'in', ids).executeTakeFirst();
    total += Number(r.numDeletedRows);
    if (ids.length < BATCH) break;
  }
  return total;
}

async function workspacesWithSettings(core: Core) {
  return core.db.selectFrom('workspaces').select(['id', 'settings']).execute();
}

async function countOlder(core: Core, table: 'audit_log' | 'api_requests', kind: RetentionKind): Promise<number> {
  let n = 0;
  const now = core.clock.now();
  for (const ws of await workspacesWithSettings(core)) {
    const days = windowDays(windowFor(core, kind, ws.settings))!;
    const r = await core.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', ws.id).where('created_at', '<', now - days * DAY).executeTakeFirstOrThrow();
    n += Number(r.n);
  }
  if (table === 'audit_log') {
    const r = await core.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', 'is', null).where('created_at', '<', now - windowDays(kind.window(core))! * DAY).executeTakeFirstOrThrow();
    n += Number(r.n);
  }
  return n;
}

async function oldestOf(core: Core, table: 'audit_log' | 'api_requests' | 'emails'): Promise<number | null> {
  const r = await core.db.selectFrom(table).select((eb) => eb.fn.min<number>('created_at').as('t')).executeTakeFirst();
  return r?.t === null || r?.t === undefined ? null : Number(r.t);
}

function tableKind(name: string, table: 'audit_log' | 'api_requests', setting: string, description: string, days: (core: Core) => number): RetentionKind {
  const kind: RetentionKind = {
    name,
    description,
    setting,
    perWorkspace: true,
    window: (core) => ({ days: days(core) }),
    oldest: (core) => oldestOf(core, table),
    due: (core) => countOlder(core, table, kind),
    async purge(core) {
      const out = new Map<string | null, Record<string, number>>();
      const now = core.clock.now();
      for (const ws of await workspacesWithSettings(core)) {
        out.set(ws.id, { [table]: await deleteOlder(core, table, ws.id, now - windowDays(windowFor(core, kind, ws.settings))! * DAY) });
      }
      if (table === 'audit_log') out.set(null, { [table]: await deleteOlder(core, table, null, now - days(core) * DAY) });
      return out;
    },
  };
  return kind;
}

/** Walks the blob folder; removes files older than the grace that no row refers to. */
async function sweepBlobs(core: Core, count: boolean): Promise<number> {
  const root = path.join(core.settings.dataDir, 'blobs');
  const cutoff = core.clock.now() - BLOB_GRACE_MS;
  let n = 0;
  const list = async (dir: string) => {
    try {
      return await readdir(dir);
    } catch {
      return [];
    }
  };
  for (const a of await list(root)) {
    for (const b of await list(path.join(root, a))) {
      for (const id of await list(path.join(root, a, b))) {
        if (!/^[0-9a-f]{64}$/.test(id)) continue;
        const st = await stat(path.join(root, a, b, id)).catch(() => null);
        // The file's own time, not the clock's: a blob written a moment ago is young whatever the clock says.
        if (!st || st.mtimeMs > Math.min(cutoff, Date.now() - BLOB_GRACE_MS)) continue;
        if (count) {
          if (!(await blobReferenced(core.db, id))) n++;
        } else if (await deleteIfUnreferenced(core, id)) n++;
      }
    }
  }
  return n;
}

registerRetentionKind({
  name: 'messages',
  description: 'sent message bodies, attachments and delivery detail (the metadata stays)',
  setting: 'MAILSTACK_RETENTION_DAYS',
  perWorkspace: true,
  window: (core) => ({ days: core.settings.retentionDays }),
  oldest: async (core) => {
    const r = await core.db.selectFrom('emails').select((eb) => eb.fn.min<number>('created_at').as('t')).where('body_purged_at', 'is', null).executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  },
  async due(core) {
    let n = 0;
    const now = core.clock.now();
    for (const ws of await workspacesWithSettings(core)) {
      const days = windowDays(windowFor(core, KINDS.get('messages')!, ws.settings))!;
      const r = await core.db.selectFrom('emails').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', ws.id).where('body_purged_at', 'is', null).where('created_at', '<', now - days * DAY).executeTakeFirstOrThrow();
      n += Number(r.n);
    }
    return n;
  },
  async purge(core) {
    const r = await runRetention(core);
    return new Map([[null, { emails: r.emails, blobs_deleted: r.blobs_deleted, events: r.events }]]);
  },
  scheduledBy: RETENTION_JOB,
});

registerRetentionKind({
  name: 'trash',
  description: 'messages in Trash and Junk folders',
  setting: 'MAILSTACK_TRASH_DAYS',
  perWorkspace: true,
  window: (core) => ({ days: core.settings.trashDays }),
  oldest: async (core) => {
    const r = await core.db
      .selectFrom('messages')
      .innerJoin('folders', 'folders.id', 'messages.folder_id')
      .select((eb) => eb.fn.min<number>('messages.created_at').as('t'))
      .where('folders.special_use', 'in', ['trash', 'junk'])
      .executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  },
  async due(core) {
    let n = 0;
    for (const [workspaceId, days] of await trashDaysByWorkspace(core)) {
      const r = await core.db
        .selectFrom('messages')
        .innerJoin('folders', 'folders.id', 'messages.folder_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('folders.workspace_id', '=', workspaceId)
        .where('folders.special_use', 'in', ['trash', 'junk'])
        .where('messages.created_at', '<', core.clock.now() - days * DAY)
        .executeTakeFirstOrThrow();
      n += Number(r.n);
    }
    return n;
  },
  async purge(core) {
    return new Map([[null, { messages: await runMailPurge(core) }]]);
  },
  scheduledBy: MAIL_PURGE_JOB,
});

registerRetentionKind(tableKind('audit_log', 'audit_log', 'MAILSTACK_AUDIT_RETENTION_DAYS', 'the audit log', (core) => core.settings.auditRetentionDays));
registerRetentionKind(tableKind('request_log', 'api_requests', 'MAILSTACK_REQUEST_LOG_DAYS', 'the API request log (logs.list)', (core) => core.settings.requestLogDays));

registerRetentionKind({
  name: 'closed_accounts',
  description: "a closed workspace's or user's data (rows, blobs, search index, DKIM keys, webhook payloads)",
  setting: 'MAILSTACK_CLOSED_ACCOUNT_DAYS',
  perWorkspace: false,
  window: (core) => ({ days: core.settings.closedAccountDays }),
  oldest: async (core) => {
    const r = await core.db.selectFrom('closed_accounts').select((eb) => eb.fn.min<number>('closed_at').as('t')).where('deleted_at', 'is', null).executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  },
  async due(core) {
    const r = await core.db
      .selectFrom('closed_accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('deleted_at', 'is', null)
      .where('closed_at', '<=', core.clock.now() - core.settings.closedAccountDays * DAY)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },
  purge: (core) => deleteDueClosedAccounts(core),
});

registerRetentionKind({
  name: 'revoked_inboxes',
  description: "a revoked inbox's mail (kept for the owner's export), then its name is free again",
  setting: 'MAILSTACK_CLOSED_ACCOUNT_DAYS',
  perWorkspace: false,
  window: (core) => ({ days: core.settings.closedAccountDays }),
  oldest: async (core) => {
    const r = await core.db.selectFrom('mailboxes').select((eb) => eb.fn.min<number>('revoked_at').as('t')).where('revoked_at', 'is not', null).executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  },
  async due(core) {
    const r = await core.db
      .selectFrom('mailboxes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('revoked_at', '<=', core.clock.now() - core.settings.closedAccountDays * DAY)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },
  purge: (core) => deleteDueRevokedInboxes(core),
});

registerRetentionKind({
  name: 'closed_account_records',
  description: 'what is kept of a closed account after deletion: its name, identity and audit trail',
  setting: 'MAILSTACK_CLOSED_ACCOUNT_RECORD_DAYS',
  perWorkspace: false,
  window: (core) => ({ days: core.settings.closedAccountRecordDays }),
  oldest: async (core) => {
    const r = await core.db.selectFrom('closed_accounts').select((eb) => eb.fn.min<number>('deleted_at').as('t')).where('deleted_at', 'is not', null).executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  },
  async due(core) {
    const r = await core.db
      .selectFrom('closed_accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('deleted_at', '<=', core.clock.now() - core.settings.closedAccountRecordDays * DAY)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },
  purge: (core) => purgeClosedAccountRecords(core),
});

registerRetentionKind({
  name: 'unreferenced_blobs',
  description: 'stored bodies and attachments no row refers to any more (never one still referenced)',
  setting: null,
  perWorkspace: false,
  window: () => ({ days: 1 }),
  oldest: async () => null,
  due: (core) => sweepBlobs(core, true),
  purge: async (core) => new Map([[null, { blobs: await sweepBlobs(core, false) }]]),
});

export function registerPrivacyRetention(core: Core, worker: Worker, scheduler: Scheduler): void {
  scheduler.every(PRIVACY_RETENTION_JOB, 3_600_000);
  worker.handle(PRIVACY_RETENTION_JOB, async () => {
    const report = await runRetentionKinds(core);
    core.log.info({ report }, 'retention pass done');
  });
}
