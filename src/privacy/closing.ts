// Closing accounts: an owner closes a workspace, a user their own account. Access ends at once
// (API keys, sessions, app passwords, SMTP/IMAP/POP3 logins, mail to its domains refused), the
// owner may reopen within MAILSTACK_CLOSED_ACCOUNT_DAYS, after which the retention job deletes
// everything, leaving only the closed-account record (name, identity, audit trail) for
// MAILSTACK_CLOSED_ACCOUNT_RECORD_DAYS.
//
// Implementation notes (invariants a newcomer must not break):
// - "Closed" is workspaces.closed_at / users.closed_at: every door already refuses a closed
//   workspace (api-keys.ts, members.ts, mailbox-login.ts, inbound route.ts); a closed user is also
//   disabled, so sign-in and account-password logins refuse them, and their sessions are revoked.
// - One closed_accounts row per closed subject; reopening deletes it; deletion sets deleted_at.
// - Deletion goes in bounded batches (messages, emails, events, request log), each its own
//   transaction, then the workspace row, whose foreign keys cascade to the rest (domains and their
//   DKIM keys, mailboxes, folders, webhooks …). Blobs are released only after their rows are gone.
// - The audit log has no foreign key to workspaces: the trail stays with the record and is
//   deleted with it.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, notFound } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { ownerEmails } from '../accounts/members.ts';
import { queueSystemMail } from '../outbound/system-mail.ts';
import { deleteIfUnreferenced } from '../outbound/retention.ts';

const DAY = 86_400_000;
const BATCH = 500;
const iso = (ms: number) => new Date(ms).toISOString();

/** A workspace by id or (exact) name, for the CLI; refuses an ambiguous name. */
export async function findWorkspace(db: Db, idOrName: string) {
  const byId = await db.selectFrom('workspaces').selectAll().where('id', '=', idOrName).executeTakeFirst();
  if (byId) return byId;
  const byName = await db.selectFrom('workspaces').selectAll().where('name', '=', idOrName).execute();
  if (byName.length > 1) throw new CoreError(409, 'validation_error', `${byName.length} workspaces are named ${JSON.stringify(idOrName)}: give its id (${byName.map((w) => w.id).join(', ')})`);
  if (!byName.length) throw notFound('Workspace');
  return byName[0];
}

export interface ClosedJson {
  object: 'workspace' | 'user';
  id: string;
  closed: true;
  closed_at: string;
  /** Until then the owner may reopen; then everything is deleted. */
  deletion_at: string;
  message: string;
}

function closedMessage(what: string, deletionAt: number): string {
  return (
    `${what} is closed: access has ended. Its data will be deleted on ${iso(deletionAt)} ` +
    `(after ${'MAILSTACK_CLOSED_ACCOUNT_DAYS'}); until then it can be reopened, and an export of its data can be made after reopening (POST /v1/exports). ` +
    `A record of the account (its name and audit trail) is kept for a limited time after deletion.`
  );
}

/** Closes a workspace (its owner through the API, or the operator). */
export async function closeWorkspace(core: Core, actor: Actor, workspaceId: string): Promise<ClosedJson> {
  const now = core.clock.now();
  const deleteAfter = now + core.settings.closedAccountDays * DAY;
  const ws = await core.store.transaction(async (tx) => {
    const ws = await tx.selectFrom('workspaces').selectAll().where('id', '=', workspaceId).executeTakeFirst();
    if (!ws) throw notFound('Workspace');
    if (ws.closed_at !== null) throw new CoreError(409, 'validation_error', `The workspace was already closed on ${iso(ws.closed_at)}.`);
    await tx.updateTable('workspaces').set({ closed_at: now, updated_at: now }).where('id', '=', workspaceId).execute();
    await tx
      .insertInto('closed_accounts')
      .values({ id: newId(now), kind: 'workspace', subject_id: workspaceId, name: ws.name, closed_at: now, closed_by: actor.id ?? actor.label, delete_after: deleteAfter, deleted_at: null, removed_json: null })
      .execute();
    await audit(core, actor, { workspaceId, action: 'workspace.closed', targetType: 'workspace', targetId: workspaceId, data: { name: ws.name, deletion_at: iso(deleteAfter) } }, tx);
    for (const to of await ownerEmails(tx, workspaceId)) {
      await queueSystemMail(
        core,
        {
          to,
          subject: `Your Mailstack workspace "${ws.name}" is closed`,
          text:
            `The workspace "${ws.name}" (${workspaceId}) was closed on ${iso(now)} by ${actor.label ?? actor.type}.\n\n` +
            `All of its data will be deleted on ${iso(deleteAfter)}. Until then an owner can reopen it ` +
            `(POST /v1/auth/workspaces/${workspaceId}/reopen while signed in, or ask the operator: mailstack workspace reopen ${workspaceId}) ` +
            `and export its data first (POST /v1/exports).\n`,
        },
        tx,
      );
    }
    return ws;
  });
  core.log.info({ workspaceId }, 'workspace closed');
  return { object: 'workspace', id: ws.id, closed: true, closed_at: iso(now), deletion_at: iso(deleteAfter), message: closedMessage('The workspace', deleteAfter) };
}

/** Reopens a closed workspace whose data is not deleted yet. `byUserId`: must be one of its owners. */
export async function reopenWorkspace(core: Core, actor: Actor, workspaceId: string, byUserId: string | null = null) {
  return core.store.transaction(async (tx) => {
    const ws = await tx.selectFrom('workspaces').selectAll().where('id', '=', workspaceId).executeTakeFirst();
    if (!ws) throw notFound('Workspace');
    if (byUserId) {
      const m = await tx.selectFrom('memberships').select('role').where('workspace_id', '=', workspaceId).where('user_id', '=', byUserId).executeTakeFirst();
      if (m?.role !== 'owner') throw notFound('Workspace');
    }
    if (ws.closed_at === null) throw new CoreError(409, 'validation_error', 'The workspace is not closed.');
    await tx.updateTable('workspaces').set({ closed_at: null, updated_at: core.clock.now() }).where('id', '=', workspaceId).execute();
    await tx.deleteFrom('closed_accounts').where('subject_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'workspace.reopened', targetType: 'workspace', targetId: workspaceId }, tx);
    for (const to of await ownerEmails(tx, workspaceId)) {
      await queueSystemMail(core, { to, subject: `Your Mailstack workspace "${ws.name}" is open again`, text: `The workspace "${ws.name}" (${workspaceId}) was reopened on ${iso(core.clock.now())} by ${actor.label ?? actor.type}. Nothing will be deleted.\n` }, tx);
    }
    return { object: 'workspace' as const, id: ws.id, name: ws.name, closed: false };
  });
}

/**
 * Closes a user's account: signed out everywhere, disabled, and every workspace of which they are
 * the only owner is closed with them.
 */
export async function closeUser(core: Core, actor: Actor, userId: string): Promise<ClosedJson & { workspaces_closed: string[] }> {
  const now = core.clock.now();
  const deleteAfter = now + core.settings.closedAccountDays * DAY;
  const { user, soleOwned } = await core.store.transaction(async (tx) => {
    const user = await tx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw notFound('User');
    if (user.closed_at) throw new CoreError(409, 'validation_error', `The account was already closed on ${iso(user.closed_at)}.`);
    await tx.updateTable('users').set({ closed_at: now, disabled_at: now, updated_at: now }).where('id', '=', userId).execute();
    await tx.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    await tx
      .insertInto('closed_accounts')
      .values({ id: newId(now), kind: 'user', subject_id: userId, name: user.email, closed_at: now, closed_by: actor.id ?? actor.label, delete_after: deleteAfter, deleted_at: null, removed_json: null })
      .execute();
    await audit(core, actor, { workspaceId: null, action: 'user.closed', targetType: 'user', targetId: userId, data: { deletion_at: iso(deleteAfter) } }, tx);
    const owned = await tx
      .selectFrom('memberships')
      .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
      .select('workspaces.id')
      .where('memberships.user_id', '=', userId)
      .where('memberships.role', '=', 'owner')
      .where('workspaces.closed_at', 'is', null)
      .execute();
    const soleOwned: string[] = [];
    for (const w of owned) {
      const others = await tx.selectFrom('memberships').select('user_id').where('workspace_id', '=', w.id).where('role', '=', 'owner').where('user_id', '!=', userId).limit(1).execute();
      if (!others.length) soleOwned.push(w.id);
    }
    await queueSystemMail(
      core,
      {
        to: user.email,
        subject: 'Your Mailstack account is closed',
        text:
          `Your account ${user.email} was closed on ${iso(now)}. You have been signed out everywhere.\n\n` +
          `Its data will be deleted on ${iso(deleteAfter)}; until then the operator can reopen it (mailstack user reopen ${user.email}).` +
          (soleOwned.length ? `\nWorkspaces of which you were the only owner are closed too: ${soleOwned.join(', ')}.` : '') +
          '\n',
      },
      tx,
    );
    return { user, soleOwned };
  });
  for (const w of soleOwned) await closeWorkspace(core, actor, w);
  return { object: 'user', id: user.id, closed: true, closed_at: iso(now), deletion_at: iso(deleteAfter), message: closedMessage('The account', deleteAfter), workspaces_closed: soleOwned };
}

export async function reopenUser(core: Core, actor: Actor, userId: string) {
  return core.store.transaction(async (tx) => {
    const user = await tx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw notFound('User');
    if (!user.closed_at) throw new CoreError(409, 'validation_error', 'The account is not closed.');
    await tx.updateTable('users').set({ closed_at: null, disabled_at: null, updated_at: core.clock.now() }).where('id', '=', userId).execute();
    await tx.deleteFrom('closed_accounts').where('subject_id', '=', userId).execute();
    await audit(core, actor, { workspaceId: null, action: 'user.reopened', targetType: 'user', targetId: userId }, tx);
    await queueSystemMail(core, { to: user.email, subject: 'Your Mailstack account is open again', text: `Your account ${user.email} was reopened on ${iso(core.clock.now())}. Nothing will be deleted.\n` }, tx);
    return { object: 'user' as const, id: user.id, email: user.email, closed: false };
  });
}

/** Deletes rows chosen `BATCH` at a time by `pick`, releasing the blobs they named after commit. */
async function inBatches(core: Core, pick: () => Promise<{ ids: string[]; blobs: string[] }>, remove: (ids: string[]) => Promise<void>): Promise<{ rows: number; blobs: number }> {
  let rows = 0;
  let blobs = 0;
  for (;;) {
    const batch = await pick();
    if (!batch.ids.length) break;
    await remove(batch.ids);
    rows += batch.ids.length;
    for (const b of new Set(batch.blobs)) if (await deleteIfUnreferenced(core, b)) blobs++;
    await core.db.deleteFrom('imap_structure_cache').where('blob_id', 'in', batch.blobs.length ? batch.blobs : ['-']).execute();
  }
  return { rows, blobs };
}

function blobIdsIn(json: string | null): string[] {
  return [...(json ?? '').matchAll(/[0-9a-f]{64}/g)].map((m) => m[0]);
}

/** Deletes every row and blob of a workspace (but not its audit trail). Returns counts by kind. */
export async function deleteWorkspaceData(core: Core, workspaceId: string): Promise<Record<string, number>> {
  const w = workspaceId;
  const messages = await inBatches(
    core,
    async () => {
      const rows = await core.db.selectFrom('messages').select(['id', 'blob_id']).where('workspace_id', '=', w).limit(BATCH).execute();
      return { ids: rows.map((r) => r.id), blobs: rows.map((r) => r.blob_id) };
    },
    // message_search and message_attachments go with their message (ON DELETE CASCADE; on SQLite a trigger clears FTS).
    (ids) => core.store.transaction(async (tx) => void (await tx.deleteFrom('messages').where('id', 'in', ids).execute())),
  );
  const emails = await inBatches(
    core,
    async () => {
      const rows = await core.db.selectFrom('emails').select(['id', 'raw_blob', 'attachments_json']).where('workspace_id', '=', w).limit(BATCH).execute();
      return { ids: rows.map((r) => r.id), blobs: rows.flatMap((r) => [...(r.raw_blob ? [r.raw_blob] : []), ...blobIdsIn(r.attachments_json)]) };
    },
    (ids) => core.store.transaction(async (tx) => void (await tx.deleteFrom('emails').where('id', 'in', ids).execute())),
  );
  const drafts = await inBatches(
    core,
    async () => {
      const rows = await core.db.selectFrom('drafts').select(['id', 'attachments_json']).where('workspace_id', '=', w).limit(BATCH).execute();
      return { ids: rows.map((r) => r.id), blobs: rows.flatMap((r) => blobIdsIn(r.attachments_json)) };
    },
    async (ids) => void (await core.db.deleteFrom('drafts').where('id', 'in', ids).execute()),
  );
  const captured = await inBatches(
    core,
    async () => {
      const rows = await core.db.selectFrom('captured_messages').select(['id', 'raw_blob']).where('workspace_id', '=', w).limit(BATCH).execute();
      return { ids: rows.map((r) => r.id), blobs: rows.map((r) => r.raw_blob) };
    },
    async (ids) => void (await core.db.deleteFrom('captured_messages').where('id', 'in', ids).execute()),
  );
  // Webhook deliveries and their attempts (the payloads) go with their event.
  const events = await inBatches(
    core,
    async () => ({ ids: (await core.db.selectFrom('event_records').select('id').where('workspace_id', '=', w).limit(BATCH).execute()).map((r) => r.id), blobs: [] }),
    async (ids) => void (await core.db.deleteFrom('event_records').where('id', 'in', ids).execute()),
  );
  const requests = await inBatches(
    core,
    async () => ({ ids: (await core.db.selectFrom('api_requests').select('id').where('workspace_id', '=', w).limit(BATCH).execute()).map((r) => r.id), blobs: [] }),
    async (ids) => void (await core.db.deleteFrom('api_requests').where('id', 'in', ids).execute()),
  );
  const domains = await core.db.selectFrom('domains').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', w).executeTakeFirstOrThrow();
  const mailboxes = await core.db.selectFrom('mailboxes').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', w).executeTakeFirstOrThrow();
  await core.store.transaction(async (tx) => {
    // Tables that name the workspace without a foreign key to it.
    await tx.deleteFrom('jobs').where('payload', 'like', `%${w}%`).execute();
    // Everything else (domains with their DKIM keys, mailboxes, folders, threads, webhooks, keys,
    // members, suppressions …) cascades from the workspace row.
    await tx.deleteFrom('workspaces').where('id', '=', w).execute();
  });
  return {
    messages: messages.rows,
    emails: emails.rows,
    drafts: drafts.rows,
    captured: captured.rows,
    events: events.rows,
    api_requests: requests.rows,
    domains: Number(domains.n),
    mailboxes: Number(mailboxes.n),
    blobs: messages.blobs + emails.blobs + drafts.blobs + captured.blobs,
  };
}

/** The retention kind `closed_accounts`: deletes the data of accounts closed longer than the window. */
export async function deleteDueClosedAccounts(core: Core): Promise<Map<string | null, Record<string, number>>> {
  const out = new Map<string | null, Record<string, number>>();
  const now = core.clock.now();
  const due = await core.db
    .selectFrom('closed_accounts')
    .selectAll()
    .where('deleted_at', 'is', null)
    .where('closed_at', '<=', now - core.settings.closedAccountDays * DAY)
    .orderBy('closed_at')
    .limit(100)
    .execute();
  for (const rec of due) {
    let removed: Record<string, number>;
    if (rec.kind === 'workspace') {
      removed = await deleteWorkspaceData(core, rec.subject_id);
    } else {
      removed = await core.store.transaction(async (tx) => {
        await tx.updateTable('mailboxes').set({ owner_user_id: null }).where('owner_user_id', '=', rec.subject_id).execute();
        const memberships = await tx.deleteFrom('memberships').where('user_id', '=', rec.subject_id).executeTakeFirst();
        // Sessions and sign-in links go with the user (ON DELETE CASCADE).
        const users = await tx.deleteFrom('users').where('id', '=', rec.subject_id).executeTakeFirst();
        return { users: Number(users.numDeletedRows), memberships: Number(memberships.numDeletedRows) };
      });
    }
    await core.db.updateTable('closed_accounts').set({ deleted_at: core.clock.now(), removed_json: JSON.stringify(removed) }).where('id', '=', rec.id).execute();
    await audit(core, { type: 'system', id: null, label: 'system', ip: null, userAgent: null }, {
      workspaceId: rec.kind === 'workspace' ? rec.subject_id : null,
      action: `${rec.kind}.deleted`,
      targetType: rec.kind,
      targetId: rec.subject_id,
      data: { closed_at: iso(rec.closed_at), removed },
    });
    out.set(rec.kind === 'workspace' ? rec.subject_id : null, { [rec.kind === 'workspace' ? 'workspaces' : 'users']: 1 });
  }
  return out;
}

/** The retention kind `closed_account_records`: the record and its audit trail, once its own window ends. */
export async function purgeClosedAccountRecords(core: Core): Promise<Map<string | null, Record<string, number>>> {
  const now = core.clock.now();
  const due = await core.db
    .selectFrom('closed_accounts')
    .selectAll()
    .where('deleted_at', '<=', now - core.settings.closedAccountRecordDays * DAY)
    .limit(100)
    .execute();
  let records = 0;
  let auditRows = 0;
  for (const rec of due) {
    for (;;) {
      let q = core.db.selectFrom('audit_log').select('id');
      q = rec.kind === 'workspace' ? q.where('workspace_id', '=', rec.subject_id) : q.where((eb) => eb.or([eb('actor_id', '=', rec.subject_id), eb('target_id', '=', rec.subject_id)]));
      const ids = (await q.limit(BATCH).execute()).map((r) => r.id);
      if (!ids.length) break;
      auditRows += Number((await core.db.deleteFrom('audit_log').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
    }
    await core.db.deleteFrom('closed_accounts').where('id', '=', rec.id).execute();
    records++;
  }
  return new Map([[null, { records, audit_log: auditRows }]]);
}

/** The retention kind `revoked_inboxes`: an inbox whose name was revoked, once the closed window ends; frees its address. */
export async function deleteDueRevokedInboxes(core: Core): Promise<Map<string | null, Record<string, number>>> {
  const out = new Map<string | null, Record<string, number>>();
  const due = await core.db
    .selectFrom('mailboxes')
    .select(['id', 'workspace_id', 'address'])
    .where('revoked_at', '<=', core.clock.now() - core.settings.closedAccountDays * DAY)
    .limit(100)
    .execute();
  for (const m of due) {
    const messages = await inBatches(
      core,
      async () => {
        const rows = await core.db.selectFrom('messages').select(['id', 'blob_id']).where('mailbox_id', '=', m.id).limit(BATCH).execute();
        return { ids: rows.map((r) => r.id), blobs: rows.map((r) => r.blob_id) };
      },
      (ids) => core.store.transaction(async (tx) => void (await tx.deleteFrom('messages').where('id', 'in', ids).execute())),
    );
    const drafts = await core.db.selectFrom('drafts').select('attachments_json').where('mailbox_id', '=', m.id).execute();
    await core.store.transaction(async (tx) => {
      await tx.updateTable('domains').set({ catch_all_mailbox_id: null }).where('catch_all_mailbox_id', '=', m.id).execute();
      // Folders, threads, labels, drafts, app passwords, alias targets go with it (ON DELETE CASCADE).
      await tx.deleteFrom('mailboxes').where('id', '=', m.id).execute();
    });
    let blobs = messages.blobs;
    for (const b of new Set(drafts.flatMap((d) => blobIdsIn(d.attachments_json)))) if (await deleteIfUnreferenced(core, b)) blobs++;
    const prev = out.get(m.workspace_id) ?? { inboxes: 0, messages: 0, blobs: 0 };
    out.set(m.workspace_id, { inboxes: prev.inboxes + 1, messages: prev.messages + messages.rows, blobs: prev.blobs + blobs });
  }
  return out;
}
