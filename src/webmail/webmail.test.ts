// The webmail API over a real socket: owner_user_id on inboxes (a member of the workspace only),
// who may open which mailbox (owner; owners and admins as non-owners; nobody from another
// workspace), folder counts, keyset paging, search operators, flags and moves, hostile input,
// and the live stream (SSE) hearing a delivery.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUser, setPassword } from '../accounts/users.ts';
import type { Core } from '../core/core.ts';
import { appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { acceptAs } from '../testkit/invitations.ts';

let server: TestServer;
let core: Core;
let url: string;
let ownerKey: string;
let ownerId: string;
let workspaceId: string;
let mailboxId: string;
let other: { key: string; workspaceId: string; userId: string };
const PW = 'a long enough password';

/** A signed-in person: the session cookie and the CSRF token. */
async function session(email: string) {
  const r = await fetch(`${url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PW }) });
  expect(r.status).toBe(200);
  const cookie = r.headers.get('set-cookie')!.split(';')[0];
  const body = (await r.json()) as { csrf_token: string };
  return { headers: { cookie, 'x-csrf-token': body.csrf_token } };
}

beforeAll(async () => {
  server = await startTestServer();
  core = server.platform.core;
  url = server.url;
  const s = await server.setup('owner@example.com', 'Webmail', PW);
  ownerKey = s.apiKey;
  ownerId = s.userId;
  workspaceId = s.workspaceId;
  const box = await createTestMailbox(core, { workspaceId, address: 'box@webmail.test' });
  mailboxId = box.mailbox.id;
  const o = await server.setup('stranger@example.com', 'Other', PW);
  other = { key: o.apiKey, workspaceId: o.workspaceId, userId: o.userId };
  const mb = await core.db.selectFrom('mailboxes').selectAll().where('id', '=', mailboxId).executeTakeFirstOrThrow();
  for (let i = 1; i <= 7; i++) {
    await appendRaw(core, mb, rawMessage({ from: `Sender ${i} <s${i}@remote.test>`, to: 'box@webmail.test', subject: `Message ${i} ${i % 2 ? 'odd' : 'even'}`, text: `body number ${i} ${i === 3 ? 'needle' : ''}` }));
  }
});

afterAll(async () => {
  await server?.stop();
});

describe('owner_user_id on inboxes', () => {
  it('is accepted by PATCH only for a member of the workspace, and returned by get and list', async () => {
    const foreign = await api(url, 'PATCH', `/v1/inboxes/${mailboxId}`, { key: ownerKey, body: { owner_user_id: other.userId } });
    expect(foreign.status).toBe(422);
    expect(foreign.json).toMatchObject({ name: 'validation_error' });
    expect((await api(url, 'PATCH', `/v1/inboxes/${mailboxId}`, { key: ownerKey, body: { owner_user_id: 12 } })).status).toBe(422);
    const set = await api(url, 'PATCH', `/v1/inboxes/${mailboxId}`, { key: ownerKey, body: { owner_user_id: ownerId } });
    expect(set.status).toBe(200);
    expect((await api(url, 'GET', `/v1/inboxes/${mailboxId}`, { key: ownerKey })).json.owner_user_id).toBe(ownerId);
    const list = await api(url, 'GET', '/v1/inboxes', { key: ownerKey });
    expect(list.json.data.find((i: { id: string }) => i.id === mailboxId).owner_user_id).toBe(ownerId);
    // Another workspace cannot set it on this inbox, or learn it exists.
    expect((await api(url, 'PATCH', `/v1/inboxes/${mailboxId}`, { key: other.key, body: { owner_user_id: other.userId } })).status).toBe(404);
  });

  it('is accepted by POST for a member, refused for anyone else', async () => {
    const domain = await core.db.selectFrom('domains').select('name').where('workspace_id', '=', workspaceId).executeTakeFirstOrThrow();
    const bad = await api(url, 'POST', '/v1/inboxes', { key: ownerKey, body: { email_address: `x@${domain.name}`, owner_user_id: other.userId } });
    expect(bad.status).toBe(422);
    const ok = await api(url, 'POST', '/v1/inboxes', { key: ownerKey, body: { email_address: `y@${domain.name}`, owner_user_id: ownerId } });
    expect(ok.status).toBe(201);
    expect((await api(url, 'GET', `/v1/inboxes/${ok.json.id}`, { key: ownerKey })).json.owner_user_id).toBe(ownerId);
  });
});

describe('who may open a mailbox', () => {
  it('the owner sees it as owned; a viewer who does not own it gets 404; another workspace gets 404', async () => {
    const owner = await session('owner@example.com');
    const mine = await api(url, 'GET', '/v1/webmail/mailboxes', { headers: owner.headers });
    expect(mine.json.data.find((m: { id: string }) => m.id === mailboxId)).toMatchObject({ owned: true, email_address: 'box@webmail.test' });

    await api(url, 'POST', '/v1/members', { key: ownerKey, body: { email: 'viewer@example.com', role: 'viewer' } });
    const { user } = await ensureUser(core, core.db, 'viewer@example.com');
    await setPassword(core, core.db, user.id, PW);
    await acceptAs(core, 'viewer@example.com'); // a member only once they accept (issue 9)
    const viewer = await session('viewer@example.com');
    expect((await api(url, 'GET', '/v1/webmail/mailboxes', { headers: viewer.headers })).json.data).toEqual([]);
    expect((await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders`, { headers: viewer.headers })).status).toBe(404);

    expect((await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders`, { key: other.key })).status).toBe(404);
    // A full-access key acts as an admin: it may open the mailbox, as a non-owner.
    const admin = await api(url, 'GET', '/v1/webmail/mailboxes', { key: ownerKey });
    expect(admin.json.data.find((m: { id: string }) => m.id === mailboxId)).toMatchObject({ owned: false });
  });
});

describe('folders, pages, search, flags, moves', () => {
  it('counts unread per folder and pages a folder newest first by UID', async () => {
    const folders = (await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders`, { key: ownerKey })).json.data;
    const inbox = folders.find((f: { special_use: string }) => f.special_use === 'inbox');
    expect(inbox).toMatchObject({ name: 'INBOX', total: 7, unread: 7 });
    const p1 = (await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders/${inbox.id}/messages?limit=3`, { key: ownerKey })).json;
    expect(p1.has_more).toBe(true);
    expect(p1.data.map((m: { subject: string }) => m.subject)).toEqual(['Message 7 odd', 'Message 6 even', 'Message 5 odd']);
    const last = p1.data[2].uid;
    const p2 = (await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders/${inbox.id}/messages?limit=10&before_uid=${last}`, { key: ownerKey })).json;
    expect(p2.has_more).toBe(false);
    expect(p2.data.map((m: { subject: string }) => m.subject)).toEqual(['Message 4 even', 'Message 3 odd', 'Message 2 even', 'Message 1 odd']);
  });

  it('searches words and operators, and says which operator or date it did not understand', async () => {
    const q = (s: string) => api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/search?q=${encodeURIComponent(s)}`, { key: ownerKey });
    expect((await q('needle')).json.data.map((m: { subject: string }) => m.subject)).toEqual(['Message 3 odd']);
    expect((await q('subject:even from:s4')).json.data.map((m: { subject: string }) => m.subject)).toEqual(['Message 4 even']);
    expect((await q('is:unread subject:odd')).json.data).toHaveLength(4);
    const unknown = await q('colour:red');
    expect(unknown.status).toBe(422);
    expect(unknown.json.message).toMatch(/Unknown search operator `colour:`/);
    expect((await q('before:yesterday')).status).toBe(422);
  });

  it('sets flags, moves to Trash and back (same id), and refuses bad input in the API\'s terms', async () => {
    const folders = (await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders`, { key: ownerKey })).json.data;
    const inbox = folders.find((f: { special_use: string }) => f.special_use === 'inbox');
    const first = (await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders/${inbox.id}/messages?limit=1`, { key: ownerKey })).json.data[0];
    const base = `/v1/webmail/mailboxes/${mailboxId}/messages/${first.id}`;
    expect((await api(url, 'PATCH', base, { key: ownerKey, body: { seen: true, flagged: true } })).status).toBe(200);
    const read = (await api(url, 'GET', base, { key: ownerKey })).json;
    expect(read).toMatchObject({ seen: true, flagged: true, subject: 'Message 7 odd' });
    const moved = (await api(url, 'POST', `${base}/move`, { key: ownerKey, body: { special_use: 'trash' } })).json;
    expect(moved.from_folder_id).toBe(inbox.id);
    expect((await api(url, 'POST', `${base}/move`, { key: ownerKey, body: { folder_id: moved.from_folder_id } })).status).toBe(200);
    expect((await api(url, 'GET', base, { key: ownerKey })).json.folder_id).toBe(inbox.id);

    expect((await api(url, 'PATCH', base, { key: ownerKey, body: { seen: 'yes' } })).status).toBe(422);
    expect((await api(url, 'POST', `${base}/move`, { key: ownerKey, body: { special_use: 'sent' } })).status).toBe(422);
    expect((await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders/${inbox.id}/messages?limit=0`, { key: ownerKey })).status).toBe(422);
    expect((await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/folders/${inbox.id}/messages?before_uid=-4`, { key: ownerKey })).status).toBe(422);
    expect((await api(url, 'GET', `/v1/webmail/mailboxes/${mailboxId}/messages/not-an-id`, { key: ownerKey })).status).toBe(404);
    // Another workspace's key cannot touch the message even knowing every id.
    expect((await api(url, 'PATCH', base, { key: other.key, body: { seen: false } })).status).toBe(404);
    expect((await api(url, 'GET', base, { key: ownerKey })).json.seen).toBe(true);
  });
});

describe('the live stream', () => {
  it('sends a change event when mail is delivered to an open mailbox', async () => {
    const events: string[] = [];
    const req = http.get(`${url}/v1/webmail/events?mailbox_id=${mailboxId}`, { headers: { authorization: `Bearer ${ownerKey}` } });
    const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    res.setEncoding('utf8');
    res.on('data', (d: string) => events.push(d));
    await new Promise((r) => setTimeout(r, 100));
    const mb = await core.db.selectFrom('mailboxes').selectAll().where('id', '=', mailboxId).executeTakeFirstOrThrow();
    await appendRaw(core, mb, rawMessage({ subject: 'Live one', to: 'box@webmail.test' }));
    const deadline = Date.now() + 5000;
    while (!events.join('').includes('event: change') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    req.destroy();
    const text = events.join('');
    expect(text).toContain('event: ready');
    expect(text).toMatch(/event: change\ndata: \{"type":"new","mailbox_id":"[^"]+"/);
    // Another workspace cannot subscribe to this mailbox.
    expect((await api(url, 'GET', `/v1/webmail/events?mailbox_id=${mailboxId}`, { key: other.key })).status).toBe(404);
  });
});
