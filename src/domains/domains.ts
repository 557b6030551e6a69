// Domains: the names a workspace sends from (and receives at), their DNS records, DKIM keys and
// verification. The HTTP door (src/http/routes/domains.ts) speaks Resend's /domains API over these.
//
// Implementation notes:
// - Every query is scoped by workspace_id; a domain of another workspace is `not_found`, never
//   "forbidden", so its existence cannot be inferred. Rows are unique per workspace (the 0001
//   unique constraint), so one workspace cannot learn that another has added a name; but only one
//   row per name is its owner, the one that proved control with its own token (ownership.ts).
// - The DKIM private key exists in plain text only in memory: it is sealed by the vault with the
//   context `dkim:<domain id>` (so a ciphertext copied into another row does not open) before the
//   row is written, and is listed in SEALED_COLUMNS so `mailstack keys rotate` re-seals it.
// - The records to publish are computed from the row and MAILSTACK_HOSTNAME each time (records.ts);
//   the row stores only each record's last checked status, keyed by the value that was checked.
// - Verification runs as a `domain.verify` job (verify.ts): DNS is looked up outside any
//   transaction (a slow resolver must not hold SQLite's write lock), then the statuses are written
//   in one transaction that re-reads the row, so a domain removed or changed meanwhile is handled.
// - A status change is announced through domainUpdated() inside the same transaction as the change.
// - domainForSending() is the only way the sending pipeline gets a key: it demands that every record
//   sending depends on (DKIM, the return-path MX and SPF) is verified.
// RFCs: DKIM RFC 6376 (Ed25519 RFC 8463), SPF RFC 7208, DMARC RFC 7489.
import { emitEvent } from '../events/webhooks.ts';
import { audit } from '../audit/audit-log.ts';
import type { Actor, Core } from '../core/core.ts';
import { CoreError, invalid, notFound, systemActor } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import { type PageRequest, paginate } from '../db/paginate.ts';
import type { DomainsTable } from '../db/schema.ts';
import { DKIM_ALGORITHMS, type DkimAlgorithm, generateDkimKey, newSelector } from './dkim-keys.ts';
import { normalizeDomainName, normalizeLabel } from './names.ts';
import { newChallengeToken, unprovenMessage } from './ownership.ts';
import { type Capabilities, type DomainStatus, type MergedRecord, capabilitiesOf, domainStatusOf, mergedRecords, sendingVerified } from './records.ts';

export type DomainRow = DomainsTable;
export const DOMAIN_VERIFY_JOB = 'domain.verify';

export const REGIONS = ['us-east-1', 'eu-west-1', 'sa-east-1', 'ap-northeast-1'] as const;

export interface CreateDomainInput {
  name: unknown;
  region?: unknown;
  custom_return_path?: unknown;
  capabilities?: unknown;
  open_tracking?: unknown;
  click_tracking?: unknown;
  tls?: unknown;
  tracking_subdomain?: unknown;
  /** Mailstack's extension: 'rsa' (default, 2048 bits) or 'ed25519' (RFC 8463). */
  dkim_algorithm?: unknown;
}

export type UpdateDomainInput = Omit<CreateDomainInput, 'name' | 'region' | 'custom_return_path' | 'dkim_algorithm'>;

// ---- Input checks ---------------------------------------------------------------------------

function checkCapabilities(raw: unknown, base: Capabilities): Capabilities {
  if (raw === undefined || raw === null) return base;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('The `capabilities` field must be an object with `sending` and/or `receiving`.');
  const out = { ...base };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k !== 'sending' && k !== 'receiving') throw invalid('The `capabilities` field may only hold `sending` and `receiving`.');
    if (v !== 'enabled' && v !== 'disabled') throw invalid(`The \`capabilities.${k}\` field must be "enabled" or "disabled".`);
    out[k] = v;
  }
  if (out.sending === 'disabled' && out.receiving === 'disabled') throw invalid('At least one of `capabilities.sending` and `capabilities.receiving` must be enabled.');
  return out;
}

function checkBool(raw: unknown, field: string): boolean | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'boolean') throw invalid(`The \`${field}\` field must be true or false.`);
  return raw;
}

function checkTls(raw: unknown): 'opportunistic' | 'enforced' | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw !== 'opportunistic' && raw !== 'enforced') throw invalid('The `tls` field must be "opportunistic" or "enforced".');
  return raw;
}

// ---- JSON in Resend's shape ---------------------------------------------------------------------

function recordJson(r: MergedRecord) {
  return {
    record: r.record,
    name: r.name,
    type: r.type,
    ttl: 'Auto',
    status: r.status,
    value: r.value,
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
    required: r.required,
    ...(r.note ? { note: r.note } : {}),
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The list item (Resend's Domain). */
export function domainSummaryJson(row: DomainRow) {
  return {
    id: row.id,
    name: row.name,
    status: row.status as DomainStatus,
    created_at: new Date(row.created_at).toISOString(),
    region: row.region,
    capabilities: capabilitiesOf(row),
    open_tracking: row.open_tracking === 1,
    click_tracking: row.click_tracking === 1,
    ...(row.tracking_subdomain ? { tracking_subdomain: row.tracking_subdomain } : {}),
  };
}

/** The full domain with its records (Resend's GetDomainResponse, plus our own fields). */
export function domainJson(core: Core, row: DomainRow) {
  return {
    object: 'domain' as const,
    ...domainSummaryJson(row),
    custom_return_path: row.return_path,
    tls: row.tls,
    dkim: { selector: row.dkim_selector, algorithm: row.dkim_algorithm },
    last_checked_at: iso(row.last_checked_at),
    verified_at: iso(row.verified_at),
    // Mailstack's: when this workspace proved control of the name (null: not proven, see ownership.ts).
    ownership_verified_at: iso(row.owned_at),
    records: mergedRecords(row, core.settings.hostname, core.settings).map(recordJson),
  };
}

/** Resend's DomainEventData, what domain.* webhooks carry. */
function domainEventData(core: Core, row: DomainRow) {
  const { id, name, status, created_at, region, records } = domainJson(core, row);
  return { id, name, status, created_at, region, records };
}

// ---- Reads ----------------------------------------------------------------------------------------

async function findDomain(db: Db, workspaceId: string, id: string): Promise<DomainRow> {
  const row = await db.selectFrom('domains').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('Domain');
  return row;
}

export async function getDomain(core: Core, workspaceId: string, id: string) {
  return domainJson(core, await findDomain(core.db, workspaceId, id));
}

export async function listDomains(core: Core, workspaceId: string, page: PageRequest) {
  const q = core.db.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId);
  const { rows, has_more } = await paginate(q, 'id', page);
  return { object: 'list' as const, has_more, data: rows.map(domainSummaryJson) };
}

// ---- Writes ---------------------------------------------------------------------------------------

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/i.test(e?.message ?? '');
}

const duplicate = (name: string) => invalid(`The domain ${name} has already been added to this workspace.`);

export async function createDomain(core: Core, actor: Actor, workspaceId: string, input: CreateDomainInput) {
  const name = normalizeDomainName(input.name);
  const region = input.region ?? 'us-east-1';
  if (typeof region !== 'string' || !(REGIONS as readonly string[]).includes(region)) {
    throw new CoreError(422, 'invalid_region', `The \`region\` field must be one of ${REGIONS.join(', ')}.`);
  }
  const returnPath = input.custom_return_path === undefined || input.custom_return_path === null ? 'send' : normalizeLabel(input.custom_return_path, 'custom_return_path');
  const capabilities = checkCapabilities(input.capabilities, { sending: 'enabled', receiving: 'disabled' });
  const trackingSubdomain = input.tracking_subdomain === undefined || input.tracking_subdomain === null ? null : normalizeLabel(input.tracking_subdomain, 'tracking_subdomain');
  const algorithm = (input.dkim_algorithm ?? 'rsa') as DkimAlgorithm;
  if (!DKIM_ALGORITHMS.includes(algorithm)) throw invalid('The `dkim_algorithm` field must be "rsa" or "ed25519".');
  const openTracking = checkBool(input.open_tracking, 'open_tracking') ?? false;
  const clickTracking = checkBool(input.click_tracking, 'click_tracking') ?? false;
  const tls = checkTls(input.tls) ?? 'opportunistic';

  // A cheap early answer for a duplicate, before spending time on a key; the unique constraint
  // below is what actually guarantees it under concurrency.
  const exists = await core.db.selectFrom('domains').select('id').where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
  if (exists) throw duplicate(name);

  const key = await generateDkimKey(algorithm);
  const now = core.clock.now();
  const id = newId(now);
  const row: DomainRow = {
    id,
    workspace_id: workspaceId,
    name,
    created_at: now,
    status: 'not_started',
    region,
    capabilities: JSON.stringify(capabilities),
    return_path: returnPath,
    open_tracking: openTracking ? 1 : 0,
    click_tracking: clickTracking ? 1 : 0,
    tls,
    tracking_subdomain: trackingSubdomain,
    dkim_selector: newSelector(now),
    dkim_algorithm: algorithm,
    dkim_public_key: key.publicKey,
    dkim_private_key_enc: core.vault.encrypt(key.privateKeyPem, `dkim:${id}`),
    records: '[]',
    verification_started_at: null,
    last_checked_at: null,
    verified_at: null,
    updated_at: now,
    catch_all_mailbox_id: null,
    challenge_token: newChallengeToken(),
    owned_at: null,
    postmaster_mailbox_id: null,
  };
  try {
    await core.store.transaction(async (tx) => {
      await tx.insertInto('domains').values(row).execute();
      await audit(
        core,
        actor,
        { workspaceId, action: 'domain.created', targetType: 'domain', targetId: id, data: { name, region, capabilities, return_path: returnPath, dkim: { selector: row.dkim_selector, algorithm } } },
        tx,
      );
      await emitEvent(core, workspaceId, 'domain.created', domainEventData(core, row), tx);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw duplicate(name);
    throw err;
  }
  return domainJson(core, row);
}

export async function updateDomain(core: Core, actor: Actor, workspaceId: string, id: string, input: UpdateDomainInput) {
  const openTracking = checkBool(input.open_tracking, 'open_tracking');
  const clickTracking = checkBool(input.click_tracking, 'click_tracking');
  const tls = checkTls(input.tls);
  const trackingSubdomain = input.tracking_subdomain === undefined || input.tracking_subdomain === null ? undefined : normalizeLabel(input.tracking_subdomain, 'tracking_subdomain');
  await core.store.transaction(async (tx) => {
    const row = await findDomain(tx, workspaceId, id);
    const before = capabilitiesOf(row);
    const capabilities = checkCapabilities(input.capabilities, before);
    const next: DomainRow = {
      ...row,
      capabilities: JSON.stringify(capabilities),
      open_tracking: openTracking === undefined ? row.open_tracking : openTracking ? 1 : 0,
      click_tracking: clickTracking === undefined ? row.click_tracking : clickTracking ? 1 : 0,
      tls: tls ?? row.tls,
      tracking_subdomain: trackingSubdomain === undefined ? row.tracking_subdomain : trackingSubdomain,
      updated_at: core.clock.now(),
    };
    // A capability change adds or drops records (the receiving MX), which can change the status.
    next.status = domainStatusOf(mergedRecords(next, core.settings.hostname), row.verified_at !== null);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of ['capabilities', 'open_tracking', 'click_tracking', 'tls', 'tracking_subdomain', 'status'] as const) {
      if (row[k] !== next[k]) changes[k] = { from: row[k], to: next[k] };
    }
    await tx
      .updateTable('domains')
      .set({
        capabilities: next.capabilities,
        open_tracking: next.open_tracking,
        click_tracking: next.click_tracking,
        tls: next.tls,
        tracking_subdomain: next.tracking_subdomain,
        status: next.status,
        updated_at: next.updated_at,
      })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .execute();
    await audit(core, actor, { workspaceId, action: 'domain.updated', targetType: 'domain', targetId: id, data: { name: row.name, changes } }, tx);
    await emitEvent(core, workspaceId, 'domain.updated', domainEventData(core, await findDomain(tx, workspaceId, id)), tx);
    // A newly required record (receiving turned on) is checked at once if verification has begun.
    if (changes.capabilities && row.verification_started_at !== null) {
      await core.jobs.enqueue(DOMAIN_VERIFY_JOB, { domainId: id }, { uniqueKey: `${DOMAIN_VERIFY_JOB}:${id}`, maxAttempts: 3 }, tx);
    }
  });
  return { object: 'domain' as const, id };
}

/** Removes the domain. API keys held to it go with it (api_keys.domain_id … ON DELETE CASCADE). */
export async function removeDomain(core: Core, actor: Actor, workspaceId: string, id: string) {
  await core.store.transaction(async (tx) => {
    const row = await findDomain(tx, workspaceId, id);
    await tx.deleteFrom('domains').where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await audit(core, actor, { workspaceId, action: 'domain.removed', targetType: 'domain', targetId: id, data: { name: row.name } }, tx);
    await emitEvent(core, workspaceId, 'domain.deleted', domainEventData(core, row), tx);
  });
  return { object: 'domain' as const, id, deleted: true };
}

/**
 * Starts (or restarts) verification: unchecked records become `pending`, the grace period for
 * absent records starts again, and a `domain.verify` job is queued (one per domain at a time).
 */
export async function requestVerification(core: Core, actor: Actor, workspaceId: string, id: string) {
  await core.store.transaction(async (tx) => {
    const row = await findDomain(tx, workspaceId, id);
    const now = core.clock.now();
    const next: DomainRow = { ...row, verification_started_at: now, updated_at: now };
    next.status = domainStatusOf(mergedRecords(next, core.settings.hostname), row.verified_at !== null);
    await tx
      .updateTable('domains')
      .set({ verification_started_at: now, status: next.status, updated_at: now })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .execute();
    await audit(core, actor, { workspaceId, action: 'domain.verification_requested', targetType: 'domain', targetId: id, data: { name: row.name } }, tx);
    if (next.status !== row.status) await domainUpdated(core, next, row.status, tx);
    await core.jobs.enqueue(DOMAIN_VERIFY_JOB, { domainId: id }, { uniqueKey: `${DOMAIN_VERIFY_JOB}:${id}`, maxAttempts: 3 }, tx);
  });
  return { object: 'domain' as const, id };
}

/**
 * The `domain.updated` event (webhooks and the audit log): the domain's status changed. Call it inside the transaction that
 * made the change, so the record of it commits (or rolls back) with the change.
 */
export async function domainUpdated(core: Core, row: DomainRow, previousStatus: string, db: Db = core.db): Promise<void> {
  await emitEvent(core, row.workspace_id, 'domain.updated', domainEventData(core, row), db);
  await audit(
    core,
    systemActor,
    { workspaceId: row.workspace_id, action: 'domain.updated', targetType: 'domain', targetId: row.id, data: { name: row.name, status: { from: previousStatus, to: row.status } } },
    db,
  );
}

// ---- For the sending pipeline -----------------------------------------------------------------------

export interface SendingDomain {
  id: string;
  name: string;
  /** The return-path (bounce) host, e.g. send.example.com. */
  returnPathHost: string;
  tls: 'opportunistic' | 'enforced';
  dkim: { selector: string; algorithm: DkimAlgorithm; privateKey: string };
}

/**
 * The workspace's domain for a From domain, with its DKIM key opened, if it may send: it exists in
 * this workspace, sending is enabled and every record sending depends on is verified. Otherwise a
 * 403 in Resend's words. The match is exact: a subdomain must be added and verified on its own.
 */
export async function domainForSending(core: Core, workspaceId: string, fromDomain: string): Promise<SendingDomain> {
  let name: string;
  try {
    name = normalizeDomainName(fromDomain);
  } catch {
    throw invalid('The `from` field must hold a valid email address with a domain.');
  }
  const notVerified = new CoreError(403, 'validation_error', `The ${name} domain is not verified. Please add and verify your domain.`);
  const row = await core.db.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
  if (!row || capabilitiesOf(row).sending !== 'enabled' || !row.dkim_private_key_enc || !row.dkim_selector) throw notVerified;
  // One sending identity per name on the instance: only the workspace that proved control sends as it.
  if (row.owned_at === null) throw new CoreError(403, 'validation_error', unprovenMessage(name));
  if (!sendingVerified(mergedRecords(row, core.settings.hostname))) throw notVerified;
  return {
    id: row.id,
    name: row.name,
    returnPathHost: `${row.return_path}.${row.name}`,
    tls: row.tls === 'enforced' ? 'enforced' : 'opportunistic',
    dkim: { selector: row.dkim_selector, algorithm: row.dkim_algorithm as DkimAlgorithm, privateKey: core.vault.decrypt(row.dkim_private_key_enc, `dkim:${row.id}`) },
  };
}
