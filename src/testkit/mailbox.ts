// For the mail store, MX, API and door tests: a workspace with a verified domain that may send and
// receive, and a hosted mailbox in it; and ways to put messages into a mailbox the way the MX does
// (body into the blob store, then the rows in one mail transaction).
//
// The domain is marked verified directly in the database (every record it should publish set to
// `verified`), so no DNS is needed; pass `dns` to also publish its records (DKIM key, MX, SPF)
// into a test DNS server, for tests where a receiver checks our signatures.
import pino from 'pino';
import { setup } from '../cli/setup.ts';
import { loadSettings } from '../config/settings.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { type Core, systemActor } from '../core/core.ts';
import { randomToken } from '../core/ids.ts';
import type { SpecialUse } from '../db/schema.ts';
import { createDomain } from '../domains/domains.ts';
import { expectedRecords, type StoredStatus } from '../domains/records.ts';
import type { TestDns } from './dns-server.ts';
import { blobStore } from '../outbound/accept.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import { folderByName } from '../mailstore/folders.ts';
import { type Mailbox, createMailbox } from '../mailstore/mailboxes.ts';
import { type AppendedMessage, type Flag, appendMessage } from '../mailstore/messages.ts';
import { type ParsedMessage, parseMessage } from '../mailstore/parse.ts';
import { openStore } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { JobQueue } from '../jobs/queue.ts';
import { loadVault } from '../secrets/vault.ts';
import { type TestDatabase, createTestDatabase } from './store.ts';

export interface TestCore {
  core: Core;
  db: TestDatabase;
  close(): Promise<void>;
}

/** A core over a fresh test database (no doors, no worker): for tests of core services. */
export async function openTestCore(opts: { clock?: Clock; env?: Record<string, string> } = {}): Promise<TestCore> {
  const db = await createTestDatabase();
  const settings = loadSettings({
    MAILSTACK_DATA_DIR: db.dataDir,
    MAILSTACK_DATABASE_URL: db.url,
    MAILSTACK_HOSTNAME: 'mailstack.test',
    ...opts.env,
  });
  // As platform.ts openCore does, without importing the doors.
  const store = openStore(settings.databaseUrl);
  await migrateToLatest(store.db);
  const vault = loadVault(settings.dataDir, settings.masterKey, settings.masterKeysPrevious);
  const clock = opts.clock ?? systemClock;
  const core: Core = { settings, store, db: store.db, vault, jobs: new JobQueue(store, clock), clock, log: pino({ level: process.env.MAILSTACK_TEST_LOG_LEVEL ?? 'silent' }) };
  return {
    core,
    db,
    async close() {
      await core.store.close();
      await db.drop();
    },
  };
}

export interface TestMailboxOptions {
  /** Reuse this workspace (default: a new one, made as `mailstack setup` does, with an API key). */
  workspaceId?: string;
  /** The domain name (default: a new random one under example.com); reused if the workspace has it. */
  domainName?: string;
  /** The local part (default: a random one) or the full address (must be in domainName). */
  localPart?: string;
  /** The full address: sets both domainName and localPart. */
  address?: string;
  name?: string | null;
  quotaBytes?: number | null;
  mode?: 'mailbox' | 'agent';
  ownerUserId?: string | null;
  /** Publish the domain's records (DKIM, return-path MX and SPF, receiving MX) into this DNS server. */
  dns?: TestDns;
  dkimAlgorithm?: 'rsa' | 'ed25519';
}

export interface TestMailbox {
  workspaceId: string;
  /** Only when the fixture made the workspace: a full-access API key of it. */
  apiKey: string | null;
  userId: string | null;
  domainId: string;
  domainName: string;
  mailbox: Mailbox;
}

/** Makes (or reuses) a workspace, a verified sending+receiving domain in it, and a mailbox. */
export async function createTestMailbox(core: Core, opts: TestMailboxOptions = {}): Promise<TestMailbox> {
  let workspaceId = opts.workspaceId;
  let apiKey: string | null = null;
  let userId: string | null = null;
  if (!workspaceId) {
    const s = await setup(core, { email: `owner-${randomToken(8).toLowerCase()}@example.com`, workspace: `Mail ${randomToken(6)}` });
    workspaceId = s.workspaceId;
    apiKey = s.apiKey;
    userId = s.userId;
  }
  if (opts.address) {
    const at = opts.address.lastIndexOf('@');
    opts = { ...opts, localPart: opts.address.slice(0, at), domainName: opts.address.slice(at + 1) };
  }
  const domainName = (opts.domainName ?? `m${randomToken(8).toLowerCase()}.example.com`).toLowerCase();
  let domain = await core.db.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', domainName).executeTakeFirst();
  if (!domain) {
    const created = await createDomain(core, systemActor, workspaceId, { name: domainName, capabilities: { sending: 'enabled', receiving: 'enabled' }, dkim_algorithm: opts.dkimAlgorithm ?? 'rsa' });
    domain = await core.db.selectFrom('domains').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
  }
  const capabilities = JSON.stringify({ sending: 'enabled', receiving: 'enabled' });
  const withCaps = { ...domain, capabilities };
  const records = expectedRecords(withCaps, core.settings.hostname);
  const stored: StoredStatus[] = records.map((r) => ({ purpose: r.purpose, name: r.name, value: r.value, status: 'verified' }));
  const now = core.clock.now();
  // Ownership (src/domains/ownership.ts) as if its token had been seen, unless another workspace owns the name.
  const owner = await core.db.selectFrom('domains').select('id').where('name', '=', domainName).where('owned_at', 'is not', null).executeTakeFirst();
  const ownedAt = domain.owned_at ?? (owner ? null : now);
  await core.db
    .updateTable('domains')
    .set({ owned_at: ownedAt, capabilities, records: JSON.stringify(stored), status: 'verified', verification_started_at: domain.verification_started_at ?? now, last_checked_at: now, verified_at: domain.verified_at ?? now, updated_at: now })
    .where('id', '=', domain.id)
    .execute();
  if (opts.dns) {
    for (const r of records) {
      if (r.type === 'TXT') opts.dns.txt(r.fqdn, r.value);
      else if (r.type === 'MX') opts.dns.mx(r.fqdn, r.value, r.priority);
    }
  }
  const local = opts.localPart ?? `user-${randomToken(8).toLowerCase()}`;
  const address = local.includes('@') ? local : `${local}@${domainName}`;
  const mailbox = await mailTransaction(core, (tx, emit) =>
    createMailbox(core, tx, emit, {
      workspaceId: workspaceId!,
      domainId: domain!.id,
      address,
      name: opts.name ?? null,
      quotaBytes: opts.quotaBytes ?? null,
      mode: opts.mode ?? 'mailbox',
      ownerUserId: opts.ownerUserId ?? null,
    }),
  );
  return { workspaceId, apiKey, userId, domainId: domain.id, domainName, mailbox };
}

export interface AppendOptions {
  /** A folder name ('INBOX', 'Work/2024') or a special use ('trash'); default the inbox. */
  folder?: string;
  specialUse?: SpecialUse;
  flags?: Flag[];
  internalDate?: number;
  direction?: 'inbound' | 'outbound';
  /** Use this parsed form instead of parseMessage(raw) (tests of the store itself). */
  parsed?: ParsedMessage;
}

/** Stores a raw RFC 5322 message in a mailbox folder: blob put, parse, appendMessage in one mail transaction. */
export async function appendRaw(core: Core, mailbox: Mailbox, raw: Buffer | string, opts: AppendOptions = {}): Promise<AppendedMessage> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const parsed = opts.parsed ?? (await parseMessage(bytes));
  const blobId = await blobStore(core).put(bytes);
  return mailTransaction(core, async (tx, emit) => {
    const current = await tx.selectFrom('mailboxes').selectAll().where('id', '=', mailbox.id).executeTakeFirstOrThrow();
    let folderId: string | undefined;
    if (opts.folder) {
      const f = await folderByName(tx, mailbox.id, opts.folder);
      if (!f) throw new Error(`no folder ${opts.folder} in ${mailbox.address}`);
      folderId = f.id;
    }
    return appendMessage(core, tx, emit, {
      mailbox: current,
      folderId,
      specialUse: opts.specialUse,
      blobId,
      size: bytes.length,
      parsed,
      flags: opts.flags,
      internalDate: opts.internalDate,
      direction: opts.direction,
    });
  });
}

/** The same as appendRaw (the name other test files use). */
export const appendTestMessage = appendRaw;

/** A ParsedMessage with defaults, for store tests that do not need a real parse. */
export function parsedMessage(fields: Partial<ParsedMessage> = {}): ParsedMessage {
  return {
    messageId: null,
    inReplyTo: null,
    references: [],
    subject: null,
    from: null,
    fromHeader: null,
    to: [],
    cc: [],
    bcc: [],
    replyTo: [],
    date: null,
    headers: [],
    text: null,
    html: null,
    attachments: [],
    ...fields,
  };
}

/** A small RFC 5322 message (CRLF line ends) for tests. */
export function rawMessage(fields: { from?: string; to?: string; subject?: string; messageId?: string; inReplyTo?: string; references?: string[]; date?: Date; text?: string; headers?: Record<string, string> } = {}): Buffer {
  const lines = [
    `From: ${fields.from ?? 'Alice <alice@sender.example>'}`,
    `To: ${fields.to ?? 'someone@example.com'}`,
    `Subject: ${fields.subject ?? 'Hello'}`,
    `Date: ${(fields.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${fields.messageId ?? `${randomToken(16)}@sender.example`}>`,
  ];
  if (fields.inReplyTo) lines.push(`In-Reply-To: <${fields.inReplyTo}>`);
  if (fields.references?.length) lines.push(`References: ${fields.references.map((r) => `<${r}>`).join(' ')}`);
  for (const [k, v] of Object.entries(fields.headers ?? {})) lines.push(`${k}: ${v}`);
  lines.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', ...(fields.text ?? 'Hello there.').split(/\r?\n/), '');
  return Buffer.from(lines.join('\r\n'));
}
