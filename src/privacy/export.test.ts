// Exports over the real API and CLI: the zip's JSON Lines and mbox files, secrets left out, a
// person's export holding only what names them, the signed download link, roles and tenant walls.
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { createTestMailbox, appendRaw, type TestMailbox } from '../testkit/mailbox.ts';
import { until } from '../testkit/remote-mx.ts';
import { type TestServer, api, runCli, startTestServer } from '../testkit/server.ts';
import { jsonLines, readZip } from '../testkit/zip.ts';
import { parseMbox } from './mbox.ts';
import { purgeExpiredExports } from './export.ts';

let server: TestServer;
let dns: TestDns;
let A: TestMailbox & { apiKey: string };
let B: { workspaceId: string; apiKey: string };
const dir = mkdtempSync(path.join(tmpdir(), 'export-test-'));

const PERSON = 'Pat.Person@Example.ORG';
const person = PERSON.toLowerCase();
const fromPerson = `From: Pat <${PERSON}>\r\nTo: box@x\r\nSubject: hello from pat\r\nMessage-ID: <p1@example.org>\r\n\r\nFirst line\r\nFrom the start of a line\r\n>From already quoted\r\nlast\r\n`;
const fromOther = `From: Olga <olga@example.net>\r\nTo: box@x\r\nSubject: unrelated\r\nMessage-ID: <o1@example.net>\r\n\r\nnothing about anyone\r\n`;

async function waitDone(key: string, id: string) {
  return until('export completed', async () => {
    const r = await api(server.url, 'GET', `/v1/exports/${id}`, { key });
    return r.json?.status === 'completed' || r.json?.status === 'failed' ? r.json : null;
  });
}

async function download(url: string, name: string): Promise<Map<string, Buffer>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/zip');
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return readZip(file);
}

beforeAll(async () => {
  dns = await startTestDns();
  server = await startTestServer({ env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_API_RATE_LIMIT: '0' } });
  const core = server.platform.core;
  A = (await createTestMailbox(core)) as TestMailbox & { apiKey: string };
  await appendRaw(core, A.mailbox, fromPerson);
  await appendRaw(core, A.mailbox, fromOther);
  await appendRaw(core, A.mailbox, fromOther.replace('o1@', 'o2@'), { specialUse: 'archive' });
  const sdk = server.resend(A.apiKey);
  const sent = await sdk.emails.send({ from: A.mailbox.address, to: [PERSON], subject: 'to pat', text: 'hi pat' });
  expect(sent.error).toBeNull();
  await sdk.suppressions.add({ email: person } as any);
  await sdk.emails.send({ from: A.mailbox.address, to: ['someone@example.net'], subject: 'to someone', text: 'hi' });
  B = await server.setup('owner-b@example.com', 'B');
});

afterAll(async () => {
  await server?.stop();
  await dns?.close();
});

describe('a workspace export', () => {
  let zip: Map<string, Buffer>;
  let exportId: string;

  it('is queued, made by a job with progress, and downloaded by a signed link without a key', async () => {
    const made = await api(server.url, 'POST', '/v1/exports', { key: A.apiKey, body: { scope: 'workspace' } });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ object: 'export', scope: 'workspace', status: 'queued', download_url: null, expires_at: null });
    expect(Object.keys(made.json).sort()).toEqual(['created_at', 'download_url', 'expires_at', 'id', 'object', 'progress', 'scope', 'status']);
    exportId = made.json.id;
    const done = await waitDone(A.apiKey, exportId);
    expect(done.status).toBe('completed');
    expect(done.progress.total).toBeGreaterThan(5);
    expect(done.progress.done).toBe(done.progress.total);
    expect(new Date(done.expires_at).getTime()).toBeGreaterThan(Date.now());
    const audited = async () => server.platform.core.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', A.workspaceId).where((eb) => eb.or([eb('action', '=', 'export.downloaded'), eb('action', '=', 'content.read')])).orderBy('id').execute();
    // Asking for it read the inbox's mail on the key's behalf: a content read on that inbox.
    const asked = await audited();
    expect(asked.map((r) => [r.action, r.actor_type, r.target_type, r.target_id])).toEqual([['content.read', 'api_key', 'mailbox', A.mailbox.id]]);
    expect(JSON.parse(asked[0].data!)).toMatchObject({ what: 'export', reason: `export ${exportId}` });
    zip = await download(done.download_url, 'ws.zip');
    // Every fetch through the signed link is audited, with the fetcher's address.
    const fetched = (await audited()).slice(1);
    expect(fetched.map((r) => [r.action, r.actor_type, r.target_id])).toEqual([
      ['export.downloaded', 'link', exportId],
      ['content.read', 'link', A.mailbox.id],
    ]);
    expect(fetched[0].ip).toMatch(/127\.0\.0\.1/);
    await download(done.download_url, 'ws-again.zip');
    expect((await audited()).filter((r) => r.action === 'export.downloaded')).toHaveLength(2);
    const list = await api(server.url, 'GET', '/v1/exports', { key: A.apiKey });
    expect(list.json.data.map((e: any) => e.id)).toEqual([exportId]);
  });

  it('holds a README and JSON Lines of every kind, without secrets', async () => {
    const readme = zip.get('README.txt')!.toString();
    expect(readme).toContain('RFC 4155');
    for (const name of ['workspace.jsonl', 'members.jsonl', 'api_keys.jsonl', 'domains.jsonl', 'webhooks.jsonl', 'emails.jsonl', 'events.jsonl', 'suppressions.jsonl', 'audit_log.jsonl', 'mailboxes.jsonl']) {
      expect(zip.has(name), name).toBe(true);
    }
    const emails = jsonLines(zip.get('emails.jsonl'));
    expect(emails).toHaveLength(2);
    const toPat = emails.find((e) => e.subject === 'to pat');
    expect(toPat.recipients).toEqual([expect.objectContaining({ address: person, kind: 'to', status: expect.any(String) })]);
    expect(jsonLines(zip.get('suppressions.jsonl')).map((s) => s.email)).toContain(person);
    expect(jsonLines(zip.get('members.jsonl'))[0]).toMatchObject({ role: 'owner' });
    const keys = jsonLines(zip.get('api_keys.jsonl'));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys[0].token_hash).toBeUndefined();
    const domains = jsonLines(zip.get('domains.jsonl'));
    expect(domains[0].name).toBe(A.domainName);
    expect(domains[0].dkim_private_key_enc).toBeUndefined();
    expect(jsonLines(zip.get('audit_log.jsonl')).some((r) => r.action === 'content.read')).toBe(true);
    // No secret anywhere in the file: the API key itself, the DKIM private key sealed or clear.
    const core = server.platform.core;
    const d = await core.db.selectFrom('domains').select(['id', 'dkim_private_key_enc']).where('id', '=', A.domainId).executeTakeFirstOrThrow();
    const pem = core.vault.decrypt(d.dkim_private_key_enc!, `dkim:${d.id}`);
    const all = Buffer.concat([...zip.values()]).toString('latin1');
    expect(all).not.toContain(A.apiKey);
    expect(all).not.toContain(d.dkim_private_key_enc!);
    expect(all).not.toContain(pem.split('\n')[1]);
  });

  it('holds one mbox per folder with From lines quoted (mboxrd) and messages intact', async () => {
    const inbox = zip.get(`mbox/${A.mailbox.address}/INBOX.mbox`)!.toString();
    const raw = inbox.split('\n');
    expect(raw.filter((l) => l.startsWith('From ')).length).toBe(2);
    expect(inbox).toContain('\n>From the start of a line\n');
    expect(inbox).toContain('\n>>From already quoted\n');
    expect(raw[0]).toMatch(/^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    const messages = parseMbox(inbox);
    expect(messages.map((m) => m.message)).toEqual([fromPerson, fromOther].map((m) => m.replace(/\r\n/g, '\n').replace(/\n$/, '')));
    expect(parseMbox(zip.get(`mbox/${A.mailbox.address}/Archive.mbox`)!.toString())).toHaveLength(1);
  });

  it('is walled off: another workspace cannot see it, and its link opens only this export', async () => {
    expect((await api(server.url, 'GET', `/v1/exports/${exportId}`, { key: B.apiKey })).status).toBe(404);
    expect((await api(server.url, 'GET', '/v1/exports', { key: B.apiKey })).json.data).toEqual([]);
    const done = (await api(server.url, 'GET', `/v1/exports/${exportId}`, { key: A.apiKey })).json;
    const token = new URL(done.download_url).searchParams.get('token')!;
    const other = await api(server.url, 'POST', '/v1/exports', { key: B.apiKey, body: { scope: 'workspace' } });
    const wrong = await fetch(`${server.url}/v1/exports/${other.json.id}/download?token=${encodeURIComponent(token)}`);
    expect(wrong.status).toBe(403);
    const forged = await fetch(`${server.url}/v1/exports/${exportId}/download?token=${encodeURIComponent(token.slice(0, -4) + 'AAAA')}`);
    expect(forged.status).toBe(403);
  });
});

describe('a person export', () => {
  it('holds only the records naming the address, matched case-insensitively', async () => {
    const made = await api(server.url, 'POST', '/v1/exports', { key: A.apiKey, body: { scope: 'person', email: PERSON } });
    expect(made.status).toBe(201);
    const done = await waitDone(A.apiKey, made.json.id);
    expect(done.status).toBe('completed');
    const zip = await download(done.download_url, 'person.zip');
    expect(jsonLines(zip.get('emails.jsonl')).map((e) => e.subject)).toEqual(['to pat']);
    expect(jsonLines(zip.get('suppressions.jsonl'))).toHaveLength(1);
    expect(jsonLines(zip.get('events.jsonl')).length).toBeGreaterThan(0);
    expect(jsonLines(zip.get('events.jsonl')).every((e) => JSON.stringify(e).toLowerCase().includes(person))).toBe(true);
    expect(zip.has('api_keys.jsonl')).toBe(false);
    const inbox = parseMbox(zip.get(`mbox/${A.mailbox.address}/INBOX.mbox`)!.toString());
    expect(inbox.map((m) => m.message)).toEqual([fromPerson.replace(/\r\n/g, '\n').replace(/\n$/, '')]);
    expect(zip.has(`mbox/${A.mailbox.address}/Archive.mbox`)).toBe(false);
    expect(Buffer.concat([...zip.values()]).toString()).not.toContain('olga@example.net');
  });
});

describe('asking for an export', () => {
  it('refuses bad input with a clear error', async () => {
    for (const body of [{ scope: 'everything' }, { scope: 'person' }, { scope: 'person', email: 'not an address' }, { scope: 'inbox' }, {}]) {
      const r = await api(server.url, 'POST', '/v1/exports', { key: A.apiKey, body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.json.name).toBe('validation_error');
    }
    const missing = await api(server.url, 'POST', '/v1/exports', { key: A.apiKey, body: { scope: 'inbox', inbox_id: '0190aaaa-0000-7000-8000-000000000000' } });
    expect(missing.status).toBe(404);
    // Another workspace's inbox is not found, not exported.
    const theirs = await api(server.url, 'POST', '/v1/exports', { key: B.apiKey, body: { scope: 'inbox', inbox_id: A.mailbox.id } });
    expect(theirs.status).toBe(404);
    expect((await api(server.url, 'GET', '/v1/exports/not-an-id', { key: A.apiKey })).status).toBe(404);
  });

  it('is for owners and admins: a sending-only key is refused', async () => {
    const key = await server.resend(A.apiKey).apiKeys.create({ name: 'sender', permission: 'sending_access' });
    const r = await api(server.url, 'POST', '/v1/exports', { key: key.data!.token, body: { scope: 'workspace' } });
    expect(r.status).toBe(403);
    expect(r.json.name).toBe('restricted_api_key');
  });

  it('works from the CLI for one inbox, with progress on stderr', () => {
    const out = path.join(dir, 'cli.zip');
    const r = runCli(['export', '--workspace', A.workspaceId, '--inbox', A.mailbox.address, '--out', out], server.env);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ object: 'export', scope: 'inbox', status: 'completed', file: out });
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ task: 'export', finished: true });
    return readZip(out).then((zip) => {
      expect(parseMbox(zip.get(`mbox/${A.mailbox.address}/INBOX.mbox`)!.toString())).toHaveLength(2);
      expect(jsonLines(zip.get('mailboxes.jsonl')).map((m) => m.address)).toEqual([A.mailbox.address]);
      expect(zip.has('emails.jsonl')).toBe(false);
    });
  });
});

describe('finished exports', () => {
  it('are deleted, file and row, once older than the window; younger ones stay', async () => {
    const core = server.platform.core;
    const before = await core.db.selectFrom('exports').select(['id', 'file']).where('workspace_id', '=', A.workspaceId).where('status', '=', 'completed').execute();
    expect(before.length).toBeGreaterThan(0);
    expect(await purgeExpiredExports(core, 7)).toBe(0);
    await core.db.updateTable('exports').set({ updated_at: core.clock.now() - 8 * 86_400_000 }).where('id', '=', before[0].id).execute();
    expect(await purgeExpiredExports(core, 7)).toBe(1);
    const { existsSync } = await import('node:fs');
    expect(existsSync(before[0].file!)).toBe(false);
    expect((await api(server.url, 'GET', `/v1/exports/${before[0].id}`, { key: A.apiKey })).status).toBe(404);
  });
});
