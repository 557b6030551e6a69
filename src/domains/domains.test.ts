// Domains through the resend SDK against a real node, with a real DNS server (dns2, UDP) on
// loopback that the node's checker queries through MAILSTACK_DNS_SERVERS.
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resend } from 'resend';
import { type TestServer, api, startTestServer } from '../testkit/server.ts';
import { domainForSending } from './domains.ts';
import { checkDomain, enqueueDueChecks } from './verify.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';

let server: TestServer;
let dns: TestDns;
let resend: Resend;
let workspaceId: string;

beforeAll(async () => {
  dns = await startTestDns();
  server = await startTestServer({ env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_HOSTNAME: 'mx.mailstack.test' } });
  const ws = await server.setup('owner@example.com', 'Acme');
  workspaceId = ws.workspaceId;
  resend = server.resend(ws.apiKey);
});
afterAll(async () => {
  await server?.stop();
  await dns?.close();
});

type Rec = { record: string; name: string; type: string; value: string; priority?: number; status: string; required?: boolean };
const fqdn = (r: Rec, domain: string) => (r.name === '@' ? domain : `${r.name}.${domain}`);

/** Publishes the records the API asked for, except those `skip` names; `override` replaces a value. */
function publish(domain: string, records: Rec[], opts: { skip?: (r: Rec) => boolean; override?: (r: Rec) => string | undefined } = {}) {
  for (const r of records) {
    if (opts.skip?.(r)) continue;
    const value = opts.override?.(r) ?? r.value;
    if (r.type === 'TXT') dns.txt(fqdn(r, domain), value);
    else if (r.type === 'MX') dns.mx(fqdn(r, domain), value, r.priority);
  }
}

/** Polls get() until `done` holds (bounded). */
async function until(id: string, done: (d: any) => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const { data, error } = await resend.domains.get(id);
    expect(error).toBeNull();
    if (done(data)) return data as any;
    if (Date.now() > deadline) throw new Error(`domain never reached the state; last: ${JSON.stringify(data)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const MESSAGE = (from: string) =>
  [`From: Sender <${from}>`, 'To: someone@example.net', 'Subject: hello', 'Date: Mon, 01 Jan 2024 00:00:00 +0000', 'Message-ID: <1@x>', '', 'Hello there.', ''].join('\r\n');

/** Signs with the key domainForSending gives, then verifies through a resolver reading our DNS server. */
async function signAndVerify(domain: string) {
  const sending = await domainForSending(server.platform.core, workspaceId, domain);
  const algorithm = sending.dkim.algorithm === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';
  const msg = MESSAGE(`hello@${domain}`);
  // mailauth 4 reads the keys from `signatureData` (the top-level fields alone sign nothing).
  const key = { signingDomain: domain, selector: sending.dkim.selector, privateKey: sending.dkim.privateKey, algorithm };
  const signed = await dkimSign(msg, { ...key, signatureData: [key] });
  expect(signed.errors).toEqual([]);
  expect(signed.signatures).toMatch(/^DKIM-Signature: /);
  const r = dns.resolver();
  const result = await dkimVerify(signed.signatures + msg, { resolver: (name: string, type: string) => r.resolve(name, type as any) as any });
  return result.results[0];
}

describe('domains through the resend SDK', () => {
  it('creates a domain with the records to publish, in Resend\'s shape', async () => {
    const { data, error } = await resend.domains.create({ name: 'Records.Example.com', capabilities: { receiving: 'enabled' } });
    expect(error).toBeNull();
    expect(data).toMatchObject({ name: 'records.example.com', status: 'not_started', region: 'us-east-1', capabilities: { sending: 'enabled', receiving: 'enabled' } });
    expect(Date.parse(data!.created_at)).toBeGreaterThan(0);
    const records = data!.records as Rec[];
    const dkim = records.find((r) => r.record === 'DKIM')!;
    expect(dkim).toMatchObject({ type: 'TXT', status: 'not_started', ttl: 'Auto' });
    expect(dkim.name).toMatch(/^mailstack-\d{8}-[0-9a-f]{4}\._domainkey$/);
    expect(dkim.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    // A 2048-bit SPKI is 294 bytes: 392 base64 characters.
    expect(dkim.value.split('p=')[1]).toHaveLength(392);
    expect(records).toContainEqual(expect.objectContaining({ record: 'SPF', name: 'send', type: 'MX', value: 'mx.mailstack.test', priority: 10, required: true }));
    expect(records).toContainEqual(expect.objectContaining({ record: 'SPF', name: 'send', type: 'TXT', value: 'v=spf1 a:mx.mailstack.test ~all', required: true }));
    expect(records).toContainEqual(expect.objectContaining({ record: 'SPF', name: '@', type: 'TXT', required: false }));
    expect(records).toContainEqual(expect.objectContaining({ record: 'DMARC', name: '_dmarc', type: 'TXT', value: 'v=DMARC1; p=none; rua=mailto:dmarc@send.records.example.com', required: false }));
    expect(records).toContainEqual(expect.objectContaining({ record: 'Receiving', name: '@', type: 'MX', value: 'mx.mailstack.test', priority: 10, required: true }));

    const got = await resend.domains.get(data!.id);
    expect(got.data).toMatchObject({ object: 'domain', id: data!.id, name: 'records.example.com', status: 'not_started' });
    expect(got.data!.records).toEqual(data!.records);
  });

  it('uses custom_return_path for the bounce host', async () => {
    const { data } = await resend.domains.create({ name: 'rp.example.com', customReturnPath: 'Bounces' });
    const mx = (data!.records as Rec[]).find((r) => r.type === 'MX')!;
    expect(mx.name).toBe('bounces');
  });

  it('lists newest first with cursors, without records', async () => {
    const ids: string[] = [];
    for (const n of ['l1', 'l2', 'l3']) ids.push((await resend.domains.create({ name: `${n}.list.test` })).data!.id);
    const first = await resend.domains.list({ limit: 2 });
    expect(first.data).toMatchObject({ object: 'list', has_more: true });
    expect(first.data!.data.map((d) => d.name)).toEqual(['l3.list.test', 'l2.list.test']);
    expect((first.data!.data[0] as any).records).toBeUndefined();
    const next = await resend.domains.list({ limit: 2, after: first.data!.data[1].id });
    expect(next.data!.data[0].name).toBe('l1.list.test');
  });

  it('updates tracking, TLS and capabilities; receiving adds the receiving MX', async () => {
    const { data } = await resend.domains.create({ name: 'update.example.com' });
    expect((data!.records as Rec[]).some((r) => r.record === 'Receiving')).toBe(false);
    const upd = await resend.domains.update({ id: data!.id, openTracking: true, clickTracking: true, tls: 'enforced', capabilities: { receiving: 'enabled' } });
    expect(upd.error).toBeNull();
    expect(upd.data).toEqual({ object: 'domain', id: data!.id });
    const got = (await resend.domains.get(data!.id)).data as any;
    expect(got).toMatchObject({ open_tracking: true, click_tracking: true, tls: 'enforced', capabilities: { sending: 'enabled', receiving: 'enabled' } });
    expect(got.records.some((r: Rec) => r.record === 'Receiving')).toBe(true);
    const bad = await resend.domains.update({ id: data!.id, capabilities: { sending: 'disabled', receiving: 'disabled' } });
    expect(bad.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });

  it('verifies once the records are published, and the stored key signs mail that verifies (RSA)', async () => {
    const { data } = await resend.domains.create({ name: 'good.example.com' });
    const id = data!.id;
    // Before verification the domain cannot send.
    await expect(domainForSending(server.platform.core, workspaceId, 'good.example.com')).rejects.toMatchObject({ status: 403, code: 'validation_error' });
    publish('good.example.com', data!.records as Rec[]);
    const v = await resend.domains.verify(id);
    expect(v.error).toBeNull();
    expect(v.data).toEqual({ object: 'domain', id });
    const done = await until(id, (d) => d.status === 'verified');
    for (const r of done.records) expect(r.status).toBe('verified');
    expect(Date.parse(done.last_checked_at)).toBeGreaterThan(0);

    // The private key is ciphertext in the database.
    const row = await server.platform.core.db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.dkim_private_key_enc).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain('PRIVATE KEY');

    const result = await signAndVerify('good.example.com');
    expect(result.status.result).toBe('pass');
    expect(result.signingDomain).toBe('good.example.com');

    // The status change was announced (for now: an audit record).
    const audit = await server.platform.core.db.selectFrom('audit_log').selectAll().where('target_id', '=', id).where('action', '=', 'domain.updated').execute();
    expect(audit.map((a) => JSON.parse(a.data!).status?.to)).toContain('verified');
  });

  it('verifies an Ed25519 domain (RFC 8463), signing with ed25519-sha256', async () => {
    const created = await resend.post<any>('/domains', { name: 'ed.example.com', dkim_algorithm: 'ed25519' });
    expect(created.error).toBeNull();
    const dkim = (created.data.records as Rec[]).find((r) => r.record === 'DKIM')!;
    expect(dkim.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    publish('ed.example.com', created.data.records);
    await resend.domains.verify(created.data.id);
    await until(created.data.id, (d) => d.status === 'verified');
    const result = await signAndVerify('ed.example.com');
    expect(result.status.result).toBe('pass');
    expect(JSON.stringify(result)).toContain('ed25519-sha256');
  });

  it('marks a wrong DKIM value failed, the domain partially verified, and refuses to send', async () => {
    const { data } = await resend.domains.create({ name: 'wrongkey.example.com' });
    const other = (await resend.domains.create({ name: 'otherkey.example.com' })).data!;
    const otherKey = (other.records as Rec[]).find((r) => r.record === 'DKIM')!.value;
    publish('wrongkey.example.com', data!.records as Rec[], { override: (r) => (r.record === 'DKIM' ? otherKey : undefined) });
    await resend.domains.verify(data!.id);
    const done = await until(data!.id, (d) => d.last_checked_at !== null);
    expect(done.status).toBe('partially_verified');
    expect(done.records.find((r: Rec) => r.record === 'DKIM').status).toBe('failed');
    expect(done.records.filter((r: Rec) => r.record === 'SPF' && r.required).every((r: Rec) => r.status === 'verified')).toBe(true);
    await expect(domainForSending(server.platform.core, workspaceId, 'wrongkey.example.com')).rejects.toMatchObject({ status: 403 });
  });

  it('keeps absent records pending, and fails them once the grace period is over', async () => {
    const { data } = await resend.domains.create({ name: 'absent.example.com' });
    await resend.domains.verify(data!.id);
    const done = await until(data!.id, (d) => d.last_checked_at !== null);
    expect(done.status).toBe('pending');
    expect(done.records.filter((r: Rec) => r.required).every((r: Rec) => r.status === 'pending')).toBe(true);
    // 73 hours after verification started, still nothing published: failed.
    const core = server.platform.core;
    await core.db.updateTable('domains').set({ verification_started_at: Date.now() - 73 * 3_600_000 }).where('id', '=', data!.id).execute();
    expect(await checkDomain(core, data!.id)).toBe('failed');
  });

  it('re-checks verified domains on the schedule and notices a removed DKIM record', async () => {
    const { data } = await resend.domains.create({ name: 'recheck.example.com' });
    const records = data!.records as Rec[];
    publish('recheck.example.com', records);
    await resend.domains.verify(data!.id);
    await until(data!.id, (d) => d.status === 'verified');
    dns.clear(fqdn(records.find((r) => r.record === 'DKIM')!, 'recheck.example.com'));
    const core = server.platform.core;
    // Just checked, so not due: the schedule leaves it alone.
    await enqueueDueChecks(core);
    const job = await core.db.selectFrom('jobs').select('id').where('unique_key', '=', `domain.verify:${data!.id}`).executeTakeFirst();
    expect(job).toBeUndefined();
    await core.db.updateTable('domains').set({ last_checked_at: Date.now() - 25 * 3_600_000, verification_started_at: Date.now() - 80 * 3_600_000 }).where('id', '=', data!.id).execute();
    expect(await enqueueDueChecks(core)).toBeGreaterThanOrEqual(1);
    const done = await until(data!.id, (d) => d.status !== 'verified');
    expect(done.status).toBe('partially_failed');
    expect(done.records.find((r: Rec) => r.record === 'DKIM').status).toBe('failed');
    await expect(domainForSending(core, workspaceId, 'recheck.example.com')).rejects.toMatchObject({ status: 403 });
  });

  it('answers not_found for an unknown id and validation errors in Resend\'s shape', async () => {
    const missing = await resend.domains.get('00000000-0000-7000-8000-000000000000');
    expect(missing.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    const r = await api(server.url, 'POST', '/v1/domains', { key: (resend as any).key, body: { name: 'x.example.com', region: 'mars' } });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ statusCode: 422, name: 'invalid_region' });
  });
});
