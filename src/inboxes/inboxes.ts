// Resend's `inboxes.create, list, get, update, remove` and `inboxes.agent.get, update` over the
// mail store's mailboxes.
//
// Implementation notes:
// - An inbox address must be in a domain of the caller's workspace whose receiving capability is
//   enabled and whose receiving MX record has verified: addresses are unique on the node (the MX
//   routes by them), so an unverified domain must not let one workspace squat another's address.
// - Creating the same address again in the same workspace answers the existing inbox (idempotent);
//   an address taken by another inbox, an alias or another workspace is 409 (the message does not
//   say which, so nothing leaks).
// - Agent settings are stored in mailboxes.agent_json and validated against the SDK's lists; no
//   model is run.
import { roleOf } from '../accounts/members.ts';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { invalid } from '../core/core.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import { emitEvent } from '../events/webhooks.ts';
import { receivingDomainFor } from '../inbound/aliases.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { createMailbox, deleteMailbox } from '../mailstore/mailboxes.ts';
import { parseMailbox } from '../outbound/addresses.ts';
import { type Inbox, body, conflict, inboxFor, iso, optionalBool, optionalText } from './common.ts';

export const INBOX_AGENT_ACTIONS = ['draft_reply', 'forward_thread', 'add_labels', 'assign_thread', 'mark_as_spam', 'archive', 'move_to_trash'] as const;
export const INBOX_AGENT_TONES = ['concise_professional', 'concise_casual', 'expanded_professional', 'expanded_casual'] as const;
const MAX_NAME = 256;
const MAX_INSTRUCTIONS = 10_000;

async function inboxStats(core: Core, inbox: Inbox) {
  const unread = await core.db
    .selectFrom('messages')
    .innerJoin('folders', 'folders.id', 'messages.folder_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('messages.mailbox_id', '=', inbox.id)
    .where('folders.special_use', '=', 'inbox')
    .where('messages.seen', '=', 0)
    .executeTakeFirst();
  const last = await core.db
    .selectFrom('messages')
    .select((eb) => eb.fn.max('internal_date').as('t'))
    .where('mailbox_id', '=', inbox.id)
    .where('direction', '=', 'inbound')
    .executeTakeFirst();
  return { unread: Number(unread?.n ?? 0), last_received: iso(last?.t === null || last?.t === undefined ? null : Number(last.t)) };
}

function listJson(inbox: Inbox, stats: { unread: number; last_received: string | null }) {
  return {
    id: inbox.id,
    name: inbox.name,
    email_address: inbox.address,
    from_name: inbox.from_name,
    owner_user_id: inbox.owner_user_id,
    unread: stats.unread,
    last_received: stats.last_received,
    created_at: iso(inbox.created_at)!,
    updated_at: iso(inbox.updated_at)!,
  };
}

/**
 * `owner_user_id` of a create or update body: undefined when absent, null to clear, else the id of a
 * member of this workspace (who then sees the inbox in the webmail). Another workspace's user, or
 * no user at all, is the same 422, so nothing about other workspaces leaks.
 */
async function ownerOf(core: Core, workspaceId: string, b: Record<string, unknown>): Promise<string | null | undefined> {
  const v = b.owner_user_id;
  if (v === undefined || v === null) return v as undefined | null;
  if (typeof v !== 'string' || v.length > 100) throw invalid('The `owner_user_id` field must be the id of a member of this workspace, or null.');
  if (!(await roleOf(core.db, workspaceId, v))) throw invalid('The `owner_user_id` field must be the id of a member of this workspace.');
  return v;
}

export async function createInbox(core: Core, actor: Actor, workspaceId: string, raw: unknown) {
  const b = body(raw);
  if (b.email_address === undefined || b.email_address === null || b.email_address === '') {
    throw invalid('Missing `email_address` field.');
  }
  const mb = typeof b.email_address === 'string' ? parseMailbox(b.email_address) : null;
  if (!mb || mb.name !== '' || /[<>]/.test(b.email_address as string)) {
    throw invalid('The `email_address` field must be a plain email address, such as support@example.com.');
  }
  const address = mb.address.toLowerCase();
  if (address.length > 254) throw invalid('The `email_address` field must be at most 254 characters.');
  const name = optionalText(b, 'name', MAX_NAME);
  const fromName = optionalText(b, 'from_name', MAX_NAME);
  const forwarding = optionalBool(b, 'forwarding');
  const owner = await ownerOf(core, workspaceId, b);

  const domain = await receivingDomainFor(core, core.db, workspaceId, address);

  return mailTransaction(core, async (tx, emit) => {
    const existing = await tx.selectFrom('mailboxes').selectAll().where('address', '=', address).executeTakeFirst();
    if (existing) {
      // A revoked name is held until its mail is deleted (src/privacy/suspension.ts): not handed out, not even to its workspace.
      if (existing.revoked_at) throw conflict(`The address ${address} was revoked; it can be given to an inbox again once the revoked inbox's mail is deleted (MAILSTACK_CLOSED_ACCOUNT_DAYS after revocation).`);
      if (existing.workspace_id === workspaceId) return { object: 'inbox' as const, id: existing.id };
      throw conflict(`The address ${address} is already in use.`);
    }
    const alias = await tx.selectFrom('aliases').select('id').where('address', '=', address).executeTakeFirst();
    if (alias) throw conflict(`The address ${address} is already in use.`);
    const inbox = await createMailbox(core, tx, emit, {
      workspaceId,
      domainId: domain.id,
      address,
      name: name ?? null,
      fromName: fromName ?? null,
      forwarding: forwarding ?? false,
      ownerUserId: owner ?? null,
    });
    await audit(core, actor, { workspaceId, action: 'inbox.created', targetType: 'inbox', targetId: inbox.id, data: { email_address: address } }, tx);
    await emitEvent(core, workspaceId, 'inbox.created', { source: 'api', inbox_id: inbox.id, id: inbox.id, email_address: address, name: inbox.name }, tx);
    return { object: 'inbox' as const, id: inbox.id };
  });
}

export async function listInboxes(core: Core, workspaceId: string, page: PageRequest) {
  const { rows, has_more } = await paginate(core.db.selectFrom('mailboxes').selectAll().where('workspace_id', '=', workspaceId), 'id', page);
  const data = [];
  for (const r of rows) data.push(listJson(r, await inboxStats(core, r)));
  return { object: 'list' as const, has_more, data };
}

export async function getInbox(core: Core, workspaceId: string, selector: string) {
  const inbox = await inboxFor(core.db, workspaceId, selector);
  const stats = await inboxStats(core, inbox);
  const drafts = await core.db.selectFrom('drafts').select((eb) => eb.fn.countAll<number>().as('n')).where('mailbox_id', '=', inbox.id).executeTakeFirst();
  return {
    object: 'inbox' as const,
    id: inbox.id,
    name: inbox.name,
    email_address: inbox.address,
    domain_id: inbox.domain_id,
    // The inbox's own address is where its mail is received; Mailstack has no separate one.
    receiving_address: inbox.address,
    from_name: inbox.from_name,
    owner_user_id: inbox.owner_user_id,
    unread: stats.unread,
    drafts: Number(drafts?.n ?? 0),
    last_received: stats.last_received,
    created_at: iso(inbox.created_at)!,
    updated_at: iso(inbox.updated_at)!,
  };
}

export async function updateInbox(core: Core, actor: Actor, workspaceId: string, selector: string, raw: unknown) {
  const b = body(raw);
  const name = optionalText(b, 'name', MAX_NAME);
  const fromName = optionalText(b, 'from_name', MAX_NAME);
  const owner = await ownerOf(core, workspaceId, b);
  if (name === undefined && fromName === undefined && owner === undefined) throw invalid('Give at least one of `name`, `from_name` and `owner_user_id`.');
  return core.store.transaction(async (tx) => {
    const inbox = await inboxFor(tx, workspaceId, selector);
    const set: { name?: string | null; from_name?: string | null; owner_user_id?: string | null; updated_at: number } = { updated_at: core.clock.now() };
    if (name !== undefined) set.name = name;
    if (fromName !== undefined) set.from_name = fromName;
    if (owner !== undefined) set.owner_user_id = owner;
    await tx.updateTable('mailboxes').set(set).where('id', '=', inbox.id).execute();
    await audit(core, actor, { workspaceId, action: 'inbox.updated', targetType: 'inbox', targetId: inbox.id, data: { name, from_name: fromName, owner_user_id: owner } }, tx);
    await emitEvent(core, workspaceId, 'inbox.updated', { source: 'api', inbox_id: inbox.id, id: inbox.id, email_address: inbox.address, name: name === undefined ? inbox.name : name }, tx);
    return { object: 'inbox' as const, id: inbox.id };
  });
}

export async function removeInbox(core: Core, actor: Actor, workspaceId: string, selector: string) {
  const inbox = await inboxFor(core.db, workspaceId, selector);
  await deleteMailbox(core, workspaceId, inbox.id, async (tx) => {
    await audit(core, actor, { workspaceId, action: 'inbox.deleted', targetType: 'inbox', targetId: inbox.id, data: { email_address: inbox.address } }, tx);
    await emitEvent(core, workspaceId, 'inbox.deleted', { source: 'api', inbox_id: inbox.id, id: inbox.id, email_address: inbox.address }, tx);
  });
  return { object: 'inbox' as const, id: inbox.id, deleted: true };
}

// ---- Agent settings ----------------------------------------------------------------------------

interface AgentSettings {
  instructions: string | null;
  tone: (typeof INBOX_AGENT_TONES)[number] | null;
  actions: (typeof INBOX_AGENT_ACTIONS)[number][];
}

function agentOf(inbox: Inbox): AgentSettings {
  let v: any = {};
  try {
    v = JSON.parse(inbox.agent_json || '{}') ?? {};
  } catch {
    v = {};
  }
  return {
    instructions: typeof v.instructions === 'string' ? v.instructions : null,
    tone: (INBOX_AGENT_TONES as readonly string[]).includes(v.tone) ? v.tone : null,
    actions: Array.isArray(v.actions) ? v.actions.filter((a: unknown) => (INBOX_AGENT_ACTIONS as readonly unknown[]).includes(a)) : [],
  };
}

export async function getAgent(core: Core, workspaceId: string, selector: string) {
  const inbox = await inboxFor(core.db, workspaceId, selector);
  return { object: 'inbox_agent' as const, ...agentOf(inbox) };
}

export async function updateAgent(core: Core, actor: Actor, workspaceId: string, selector: string, raw: unknown) {
  const b = body(raw);
  const instructions = optionalText(b, 'instructions', MAX_INSTRUCTIONS, { multiline: true });
  let tone: AgentSettings['tone'] | undefined;
  if (b.tone !== undefined) {
    if (b.tone !== null && !(INBOX_AGENT_TONES as readonly unknown[]).includes(b.tone)) throw invalid(`The \`tone\` field must be one of ${INBOX_AGENT_TONES.join(', ')}, or null.`);
    tone = b.tone as AgentSettings['tone'];
  }
  let actions: AgentSettings['actions'] | undefined;
  if (b.actions !== undefined) {
    if (!Array.isArray(b.actions)) throw invalid('The `actions` field must be an array.');
    for (const a of b.actions) {
      if (!(INBOX_AGENT_ACTIONS as readonly unknown[]).includes(a)) throw invalid(`Each of \`actions\` must be one of ${INBOX_AGENT_ACTIONS.join(', ')}.`);
    }
    actions = [...new Set(b.actions as AgentSettings['actions'])];
  }
  if (instructions === undefined && tone === undefined && actions === undefined) throw invalid('Give at least one of `instructions`, `tone` and `actions`.');
  return core.store.transaction(async (tx) => {
    const inbox = await inboxFor(tx, workspaceId, selector);
    const next = { ...agentOf(inbox) };
    if (instructions !== undefined) next.instructions = instructions;
    if (tone !== undefined) next.tone = tone;
    if (actions !== undefined) next.actions = actions;
    await tx.updateTable('mailboxes').set({ agent_json: JSON.stringify(next), updated_at: core.clock.now() }).where('id', '=', inbox.id).execute();
    await audit(core, actor, { workspaceId, action: 'inbox.agent_updated', targetType: 'inbox', targetId: inbox.id, data: { tone: next.tone, actions: next.actions } }, tx);
    return { object: 'inbox_agent' as const, id: inbox.id };
  });
}
