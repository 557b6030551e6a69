// Erasure, tested the honest way: after it, the address (in its as-given, lower-case and
// URL-encoded forms, and its distinctive local part) is searched for in the database file and its
// WAL (SQLite), in every text column of the schema (both stores), in the full-text index, in the
// blob folder and in the exports folder: zero hits. A new send to it is refused as erased.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor } from '../core/core.ts';
import { sqlitePath } from '../config/settings.ts';
import { createTestMailbox, appendRaw, type TestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, api, runCli, startTestServer } from '../testkit/server.ts';
import { requestExport, runExport } from './export.ts';

let server: TestServer;
let A: TestMailbox & { apiKey: string };
let B: { workspaceId: string; apiKey: string };

// A local part no other datum of the test holds, so a hit can only be a trace of this address.
const GIVEN = 'Zelda.Quuxley@Example.ORG';
const LOWER = GIVEN.toLowerCase();
const NEEDLES = [LOWER, LOWER.replace('@', '%40'), 'quuxley'];

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function hitsIn(buf: Buffer): string[] {
  const text = buf.toString('latin1').toLowerCase();
  return NEEDLES.filter((n) => text.includes(n));
}

/** Every text column of every table, searched in SQL (both stores). */
async function textColumnHits(): Promise<string[]> {
  const core = server.platform.core;
  const hits: string[] = [];
  let columns: { t: string; c: string }[];
  if (core.store.dialect === 'postgres') {
    columns = (await sql<{ t: string; c: string }>`select table_name as t, column_name as c from information_schema.columns where table_schema = current_schema() and data_type in ('text', 'character varying', 'json', 'jsonb')`.execute(core.db)).rows;
  } else {
    const tables = (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(core.db)).rows;
    columns = [];
    for (const { name } of tables) {
      for (const col of (await sql<{ name: string; type: string }>`select name, type from pragma_table_info(${name})`.execute(core.db)).rows) {
        if (/text|char|clob|^$/i.test(col.type)) columns.push({ t: name, c: col.name });
      }
    }
  }
  for (const { t, c } of columns) {
    for (const n of NEEDLES) {
      const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t)} where lower(cast(${sql.ref(c)} as text)) like ${`%${n}%`}`.execute(core.db);
      if (Number(r.rows[0].n)) hits.push(`${t}.${c}: ${n}`);
    }
  }
  return hits;
}

beforeAll(async () => {
  // No worker: nothing is delivered, so every trace the sends leave stays for the erasure to find.
  server = await startTestServer({ env: { MAILSTACK_WORKER_CONCURRENCY: '0', MAILSTACK_API_RATE_LIMIT: '0' } });
  const core = server.platform.core;
  A = (await createTestMailbox(core)) as TestMailbox & { apiKey: string };
  B = await server.setup('owner-b@example.com', 'B');
  const sdk = server.resend(A.apiKey);
  // Sent mail: one to the address alone, one shared with another recipient.
  expect((await sdk.emails.send({ from: A.mailbox.address, to: [GIVEN], subject: `Hello ${GIVEN}`, html: `<p>Dear ${GIVEN}</p>`, text: `Dear ${GIVEN}` })).error).toBeNull();
  expect((await sdk.emails.send({ from: A.mailbox.address, to: ['keep@example.net', GIVEN], cc: [], subject: 'for two', text: 'hello both' })).error).toBeNull();
  // A suppression, and the request log rows of reading it by address.
  expect((await sdk.suppressions.add({ email: GIVEN } as any)).error).toBeNull();
  expect((await api(server.url, 'GET', `/v1/suppressions/${encodeURIComponent(GIVEN)}`, { key: A.apiKey })).status).toBe(200);
  expect((await api(server.url, 'GET', `/v1/suppressions/${GIVEN}`, { key: A.apiKey })).status).toBe(200);
  // Hosted-inbox mail from, to and about the address, in two folders.
  await appendRaw(core, A.mailbox, `From: Zelda <${GIVEN}>\r\nTo: ${A.mailbox.address}\r\nSubject: a question\r\nMessage-ID: <z1@example.org>\r\n\r\nHi, Zelda here.\r\n`);
  await appendRaw(core, A.mailbox, `From: ${A.mailbox.address}\r\nTo: ${GIVEN}\r\nSubject: an answer\r\nMessage-ID: <z2@example.org>\r\n\r\nAnswer.\r\n`, { specialUse: 'sent' });
  await appendRaw(core, A.mailbox, `From: colleague@example.net\r\nTo: ${A.mailbox.address}\r\nSubject: fyi\r\nMessage-ID: <c1@example.net>\r\n\r\nPlease write to ${GIVEN} about quuxley matters.\r\n`);
  await appendRaw(core, A.mailbox, `From: colleague@example.net\r\nTo: ${A.mailbox.address}\r\nSubject: unrelated\r\nMessage-ID: <c2@example.net>\r\n\r\nNothing to see.\r\n`);
  // Campaign and other parts' rows naming the address: a contact, a broadcast's recipient row, an
  // import's error report, an invitation, a block entry (erasure-targets.ts covers these).
  expect((await sdk.contacts.create({ email: GIVEN, firstName: 'Zelda' } as any)).error).toBeNull();
  const now = Date.now();
  const db = core.db as any;
  await db.insertInto('broadcasts').values({ id: 'b-erasure-test', workspace_id: A.workspaceId, name: 'news', segment_id: null, topic_id: null, from_header: A.mailbox.address, subject: 'news', reply_to_json: '[]', preview_text: null, html: '<p>news</p>', text: null, status: 'sent', scheduled_at: null, sent_at: now, cursor: null, created_at: now, updated_at: now }).execute();
  await db.insertInto('broadcast_recipients').values({ id: 'br-erasure-1', workspace_id: A.workspaceId, broadcast_id: 'b-erasure-test', contact_id: null, email: LOWER, email_id: null, skip_reason: null, created_at: now }).execute();
  await db.insertInto('broadcast_recipients').values({ id: 'br-erasure-2', workspace_id: A.workspaceId, broadcast_id: 'b-erasure-test', contact_id: null, email: 'keep@example.net', email_id: null, skip_reason: null, created_at: now }).execute();
  await db.insertInto('contact_imports').values({ id: 'ci-erasure', workspace_id: A.workspaceId, status: 'completed', file_path: 'x.csv', options_json: '{}', total: 2, processed: 2, created: 1, updated: 0, skipped: 0, failed: 1, errors_json: JSON.stringify([{ line: 3, email: GIVEN, message: `bad row for ${GIVEN}` }]), failure: null, created_at: now, updated_at: now, completed_at: now }).execute();
  await db.insertInto('invitations').values({ id: 'inv-erasure', workspace_id: A.workspaceId, email: LOWER, role: 'viewer', token_hash: 'f'.repeat(64), invited_by: null, created_at: now, expires_at: now + 86_400_000, accepted_at: null, accepted_by: null, revoked_at: null }).execute();
  await db.insertInto('sender_lists').values({ id: 'sl-erasure', workspace_id: A.workspaceId, mailbox_id: null, kind: 'block', pattern: LOWER, action: 'junk', created_at: now }).execute();
  // A finished export that holds the address.
  const ex = await requestExport(core, cliActor, A.workspaceId, { scope: 'person', email: GIVEN }, { enqueue: false });
  await runExport(core, ex.id);
  // The other workspace suppresses a different address that A will erase too: B's stays.
  expect((await server.resend(B.apiKey).suppressions.add({ email: 'shared.person@example.org' } as any)).error).toBeNull();
});

afterAll(async () => {
  await server?.stop();
});

describe('before the erasure', () => {
  it('the address is there to find (the search below can fail)', async () => {
    expect((await textColumnHits()).length).toBeGreaterThan(5);
    expect(filesUnder(path.join(server.db.dataDir, 'blobs')).some((f) => hitsIn(readFileSync(f)).length > 0)).toBe(true);
    expect(filesUnder(path.join(server.db.dataDir, 'exports')).length).toBe(1);
  });
});

describe('an erasure', () => {
  let erasure: any;

  it('is refused to a sending-only key and to bad input', async () => {
    const key = await server.resend(A.apiKey).apiKeys.create({ name: 'sender', permission: 'sending_access' });
    expect((await api(server.url, 'POST', '/v1/erasures', { key: key.data!.token, body: { email: GIVEN } })).status).toBe(403);
    for (const body of [{}, { email: 'nobody' }, { email: 42 }, { email: GIVEN, include_mailbox_content: 'yes' }]) {
      const r = await api(server.url, 'POST', '/v1/erasures', { key: A.apiKey, body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.json.name).toBe('validation_error');
    }
  });

  it('stays within its workspace', async () => {
    const r = await api(server.url, 'POST', '/v1/erasures', { key: A.apiKey, body: { email: 'shared.person@example.org' } });
    expect(r.status).toBe(201);
    expect((await server.resend(B.apiKey).suppressions.get('shared.person@example.org' as any)).data).toMatchObject({ email: 'shared.person@example.org' });
    expect((await api(server.url, 'GET', `/v1/erasures/${r.json.id}`, { key: B.apiKey })).status).toBe(404);
  });

  it('removes every kind of trace and says what it removed', async () => {
    const r = await api(server.url, 'POST', '/v1/erasures', { key: A.apiKey, body: { email: GIVEN, include_mailbox_content: true } });
    expect(r.status).toBe(201);
    erasure = r.json;
    expect(Object.keys(erasure).sort()).toEqual(['created_at', 'id', 'object', 'removed', 'status']);
    expect(erasure).toMatchObject({ object: 'erasure', status: 'completed' });
    expect(erasure.removed).toMatchObject({ emails: 1, emails_redacted: 1, email_recipients: 2, suppressions: 1, messages: 3, exports: 1 });
    expect(erasure.removed.events).toBeGreaterThan(0);
    expect(erasure.removed).toMatchObject({ contacts: 1, broadcast_recipients: 1, contact_imports_redacted: 1, invitations: 1, sender_lists: 1 });
    // The other recipient of the broadcast and the import's report stay.
    const recips = await server.platform.core.db.selectFrom('broadcast_recipients').select('email').where('broadcast_id', '=', 'b-erasure-test').execute();
    expect(recips.map((x) => x.email)).toEqual(['keep@example.net']);
    const imp = await server.platform.core.db.selectFrom('contact_imports').select('errors_json').where('id', '=', 'ci-erasure').executeTakeFirstOrThrow();
    expect(JSON.parse(imp.errors_json)).toEqual([{ line: 3, email: '[erased]', message: 'bad row for [erased]' }]);
    expect(erasure.removed.api_requests).toBeGreaterThanOrEqual(2);
    expect(erasure.removed.blobs).toBeGreaterThanOrEqual(4);
    const again = await api(server.url, 'GET', `/v1/erasures/${erasure.id}`, { key: A.apiKey });
    expect(again.json).toEqual(erasure);
    // The shared email stays for its other recipient.
    const list = await server.resend(A.apiKey).emails.list();
    expect(list.data!.data.map((e: any) => e.to)).toEqual([['keep@example.net']]);
    // The unrelated message stays in the inbox.
    const left = await server.platform.core.db.selectFrom('messages').select('subject').where('mailbox_id', '=', A.mailbox.id).execute();
    expect(left.map((m) => m.subject)).toEqual(['unrelated']);
  });

  it('leaves no trace in any text column, audit record or request log', async () => {
    expect(await textColumnHits()).toEqual([]);
  });

  it('leaves no trace in the SQLite file, its WAL or the full-text index', async () => {
    const core = server.platform.core;
    if (core.store.dialect !== 'sqlite') return;
    const file = sqlitePath(server.env.MAILSTACK_DATABASE_URL);
    for (const f of [file, `${file}-wal`]) {
      if (existsSync(f)) expect(hitsIn(readFileSync(f)), f).toEqual([]);
    }
    for (const word of ['zelda', 'quuxley']) {
      const r = await sql<{ n: number }>`select count(*) as n from message_fts where message_fts match ${`"${word}"`}`.execute(core.db);
      expect(Number(r.rows[0].n), word).toBe(0);
    }
    await sql`create virtual table if not exists temp.fts_terms using fts5vocab(main, message_fts, 'row')`.execute(core.db);
    const terms = await sql<{ term: string }>`select term from temp.fts_terms where term in ('zelda', 'quuxley')`.execute(core.db);
    expect(terms.rows).toEqual([]);
  });

  it('leaves no trace in the PostgreSQL full-text index', async () => {
    const core = server.platform.core;
    if (core.store.dialect !== 'postgres') return;
    const r = await sql<{ n: number }>`select count(*) as n from message_search where tsv @@ to_tsquery('simple', 'quuxley | zelda')`.execute(core.db);
    expect(Number(r.rows[0].n)).toBe(0);
  });

  it('leaves no trace in the blob folder and deletes the exports that held it', () => {
    const blobs = filesUnder(path.join(server.db.dataDir, 'blobs'));
    expect(blobs.length).toBeGreaterThan(0);
    for (const f of blobs) expect(hitsIn(readFileSync(f)), f).toEqual([]);
    expect(filesUnder(path.join(server.db.dataDir, 'exports'))).toEqual([]);
  });

  it('refuses a new send to the address as erased, in any case', async () => {
    for (const to of [GIVEN, LOWER, GIVEN.toUpperCase()]) {
      const r = await server.resend(A.apiKey).emails.send({ from: A.mailbox.address, to: [to], subject: 'again', text: 'again' });
      expect(r.error?.name).toBe('validation_error');
      expect(r.error?.message).toMatch(/erased/);
    }
    // The do-not-contact list holds a keyed hash, not the address (the column search above found none).
    const dnc = await server.platform.core.db.selectFrom('do_not_contact').selectAll().where('workspace_id', '=', A.workspaceId).execute();
    expect(dnc.every((d) => /^[0-9a-f]{64}$/.test(d.address_hmac))).toBe(true);
    // Another workspace may still write to it.
    expect((await server.resend(B.apiKey).emails.send({ from: A.mailbox.address, to: [GIVEN], subject: 'x', text: 'x' })).error?.message ?? '').not.toMatch(/erased/);
  });

  it('runs from the CLI too', () => {
    const r = runCli(['erase', '--workspace', A.workspaceId, '--email', 'cli.person@example.org'], server.env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ object: 'erasure', status: 'completed' });
  });
});
