// Issue 9's cross-tenant domain takeover, every step of the attack, over real HTTP (the resend SDK
// and fetch) with a loopback DNS server and mail delivered over real SMTP (nodemailer) to the MX:
// workspace A adds workspace B's verified domain, enables receiving, verifies (B's MX answers), and
// tries inboxes, a catch-all, aliases and sending. None of it takes effect and no mail lands in A.
// Then control truly moves (A's token published, B's gone): A becomes the owner and B's domain is
// revoked as documented (catch-all cleared, aliases removed, inboxes kept but cut off); a subdomain
// is a name of its own; both tokens published keeps the current owner.
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { type TestServer, api, freePort, startTestServer } from '../testkit/server.ts';
import { sendWithNodemailer, storedMessages } from '../testkit/smtp-senders.ts';
import { routeRecipient } from '../inbound/route.ts';

const VICTIM = 'victim-b.example.net';
const A_OWN = 'attacker-a.example.net';

let server: TestServer;
let dns: TestDns;
let core: Core;
let mxPort: number;
let keyA: string;
let keyB: string;
let resendA: Resend;
let resendB: Resend;
let bDomainId: string;
let aClaimId: string;
let aInbox: string;
let bInbox: string;
let workspaceB: string;

type Rec = { record: string; name: string; type: string; value: string; priority?: number; status: string };
const fqdn = (domain: string, r: Rec) => (r.name === '@' ? domain : `${r.name}.${domain}`);
const publish = (domain: string, records: Rec[], only?: (r: Rec) => boolean) => {
  for (const r of records.filter(only ?? (() => true))) {
    if (r.type === 'TXT') dns.txt(fqdn(domain, r), r.value);
    else if (r.type === 'MX') dns.mx(fqdn(domain, r), r.value, r.priority);
  }
};
const call = (key: string, method: string, path: string, body?: unknown) => api(server.url, method, path, { key, body });

/** POST /verify through the SDK, then waits for the queued domain.verify job to have looked. */
async function verify(client: Resend, id: string) {
  const before = ((await client.domains.get(id)).data as any).last_checked_at as string | null;
  const r = await client.domains.verify(id);
  expect(r.error).toBeNull();
  for (let i = 0; i < 200; i++) {
    const d = (await client.domains.get(id)).data as any;
    if (d.last_checked_at && d.last_checked_at !== before) return d;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('the domain check never ran');
}

const deliver = (to: string) =>
  sendWithNodemailer(mxPort, { from: 'stranger@outside.example.org', to: [to] }, `From: stranger@outside.example.org\r\nTo: ${to}\r\nSubject: reset ${to}\r\nMessage-ID: <${Math.random()}@outside.example.org>\r\n\r\nyour reset link\r\n`);

beforeAll(async () => {
  dns = await startTestDns();
  mxPort = await freePort();
  server = await startTestServer({ env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_SMTP_PORT: String(mxPort) } });
  core = server.platform.core;
  const b = await server.setup('owner@victim-b.test', 'Victim B');
  const a = await server.setup('mallory@attacker-a.test', 'Attacker A');
  keyA = a.apiKey;
  keyB = b.apiKey;
  workspaceB = b.workspaceId;
  resendA = server.resend(keyA);
  resendB = server.resend(keyB);

  // B: the real owner, with its records (its own token among them) in DNS, and an inbox.
  const created = await resendB.domains.create({ name: VICTIM, capabilities: { receiving: 'enabled' } } as any);
  expect(created.error).toBeNull();
  bDomainId = created.data!.id;
  publish(VICTIM, created.data!.records as Rec[]);
  const checked = await verify(resendB, bDomainId);
  expect(checked.status).toBe('verified');
  expect(checked.ownership_verified_at).toBeTruthy();
  const ib = await call(keyB, 'POST', '/v1/inboxes', { email_address: `boss@${VICTIM}` });
  expect(ib.status, JSON.stringify(ib.json)).toBe(201);
  bInbox = ib.json.id;

  // A: a domain of its own (proven), with an inbox the takeover would point things at.
  const own = await resendA.domains.create({ name: A_OWN, capabilities: { receiving: 'enabled' } } as any);
  publish(A_OWN, own.data!.records as Rec[]);
  expect((await verify(resendA, own.data!.id)).status).toBe('verified');
  const ia = await call(keyA, 'POST', '/v1/inboxes', { email_address: `loot@${A_OWN}` });
  expect(ia.status).toBe(201);
  aInbox = ia.json.id;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await dns?.close();
});

describe('a second workspace adding a domain another workspace owns', () => {
  it('gets a 201 and its own token, in a response shaped exactly as for a name nobody holds', async () => {
    const claim = await resendA.domains.create({ name: VICTIM });
    expect(claim.error).toBeNull();
    aClaimId = claim.data!.id;
    const fresh = await resendA.domains.create({ name: 'nobody-holds.example.net' });
    const own = (d: any) => (d.records as Rec[]).find((r) => r.record === 'Ownership')!;
    expect(own(claim.data)).toMatchObject({ name: '_mailstack-challenge', type: 'TXT', status: 'not_started' });
    expect(own(claim.data).value).not.toBe(own((await resendB.domains.get(bDomainId)).data).value);
    expect(Object.keys(claim.data!).sort()).toEqual(Object.keys(fresh.data!).sort());
    expect((claim.data as any).ownership_verified_at).toBeNull();
    expect((claim.data!.records as Rec[]).map((r) => `${r.record} ${r.type}`)).toEqual((fresh.data!.records as Rec[]).map((r) => `${r.record} ${r.type}`));
  });

  it('may enable receiving and verify, but B\'s MX record proves nothing: no ownership', async () => {
    const patched = await call(keyA, 'PATCH', `/v1/domains/${aClaimId}`, { capabilities: { receiving: 'enabled' } });
    expect(patched.status).toBe(200);
    const d = await verify(resendA, aClaimId);
    const mx = (d.records as Rec[]).find((r) => r.record === 'Receiving' && r.type === 'MX')!;
    expect(mx.status).toBe('verified'); // satisfied by B's own MX record…
    expect((d.records as Rec[]).find((r) => r.record === 'Ownership')!.status).toBe('failed'); // …but the TXT holds B's token, not A's
    expect(d.ownership_verified_at).toBeNull();
    expect(d.status).not.toBe('verified');
  });

  it('gets no inbox, catch-all or alias at the name: 422 telling what to publish', async () => {
    const inbox = await call(keyA, 'POST', '/v1/inboxes', { email_address: `mallory@${VICTIM}` });
    expect(inbox.status).toBe(422);
    expect(inbox.json.message).toContain(`_mailstack-challenge.${VICTIM}`);
    const catchAll = await call(keyA, 'PUT', `/v1/domains/${aClaimId}/catch-all`, { inbox_id: aInbox });
    expect(catchAll.status).toBe(422);
    expect(catchAll.json.message).toContain('not verified as this workspace');
    const alias = await call(keyA, 'POST', '/v1/aliases', { address: `ceo@${VICTIM}`, inbox_ids: [aInbox] });
    expect(alias.status).toBe(422);
    expect(alias.json.message).toContain('not verified as this workspace');
    expect(await core.db.selectFrom('mailboxes').select('id').where('address', '=', `mallory@${VICTIM}`).executeTakeFirst()).toBeUndefined();
    expect(await core.db.selectFrom('aliases').select('id').where('address', '=', `ceo@${VICTIM}`).executeTakeFirst()).toBeUndefined();
  });

  it('cannot send as the name', async () => {
    const sent = await resendA.emails.send({ from: `ceo@${VICTIM}`, to: 'someone@outside.example.org', subject: 'x', text: 'x' });
    expect(sent.error?.statusCode).toBe(403);
    expect(sent.error?.message).toContain('not verified as this workspace');
  });

  it('receives no mail: over SMTP, B\'s address lands in B, others are refused, nothing reaches A', async () => {
    const toBoss = await deliver(`boss@${VICTIM}`);
    expect(toBoss.code).toBe(250);
    for (const to of [`ceo@${VICTIM}`, `random123@${VICTIM}`, `mallory@${VICTIM}`]) {
      const r = await deliver(to);
      expect(r.code, to).toBe(550);
      expect(r.response).toContain('5.1.1');
    }
    // B adds a catch-all: the unknown addresses now reach B, still never A.
    expect((await call(keyB, 'PUT', `/v1/domains/${bDomainId}/catch-all`, { inbox_id: bInbox })).status).toBe(200);
    expect((await deliver(`random123@${VICTIM}`)).code).toBe(250);
    expect((await call(keyB, 'POST', '/v1/aliases', { address: `ceo@${VICTIM}`, inbox_ids: [bInbox] })).status).toBe(201);
    expect((await deliver(`ceo@${VICTIM}`)).code).toBe(250);
    expect((await storedMessages(core, bInbox)).length).toBe(3);
    expect((await storedMessages(core, aInbox)).length).toBe(0);
  });

  it("is not served the return-path host's report addresses (postmaster@, abuse@) either", async () => {
    for (const local of ['postmaster', 'abuse']) {
      const d = await routeRecipient(core, `${local}@send.${VICTIM}`);
      expect(d).toMatchObject({ accept: true, target: { kind: 'report_address', workspaceIds: [workspaceB] } });
    }
  });

  it('both tokens published: the current owner keeps the name', async () => {
    const claim = (await resendA.domains.get(aClaimId)).data!;
    publish(VICTIM, claim.records as Rec[], (r) => r.record === 'Ownership');
    const d = await verify(resendA, aClaimId);
    expect(d.ownership_verified_at).toBeNull();
    expect((await resendB.domains.get(bDomainId)).data as any).toMatchObject({ ownership_verified_at: expect.any(String) });
    expect((await call(keyA, 'POST', '/v1/inboxes', { email_address: `mallory@${VICTIM}` })).status).toBe(422);
  });
});

describe('a subdomain', () => {
  it('is a name of its own: owning the parent grants nothing, its own token is needed', async () => {
    const sub = `mail.${VICTIM}`;
    const created = await resendB.domains.create({ name: sub, capabilities: { receiving: 'enabled' } } as any);
    publish(sub, created.data!.records as Rec[], (r) => r.record !== 'Ownership');
    const d = await verify(resendB, created.data!.id);
    expect(d.ownership_verified_at).toBeNull();
    expect((await call(keyB, 'POST', '/v1/inboxes', { email_address: `x@${sub}` })).status).toBe(422);
    const r = await deliver(`x@${sub}`);
    expect(r.code).toBe(550);
    expect(r.response).toContain('5.7.1');
    publish(sub, created.data!.records as Rec[], (r) => r.record === 'Ownership');
    expect((await verify(resendB, created.data!.id)).ownership_verified_at).toBeTruthy();
    expect((await call(keyB, 'POST', '/v1/inboxes', { email_address: `x@${sub}` })).status).toBe(201);
  });
});

describe('when control truly moves (A\'s token published, B\'s gone)', () => {
  it('A becomes the owner; B\'s catch-all and aliases go, B\'s inbox keeps its mail but gets no more', async () => {
    const bToken = ((await resendB.domains.get(bDomainId)).data!.records as Rec[]).find((r) => r.record === 'Ownership')!.value;
    const aToken = ((await resendA.domains.get(aClaimId)).data!.records as Rec[]).find((r) => r.record === 'Ownership')!.value;
    dns.clear(`_mailstack-challenge.${VICTIM}`);
    dns.txt(`_mailstack-challenge.${VICTIM}`, aToken);
    expect(bToken).not.toBe(aToken);
    const d = await verify(resendA, aClaimId);
    expect(d.ownership_verified_at).toBeTruthy();

    const bView = (await resendB.domains.get(bDomainId)).data as any;
    expect(bView.ownership_verified_at).toBeNull();
    expect((bView.records as Rec[]).find((r) => r.record === 'Ownership')!.status).toBe('failed');
    expect((await call(keyB, 'GET', `/v1/domains/${bDomainId}/catch-all`)).json.inbox_id).toBeNull();
    expect((await call(keyB, 'GET', '/v1/aliases')).json.data).toEqual([]);
    const bActions = (await core.db.selectFrom('audit_log').select('action').where('target_id', '=', bDomainId).execute()).map((r) => r.action);
    expect(bActions).toContain('domain.ownership_lost');

    // B's inbox and its mail stay readable; its address stays taken (A gets 409 for it).
    expect((await call(keyB, 'GET', `/v1/inboxes/${bInbox}`)).status).toBe(200);
    expect((await storedMessages(core, bInbox)).length).toBe(3);
    expect((await call(keyA, 'POST', '/v1/inboxes', { email_address: `boss@${VICTIM}` })).status).toBe(409);
    const toBoss = await deliver(`boss@${VICTIM}`);
    expect(toBoss.code).toBe(550);
    expect((await storedMessages(core, bInbox)).length).toBe(3);
    const bSend = await resendB.emails.send({ from: `boss@${VICTIM}`, to: 'someone@outside.example.org', subject: 'x', text: 'x' });
    expect(bSend.error?.statusCode).toBe(403);

    // The new owner now receives at new addresses.
    const mine = await call(keyA, 'POST', '/v1/inboxes', { email_address: `new@${VICTIM}` });
    expect(mine.status).toBe(201);
    expect((await deliver(`new@${VICTIM}`)).code).toBe(250);
    expect((await storedMessages(core, mine.json.id)).length).toBe(1);
  });
});
