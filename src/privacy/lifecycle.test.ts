// The retention table and closing accounts, as promises: windows in force per workspace (shorter
// only), purges in batches with one audit record per kind, unreferenced blobs removed and
// referenced ones kept, `mailstack retention status`; closing a workspace or an account ends
// access at every door at once (API, IMAP with Python imaplib, the MX with smtplib), the owner is
// told when deletion happens, may reopen within the window, and afterwards only the record stays.
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { setPassword } from '../accounts/users.ts';
import { ManualClock } from '../core/clock.ts';
import { cliActor, systemActor } from '../core/core.ts';
import { closeWorkspace, findWorkspace } from './closing.ts';
import { newId } from '../core/ids.ts';
import { blobStore } from '../outbound/accept.ts';
import { SYSTEM_MAIL_JOB } from '../outbound/system-mail.ts';
import { appendRaw, createTestMailbox, rawMessage, type TestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, api, freePort, runCli, startTestServer } from '../testkit/server.ts';
import { runClient, sendWithPython } from '../testkit/smtp-senders.ts';
import { runRetentionKinds } from './retention.ts';

const DAY = 86_400_000;
const PASSWORD = 'correct horse battery staple';
const clock = new ManualClock();
let server: TestServer;
let ports: { mx: number; imap: number };
let a: TestMailbox;
let b: TestMailbox;
const core = () => server.platform.core;

beforeAll(async () => {
  ports = { mx: await freePort(), imap: await freePort() };
  server = await startTestServer({
    clock,
    env: { MAILSTACK_HOSTNAME: 'localhost', MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true', MAILSTACK_SMTP_PORT: String(ports.mx), MAILSTACK_IMAP_PORT: String(ports.imap), MAILSTACK_WORKER_CONCURRENCY: '0' },
  });
  a = await createTestMailbox(core());
  b = await createTestMailbox(core());
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

async function signIn(userId: string) {
  const user = await core().db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow();
  await setPassword(core(), core().db, userId, PASSWORD);
  const res = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: PASSWORD }) });
  expect(res.status).toBe(200);
  const { csrf_token } = (await res.json()) as { csrf_token: string };
  const cookie = res.headers.getSetCookie()[0].split(';')[0];
  return (method: string, p: string, body?: unknown) => api(server.url, method, p, { body, headers: { cookie, 'x-csrf-token': csrf_token } });
}

async function imaplibLogin(user: string, pass: string): Promise<string> {
  const r = await runClient('python3', ['-c', `import imaplib,sys\nc=imaplib.IMAP4('127.0.0.1', ${ports.imap})\ntry:\n  c.login(sys.argv[1], sys.argv[2]); print('OK')\nexcept imaplib.IMAP4.error as e:\n  print('NO', e)\n`, user, pass]);
  return r.stdout.trim();
}

const mailTo = (address: string) => sendWithPython(ports.mx, { from: 'x@sender.test', to: [address] }, rawMessage({ from: 'x@sender.test', to: address, subject: 'hello' }));

async function toldBySystemMail(to: string, subject: RegExp): Promise<string> {
  const jobs = await core().db.selectFrom('jobs').select('payload').where('kind', '=', SYSTEM_MAIL_JOB).execute();
  const hit = jobs.map((j) => JSON.parse(j.payload)).filter((p) => p.to === to && subject.test(p.subject)).at(-1);
  expect(hit, `a system mail to ${to} about ${subject}`).toBeDefined();
  return core().vault.decrypt(hit.text_sealed, 'system_mail');
}

const count = async (table: 'audit_log' | 'api_requests', workspaceId: string) =>
  Number((await core().db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow()).n);

describe('retention per kind', () => {
  it('shows the windows in force; a workspace may shorten one, never lengthen it', async () => {
    const r = await api(server.url, 'GET', '/v1/workspace/retention', { key: a.apiKey! });
    expect(r.status).toBe(200);
    const byKind = Object.fromEntries(r.json.windows.map((w: any) => [w.kind, w]));
    expect(byKind.audit_log).toMatchObject({ days: 365, setting: 'MAILSTACK_AUDIT_RETENTION_DAYS', can_shorten: true });
    expect(byKind.request_log).toMatchObject({ days: 90, setting: 'MAILSTACK_REQUEST_LOG_DAYS' });
    expect(byKind.messages).toMatchObject({ days: 90, setting: 'MAILSTACK_RETENTION_DAYS' });
    expect(byKind.trash).toMatchObject({ days: 30, setting: 'MAILSTACK_TRASH_DAYS', can_shorten: true });
    expect(byKind.exports).toMatchObject({ days: 7, setting: 'MAILSTACK_EXPORT_DAYS', can_shorten: true });
    expect(byKind.backups).toMatchObject({ count: 7, setting: 'MAILSTACK_BACKUP_KEEP', can_shorten: false });
    expect(byKind.closed_accounts).toMatchObject({ days: 7, setting: 'MAILSTACK_CLOSED_ACCOUNT_DAYS' });
    expect(byKind.closed_account_records).toMatchObject({ days: 90, setting: 'MAILSTACK_CLOSED_ACCOUNT_RECORD_DAYS' });

    const shorter = await api(server.url, 'PATCH', '/v1/workspace/retention', { key: a.apiKey!, body: { audit_log: 30, request_log: 0 } });
    expect(shorter.status).toBe(200);
    expect(shorter.json.windows.find((w: any) => w.kind === 'audit_log')).toMatchObject({ days: 30, operator_days: 365, workspace_days: 30 });
    const longer = await api(server.url, 'PATCH', '/v1/workspace/retention', { key: a.apiKey!, body: { audit_log: 400 } });
    expect(longer.status).toBe(422);
    expect(longer.json.message).toMatch(/may only be shortened.*365/);
    expect((await api(server.url, 'PATCH', '/v1/workspace/retention', { key: a.apiKey!, body: { trash: 31 } })).status).toBe(422);
    expect((await api(server.url, 'PATCH', '/v1/workspace/retention', { key: a.apiKey!, body: { backups: 1 } })).status).toBe(422);
    expect((await api(server.url, 'PATCH', '/v1/workspace', { key: a.apiKey!, body: { retention_days: 200 } })).status).toBe(422);
    // The other workspace keeps the operator's windows.
    const other = await api(server.url, 'GET', '/v1/workspace/retention', { key: b.apiKey! });
    expect(other.json.windows.find((w: any) => w.kind === 'audit_log').days).toBe(365);
  });

  it("empties a workspace's Trash by its own shorter window, leaving other workspaces' for the operator's", async () => {
    const shorter = await api(server.url, 'PATCH', '/v1/workspace/retention', { key: a.apiKey!, body: { trash: 2 } });
    expect(shorter.status).toBe(200);
    expect(shorter.json.windows.find((w: any) => w.kind === 'trash')).toMatchObject({ days: 2, operator_days: 30, workspace_days: 2 });
    const inA = await appendRaw(core(), a.mailbox, rawMessage({ subject: 'binned in A' }), { specialUse: 'trash' });
    const inB = await appendRaw(core(), b.mailbox, rawMessage({ subject: 'binned in B' }), { specialUse: 'trash' });
    clock.advance(1 * DAY);
    await runRetentionKinds(core(), { all: true });
    const has = async (id: string) => !!(await core().db.selectFrom('messages').select('id').where('id', '=', id).executeTakeFirst());
    expect(await has(inA.id)).toBe(true);
    clock.advance(2 * DAY);
    const report = await runRetentionKinds(core(), { all: true });
    expect(report.trash.messages).toBeGreaterThanOrEqual(1);
    expect(await has(inA.id)).toBe(false);
    expect(await has(inB.id)).toBe(true);
    expect((await api(server.url, 'PATCH', '/v1/workspace/retention', { key: a.apiKey!, body: { trash: null } })).status).toBe(200);
  });

  it('purges each kind in batches by the window in force, with one audit record per kind', async () => {
    // More rows than one batch holds, in workspace A; the same age in B.
    const now = clock.now();
    const rows = Array.from({ length: 1203 }, (_, i) => ({ id: newId(now + i), workspace_id: a.workspaceId, actor_type: 'system', actor_id: null, actor_label: 't', ip: null, user_agent: null, action: 'test.filler', target_type: null, target_id: null, data: null, created_at: now }));
    for (let i = 0; i < rows.length; i += 200) await core().db.insertInto('audit_log').values(rows.slice(i, i + 200)).execute();
    await core().db.insertInto('audit_log').values({ ...rows[0], id: newId(now), workspace_id: b.workspaceId }).execute();
    expect((await api(server.url, 'GET', '/v1/domains', { key: a.apiKey! })).status).toBe(200);
    expect((await api(server.url, 'GET', '/v1/domains', { key: b.apiKey! })).status).toBe(200);
    const bAudit = await count('audit_log', b.workspaceId);
    const bRequests = await count('api_requests', b.workspaceId);
    expect(bRequests).toBeGreaterThan(0);

    clock.advance(31 * DAY);
    const report = await runRetentionKinds(core(), { all: true });
    expect(report.audit_log.audit_log).toBeGreaterThanOrEqual(1203);
    // A's window is 30 days: all of it (older than 30 days) is gone, then the run's own records.
    const left = await core().db.selectFrom('audit_log').select('action').where('workspace_id', '=', a.workspaceId).execute();
    // (The message-body purge cuts the request log too, and writes its own `retention.purged`.)
    expect(left.filter((r) => r.action !== 'retention.run' && r.action !== 'retention.purged')).toEqual([]);
    const recs = await core().db.selectFrom('audit_log').selectAll().where('workspace_id', '=', a.workspaceId).where('action', '=', 'retention.run').execute();
    expect(recs.filter((r) => r.target_id === 'audit_log')).toHaveLength(1);
    expect(JSON.parse(recs.find((r) => r.target_id === 'audit_log')!.data!).removed.audit_log).toBeGreaterThanOrEqual(1203);
    expect(await count('api_requests', a.workspaceId)).toBe(0);
    // B keeps its year of audit log and its 90 days of request log.
    expect(await count('audit_log', b.workspaceId)).toBe(bAudit);
    expect(await count('api_requests', b.workspaceId)).toBe(bRequests);
    // A second run has nothing left to do and records nothing.
    const again = await runRetentionKinds(core(), { all: true });
    expect(again.audit_log.audit_log).toBe(0);
  });

  it('removes a blob no row refers to, never one still referenced', async () => {
    const store = blobStore(core());
    const orphan = await store.put(Buffer.from(`orphan ${Math.random()}`));
    const appended = await appendRaw(core(), b.mailbox, rawMessage({ subject: 'kept', text: `kept ${Math.random()}` }));
    const kept = (await core().db.selectFrom('messages').select('blob_id').where('id', '=', appended.id).executeTakeFirstOrThrow()).blob_id;
    const young = await store.put(Buffer.from(`young ${Math.random()}`));
    const old = new Date(Date.now() - 3 * DAY);
    for (const id of [orphan, kept]) await utimes(path.join(core().settings.dataDir, 'blobs', id.slice(0, 2), id.slice(2, 4), id), old, old);
    const report = await runRetentionKinds(core(), { all: true });
    expect(report.unreferenced_blobs.blobs).toBeGreaterThanOrEqual(1);
    expect(await store.has(orphan)).toBe(false);
    expect(await store.has(kept)).toBe(true);
    // Written a moment ago: its row may not be committed yet.
    expect(await store.has(young)).toBe(true);
  });
});

describe('closing a workspace', () => {
  it('ends access at every door, tells the owner when deletion happens, and can be reopened', async () => {
    const pw = (await createAppPassword(core(), systemActor, a.workspaceId, a.mailbox.id, { name: 't' })).password;
    expect(await imaplibLogin(a.mailbox.address, pw)).toBe('OK');
    // A full-access key acts as an admin: only an owner closes a workspace.
    expect((await api(server.url, 'DELETE', '/v1/workspace', { key: a.apiKey! })).status).toBe(403);

    const owner = await signIn(a.userId!);
    const closed = await owner('DELETE', '/v1/workspace');
    expect(closed.status).toBe(200);
    expect(closed.json).toMatchObject({ object: 'workspace', id: a.workspaceId, closed: true });
    const deletionAt = Date.parse(closed.json.deletion_at);
    expect(Math.abs(deletionAt - (clock.now() + 7 * DAY))).toBeLessThan(60_000);
    expect(closed.json.message).toMatch(/reopened/);

    expect((await server.resend(a.apiKey!).domains.list()).error).toMatchObject({ statusCode: 401 });
    expect(await imaplibLogin(a.mailbox.address, pw)).toMatch(/^NO/);
    const refused = await mailTo(a.mailbox.address);
    expect(refused.code).toBe(550);
    expect(refused.response).toMatch(/5\.2\.1/);
    // B is untouched.
    expect((await server.resend(b.apiKey!).domains.list()).error).toBeNull();
    expect((await mailTo(b.mailbox.address)).code).toBe(250);

    const owners = await core().db.selectFrom('users').select('email').where('id', '=', a.userId!).executeTakeFirstOrThrow();
    const text = await toldBySystemMail(owners.email, /is closed/);
    expect(text).toContain(new Date(deletionAt).toISOString());
    expect(text).toMatch(/export/);

    const reopened = await owner('POST', `/v1/auth/workspaces/${a.workspaceId}/reopen`);
    expect(reopened.status).toBe(200);
    expect((await server.resend(a.apiKey!).domains.list()).error).toBeNull();
    expect((await mailTo(a.mailbox.address)).code).toBe(250);
    // Another workspace's owner cannot reopen it.
    const other = await signIn(b.userId!);
    expect((await other('POST', `/v1/auth/workspaces/${a.workspaceId}/reopen`)).status).toBe(404);
  }, 60_000);

  it('after the window deletes everything but the record, which goes after its own window', async () => {
    const name = (await core().db.selectFrom('workspaces').select('name').where('id', '=', a.workspaceId).executeTakeFirstOrThrow()).name;
    const stored = await appendRaw(core(), a.mailbox, rawMessage({ subject: 'to be deleted', text: `unique ${Math.random()}` }));
    const blob = (await core().db.selectFrom('messages').select('blob_id').where('id', '=', stored.id).executeTakeFirstOrThrow()).blob_id;
    // By name, as `mailstack workspace close W` finds it (the CLI itself is run below: it keeps real time).
    await closeWorkspace(core(), cliActor, (await findWorkspace(core().db, name)).id);

    // Inside the window nothing is deleted.
    clock.advance(6 * DAY);
    await runRetentionKinds(core(), { all: true });
    expect(await core().db.selectFrom('workspaces').select('id').where('id', '=', a.workspaceId).executeTakeFirst()).toBeTruthy();

    clock.advance(1 * DAY + 1000);
    const report = await runRetentionKinds(core(), { all: true });
    expect(report.closed_accounts).toMatchObject({ workspaces: 1 });
    expect(await core().db.selectFrom('workspaces').select('id').where('id', '=', a.workspaceId).executeTakeFirst()).toBeUndefined();
    for (const table of ['messages', 'mailboxes', 'domains', 'api_keys', 'emails', 'event_records', 'api_requests', 'folders', 'threads'] as const) {
      const left = await core().db.selectFrom(table).select('workspace_id').where('workspace_id', '=', a.workspaceId).execute();
      expect(left, table).toHaveLength(0);
    }
    expect(await blobStore(core()).has(blob)).toBe(false);
    const record = await core().db.selectFrom('closed_accounts').selectAll().where('subject_id', '=', a.workspaceId).executeTakeFirstOrThrow();
    expect(record.name).toBe(name);
    expect(record.deleted_at).not.toBeNull();
    expect(JSON.parse(record.removed_json!)).toMatchObject({ messages: 2, mailboxes: 1, domains: 1 });
    expect(await count('audit_log', a.workspaceId)).toBeGreaterThan(0);
    // B still works.
    expect((await server.resend(b.apiKey!).domains.list()).error).toBeNull();

    clock.advance(90 * DAY + 1000);
    const later = await runRetentionKinds(core(), { all: true });
    expect(later.closed_account_records.records).toBe(1);
    expect(await core().db.selectFrom('closed_accounts').select('id').where('subject_id', '=', a.workspaceId).executeTakeFirst()).toBeUndefined();
    expect(await count('audit_log', a.workspaceId)).toBe(0);
  }, 60_000);
});

describe('closing an account', () => {
  it('signs the user out, closes the workspaces they alone own, and mails them the date', async () => {
    const c = await createTestMailbox(core());
    const session = await signIn(c.userId!);
    const closed = await session('DELETE', '/v1/auth/account');
    expect(closed.status).toBe(200);
    expect(closed.json).toMatchObject({ object: 'user', id: c.userId, closed: true, workspaces_closed: [c.workspaceId] });
    expect((await session('GET', '/v1/auth/session')).status).toBe(401);
    expect((await server.resend(c.apiKey!).domains.list()).error).toMatchObject({ statusCode: 401 });
    const email = (await core().db.selectFrom('users').select('email').where('id', '=', c.userId!).executeTakeFirstOrThrow()).email;
    const login = await api(server.url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status).toBe(401);
    expect(await toldBySystemMail(email, /account is closed/)).toContain(closed.json.deletion_at);
    // An API key cannot close an account.
    expect((await api(server.url, 'DELETE', '/v1/auth/account', { key: b.apiKey! })).status).toBe(401);

    clock.advance(7 * DAY + 1000);
    await runRetentionKinds(core(), { all: true });
    expect(await core().db.selectFrom('users').select('id').where('id', '=', c.userId!).executeTakeFirst()).toBeUndefined();
    expect(await core().db.selectFrom('closed_accounts').select('name').where('subject_id', '=', c.userId!).executeTakeFirstOrThrow()).toEqual({ name: email });
  }, 60_000);

  it('`mailstack workspace close W` and `mailstack retention status` work from the command line', async () => {
    const d = await createTestMailbox(core());
    const name = (await core().db.selectFrom('workspaces').select('name').where('id', '=', d.workspaceId).executeTakeFirstOrThrow()).name;
    const closed = runCli(['workspace', 'close', name], server.env);
    expect(closed.code, closed.stderr).toBe(0);
    expect(JSON.parse(closed.stdout)).toMatchObject({ object: 'workspace', id: d.workspaceId, closed: true });
    expect((await server.resend(d.apiKey!).domains.list()).error).toMatchObject({ statusCode: 401 });

    const r = runCli(['retention', 'status'], server.env);
    expect(r.code, r.stderr).toBe(0);
    const table = JSON.parse(r.stdout);
    const kinds = table.map((k: any) => k.kind);
    expect(kinds).toEqual(expect.arrayContaining(['messages', 'trash', 'audit_log', 'request_log', 'closed_accounts', 'closed_account_records', 'exports', 'backups', 'unreferenced_blobs']));
    const audit = table.find((k: any) => k.kind === 'audit_log');
    expect(audit).toMatchObject({ setting: 'MAILSTACK_AUDIT_RETENTION_DAYS', window: { days: 365 } });
    expect(Date.parse(audit.oldest)).toBeLessThanOrEqual(clock.now());
    expect(typeof audit.due).toBe('number');
  }, 240_000);
});
