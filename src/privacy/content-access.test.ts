// Every read of mail content by someone other than the inbox's owner is audited (`content.read`):
// API keys recorded and folded within a window, members without a reason refused, the owner
// unrecorded and able to see who read their mail, the operator's `mailstack inbox read --reason`.
// Also here: Resend's usage.get, and "session cookies only, no tracking cookies" on every web response.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPassword } from '../accounts/users.ts';
import { ManualClock } from '../core/clock.ts';
import { appendRaw, createTestMailbox, rawMessage, type TestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, api, runCli, startTestServer } from '../testkit/server.ts';
import { FOLD_MS } from './content-access.ts';
import { SESSION_COOKIE } from '../http/auth.ts';

const PASSWORD = 'correct horse battery staple';
const clock = new ManualClock();
let server: TestServer;
let box: TestMailbox;
let other: TestMailbox;
let messageId: string;
let threadId: string;
let memberId: string;
const core = () => server.platform.core;
const setCookies: string[] = [];

async function signIn(email: string, userId: string) {
  await setPassword(core(), core().db, userId, PASSWORD);
  const res = await fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
  expect(res.status).toBe(200);
  setCookies.push(...res.headers.getSetCookie());
  const cookie = res.headers.getSetCookie()[0].split(';')[0];
  return (p: string, headers: Record<string, string> = {}) => api(server.url, 'GET', p, { headers: { cookie, ...headers } });
}

const reads = () => core().db.selectFrom('audit_log').selectAll().where('action', '=', 'content.read').orderBy('id').execute();

beforeAll(async () => {
  server = await startTestServer({ clock, env: { MAILSTACK_WORKER_CONCURRENCY: '0' } });
  const s = await server.setup('owner@acme.test', 'Acme');
  box = await createTestMailbox(core(), { workspaceId: s.workspaceId, ownerUserId: s.userId });
  box.apiKey = s.apiKey;
  box.userId = s.userId;
  const appended = await appendRaw(core(), box.mailbox, rawMessage({ from: 'alice@remote.test', to: box.mailbox.address, subject: 'private', text: 'the secret plan' }));
  messageId = appended.id;
  threadId = appended.threadId;
  // A second member (an admin) who does not own the inbox.
  const member = await server.setup('admin@acme.test', 'Admin scratch');
  memberId = member.userId;
  await core().db.insertInto('memberships').values({ workspace_id: box.workspaceId, user_id: memberId, role: 'admin', created_at: clock.now() }).execute();
  await core().db.deleteFrom('memberships').where('workspace_id', '=', member.workspaceId).execute();
  other = await createTestMailbox(core());
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('content access audit', () => {
  it('records API-key reads, folding one key’s reads of a message within the window', async () => {
    const sdk = server.resend(box.apiKey!);
    for (let i = 0; i < 3; i++) {
      const r = await sdk.emails.receiving.get(messageId);
      expect(r.error).toBeNull();
      expect(r.data!.text).toContain('the secret plan');
    }
    let rows = await reads();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_type: 'api_key', target_type: 'mailbox', target_id: box.mailbox.id, workspace_id: box.workspaceId });
    expect(JSON.parse(rows[0].data!)).toMatchObject({ message_id: messageId, inbox: box.mailbox.address, what: 'message', count: 3 });

    clock.advance(FOLD_MS + 1000);
    expect((await sdk.emails.receiving.get(messageId)).error).toBeNull();
    const email = await sdk.inboxes.threads.emails.get({ inboxId: box.mailbox.id, threadId, emailId: messageId });
    expect(email.error).toBeNull();
    // Past the window: a new record, into which the same message read through its thread folds.
    rows = await reads();
    expect(rows).toHaveLength(2);
    expect(JSON.parse(rows[1].data!)).toMatchObject({ message_id: messageId, thread_id: threadId, count: 2 });
  });

  it('does not record the owner reading their own inbox', async () => {
    const before = (await reads()).length;
    const owner = await signIn('owner@acme.test', box.userId!);
    const r = await owner(`/v1/emails/receiving/${messageId}`);
    expect(r.status).toBe(200);
    expect((await reads()).length).toBe(before);
  });

  it('refuses a member who gives no reason, and records the reason of one who does', async () => {
    const admin = await signIn('admin@acme.test', memberId);
    const before = (await reads()).length;
    const refused = await admin(`/v1/emails/receiving/${messageId}`);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ statusCode: 403, name: 'access_reason_required' });
    expect(refused.json.message).toMatch(/X-Mailstack-Access-Reason/);
    expect(refused.text).not.toContain('the secret plan');
    expect((await admin(`/v1/inboxes/${box.mailbox.id}/threads/${threadId}/emails`)).status).toBe(403);
    expect((await admin(`/v1/emails/receiving/${messageId}/attachments`)).status).toBe(403);
    expect((await reads()).length).toBe(before);

    const ok = await admin(`/v1/emails/receiving/${messageId}`, { 'x-mailstack-access-reason': 'ticket #42: customer asked' });
    expect(ok.status).toBe(200);
    const byField = await admin(`/v1/inboxes/${box.mailbox.id}/threads/${threadId}/emails?access_reason=ticket%20%2343`);
    expect(byField.status).toBe(200);
    const rows = (await reads()).slice(before);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ actor_type: 'user', actor_id: memberId, actor_label: 'admin@acme.test' });
    expect(JSON.parse(rows[0].data!)).toMatchObject({ reason: 'ticket #42: customer asked', message_id: messageId });
    expect(JSON.parse(rows[1].data!)).toMatchObject({ reason: 'ticket #43', what: 'thread', thread_id: threadId });
  });

  it('lists the reads in the audit log and shows the owner who read their mail; another workspace sees none', async () => {
    const log = await api(server.url, 'GET', '/v1/audit-log?action=content.read', { key: box.apiKey! });
    expect(log.status).toBe(200);
    expect(log.json.data.length).toBe((await reads()).length);
    expect(log.json.data.every((e: any) => e.action === 'content.read')).toBe(true);

    const owner = await signIn('owner@acme.test', box.userId!);
    const mine = await owner('/v1/content-reads');
    expect(mine.status).toBe(200);
    expect(mine.json.data.some((e: any) => e.actor.label === 'admin@acme.test' && e.reason === 'ticket #42: customer asked')).toBe(true);

    const walled = await api(server.url, 'GET', '/v1/audit-log?action=content.read', { key: other.apiKey! });
    expect(walled.json.data).toEqual([]);
    expect((await server.resend(other.apiKey!).emails.receiving.get(messageId)).error).toMatchObject({ statusCode: 404 });
  });

  it('records the operator’s break-glass `mailstack inbox read --reason`, and its reason', () => {
    const r = runCli(['inbox', 'read', box.mailbox.address, '--reason', 'legal hold 7', '--message', messageId], server.env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).raw).toContain('the secret plan');
    return reads().then((rows) => {
      const cli = rows.find((x) => x.actor_type === 'cli');
      expect(cli).toBeDefined();
      expect(JSON.parse(cli!.data!)).toMatchObject({ reason: 'legal hold 7', message_id: messageId, what: 'cli' });
    });
  }, 180_000);
});

describe('signed download links', () => {
  it('record every fetch of a received message or attachment as a content read, with the fetcher', async () => {
    const got = await server.resend(box.apiKey!).emails.receiving.get(messageId);
    const url = (got.data as any).raw.download_url as string;
    const before = (await reads()).length;
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url, { headers: { 'user-agent': 'link-fetcher/1' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('the secret plan');
    }
    const rows = (await reads()).slice(before).filter((r) => r.actor_type === 'link');
    // Anyone holding the link is no account: each fetch is its own record, never folded.
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ target_type: 'mailbox', target_id: box.mailbox.id, workspace_id: box.workspaceId, user_agent: 'link-fetcher/1' });
    expect(JSON.parse(rows[0].data!)).toMatchObject({ message_id: messageId, what: 'raw', reason: 'signed download link' });
    // A refused link reads nothing and records nothing.
    const bad = await fetch(url.replace(/token=[^&]+/, 'token=nope'));
    expect(bad.status).toBe(403);
    expect((await reads()).length).toBe(before + 2);
  });
});

describe('usage.get', () => {
  it("reports the workspace's mail this period and the storage it uses", async () => {
    const { data, error } = await server.resend(box.apiKey!).usage.get();
    expect(error).toBeNull();
    expect(data!.object).toBe('usage');
    expect(data!.emails.monthly.received).toBe(1);
    expect(data!.emails.monthly.sent).toBe(0);
    expect(Date.parse(data!.emails.monthly.resets_at)).toBeGreaterThan(clock.now());
    expect((data as any).storage.mailboxes_bytes).toBeGreaterThan(0);
    const theirs = await server.resend(other.apiKey!).usage.get();
    expect(theirs.data!.emails.monthly.received).toBe(0);
  });
});

describe('cookies', () => {
  it('only the session cookie, HttpOnly and SameSite, is ever set; no tracking cookies', async () => {
    for (const p of ['/healthz', '/v1/openapi.json', '/docs', '/docs/', '/v1/nowhere', '/v1/domains', '/metrics']) {
      const res = await fetch(server.url + p, { redirect: 'manual' });
      setCookies.push(...res.headers.getSetCookie());
    }
    const keyed = await fetch(`${server.url}/v1/domains`, { headers: { authorization: `Bearer ${box.apiKey}` } });
    setCookies.push(...keyed.headers.getSetCookie());
    const logout = await fetch(`${server.url}/v1/auth/logout`, { method: 'POST' });
    setCookies.push(...logout.headers.getSetCookie());
    expect(setCookies.length).toBeGreaterThan(0);
    for (const c of setCookies) {
      expect(c.split('=')[0]).toBe(SESSION_COOKIE);
      expect(c).toMatch(/HttpOnly/i);
      expect(c).toMatch(/SameSite=Lax/i);
    }
  });
});
