// Forwarding rules of a hosted mailbox (our /v1/inboxes/{id}/forwarding): send every message the
// inbox receives on to an outside address, keeping a copy in the inbox or not. Applied by the MX
// (deliver.ts, forward.ts) through the outbound pipeline with an SRS envelope sender.
//
// Implementation notes:
// - Scoped by workspace: an inbox or rule of another workspace is `not_found`.
// - A rule may be created only when the inbox's domain may send (verified for sending): the
//   forward leaves DKIM-signed from it, and a rule that could never work should fail now, in the
//   API, not silently at the first message. (Should the domain lose its verification later, the
//   MX keeps the message in the inbox instead of losing it.)
// - The target may not be the inbox's own address (an immediate loop); other loops are caught by
//   the MX's forwarding marker and Received count.
// - At most MAX_FORWARDS_PER_MAILBOX rules per inbox; each change commits with its audit record.
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid, notFound } from '../core/core.ts';
import { isUuid, newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { ForwardingRulesTable, MailboxesTable } from '../db/schema.ts';
import { domainForSending } from '../domains/domains.ts';
import { normalizeHostedAddress } from './address.ts';
import { MAX_FORWARDS_PER_MAILBOX } from './deliver.ts';

async function findInbox(db: Db, workspaceId: string, id: string): Promise<MailboxesTable> {
  if (!isUuid(id)) throw notFound('Inbox');
  const row = await db.selectFrom('mailboxes').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Inbox');
  return row;
}

async function findRule(db: Db, workspaceId: string, inboxId: string, id: string): Promise<ForwardingRulesTable> {
  if (!isUuid(id)) throw notFound('Forwarding rule');
  const row = await db
    .selectFrom('forwarding_rules')
    .selectAll()
    .where('id', '=', id)
    .where('mailbox_id', '=', inboxId)
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (!row) throw notFound('Forwarding rule');
  return row;
}

function checkTo(raw: unknown, inbox: MailboxesTable): string {
  const to = normalizeHostedAddress(raw);
  if (!to || !to.slice(to.lastIndexOf('@') + 1).includes('.')) {
    throw invalid('The `to` field must be an email address such as someone@example.net.');
  }
  if (to === inbox.address) throw invalid('An inbox cannot forward to its own address.');
  return to;
}

function checkBool(raw: unknown, field: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'boolean') throw invalid(`The \`${field}\` field must be true or false.`);
  return raw;
}

async function assertCanSend(core: Core, inbox: MailboxesTable): Promise<void> {
  const d = await core.db.selectFrom('domains').select('name').where('id', '=', inbox.domain_id).executeTakeFirst();
  try {
    if (!d) throw new Error('no domain');
    await domainForSending(core, inbox.workspace_id, d.name);
  } catch {
    throw invalid(`Forwarding sends from ${d?.name ?? "the inbox's domain"}, which is not verified for sending. Verify the domain first.`);
  }
}

function ruleJson(row: ForwardingRulesTable) {
  return {
    object: 'forwarding_rule' as const,
    id: row.id,
    inbox_id: row.mailbox_id,
    to: row.to_address,
    keep_copy: row.keep_copy === 1,
    enabled: row.enabled === 1,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export async function listForwarding(core: Core, workspaceId: string, inboxId: string, page: PageRequest) {
  await findInbox(core.db, workspaceId, inboxId);
  const q = core.db.selectFrom('forwarding_rules').selectAll().where('workspace_id', '=', workspaceId).where('mailbox_id', '=', inboxId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(ruleJson) };
}

export async function getForwarding(core: Core, workspaceId: string, inboxId: string, id: string) {
  await findInbox(core.db, workspaceId, inboxId);
  return ruleJson(await findRule(core.db, workspaceId, inboxId, id));
}

export async function createForwarding(core: Core, actor: Actor, workspaceId: string, inboxId: string, input: { to?: unknown; keep_copy?: unknown; enabled?: unknown }) {
  const inbox = await findInbox(core.db, workspaceId, inboxId);
  const to = checkTo(input.to, inbox);
  const keepCopy = checkBool(input.keep_copy, 'keep_copy') ?? true;
  // Honoured as given: a rule made disabled forwards nothing until it is enabled (issue 9).
  const enabled = checkBool(input.enabled, 'enabled') ?? true;
  if (inbox.mode === 'agent') throw invalid('An agent inbox delivers by webhook only; forwarding rules do not apply to it.');
  if (enabled) await assertCanSend(core, inbox);
  return core.store.transaction(async (tx) => {
    const existing = await tx.selectFrom('forwarding_rules').select(['id', 'to_address']).where('mailbox_id', '=', inboxId).execute();
    if (existing.length >= MAX_FORWARDS_PER_MAILBOX) throw invalid(`An inbox may have at most ${MAX_FORWARDS_PER_MAILBOX} forwarding rules.`);
    if (existing.some((r) => r.to_address === to)) throw invalid(`This inbox already forwards to ${to}.`);
    const now = core.clock.now();
    const row: ForwardingRulesTable = { id: newId(now), workspace_id: workspaceId, mailbox_id: inboxId, to_address: to, keep_copy: keepCopy ? 1 : 0, enabled: enabled ? 1 : 0, created_at: now, updated_at: now };
    await tx.insertInto('forwarding_rules').values(row).execute();
    await audit(core, actor, { workspaceId, action: 'inbox.forwarding.created', targetType: 'forwarding_rule', targetId: row.id, data: { inbox_id: inboxId, to, keep_copy: keepCopy, enabled } }, tx);
    return ruleJson(row);
  });
}

export async function updateForwarding(
  core: Core,
  actor: Actor,
  workspaceId: string,
  inboxId: string,
  id: string,
  input: { to?: unknown; keep_copy?: unknown; enabled?: unknown },
) {
  const inbox = await findInbox(core.db, workspaceId, inboxId);
  await findRule(core.db, workspaceId, inboxId, id);
  const to = input.to === undefined ? undefined : checkTo(input.to, inbox);
  const keepCopy = checkBool(input.keep_copy, 'keep_copy');
  const enabled = checkBool(input.enabled, 'enabled');
  if (enabled) await assertCanSend(core, inbox);
  return core.store.transaction(async (tx) => {
    const before = await findRule(tx, workspaceId, inboxId, id);
    if (to !== undefined && to !== before.to_address) {
      const dup = await tx.selectFrom('forwarding_rules').select('id').where('mailbox_id', '=', inboxId).where('to_address', '=', to).executeTakeFirst();
      if (dup) throw invalid(`This inbox already forwards to ${to}.`);
    }
    const now = core.clock.now();
    const row: ForwardingRulesTable = {
      ...before,
      to_address: to ?? before.to_address,
      keep_copy: keepCopy === undefined ? before.keep_copy : keepCopy ? 1 : 0,
      enabled: enabled === undefined ? before.enabled : enabled ? 1 : 0,
      updated_at: now,
    };
    await tx
      .updateTable('forwarding_rules')
      .set({ to_address: row.to_address, keep_copy: row.keep_copy, enabled: row.enabled, updated_at: now })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .execute();
    const changes: Record<string, unknown> = {};
    if (row.to_address !== before.to_address) changes.to = { from: before.to_address, to: row.to_address };
    if (row.keep_copy !== before.keep_copy) changes.keep_copy = { from: before.keep_copy === 1, to: row.keep_copy === 1 };
    if (row.enabled !== before.enabled) changes.enabled = { from: before.enabled === 1, to: row.enabled === 1 };
    await audit(core, actor, { workspaceId, action: 'inbox.forwarding.updated', targetType: 'forwarding_rule', targetId: id, data: { inbox_id: inboxId, ...changes } }, tx);
    return ruleJson(row);
  });
}

export async function removeForwarding(core: Core, actor: Actor, workspaceId: string, inboxId: string, id: string) {
  await findInbox(core.db, workspaceId, inboxId);
  await core.store.transaction(async (tx) => {
    const row = await findRule(tx, workspaceId, inboxId, id);
    await tx.deleteFrom('forwarding_rules').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'inbox.forwarding.removed', targetType: 'forwarding_rule', targetId: id, data: { inbox_id: inboxId, to: row.to_address } }, tx);
  });
  return { object: 'forwarding_rule' as const, id, deleted: true };
}
