// Direct-to-MX delivery against real parts: a DNS server (dns2) on loopback answering MX and A,
// SMTP servers (smtp-server) on 127.0.0.x playing the remote MX hosts on MAILSTACK_MX_PORT, and a
// real node whose worker runs the `outbound.deliver` jobs.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendingDomain } from '../../domains/domains.ts';
import { type TestDns, startTestDns } from '../../testkit/dns-server.ts';
import { type TestServer, startTestServer } from '../../testkit/server.ts';
import { loadTlsMaterial } from '../../tls/certificate.ts';
import { systemActor } from '../../core/core.ts';
import { domainForSending, updateDomain } from '../../domains/domains.ts';
import { blobStore } from '../accept.ts';
import { findSuppression } from '../suppressions.ts';
import { DELIVER_JOB } from './deliver.ts';
import { type TestMx, eventTypes, freePort, recipientsOf, send, startMx, until, untilStatus, verifiedDomain } from '../../testkit/remote-mx.ts';

let dns: TestDns;
let server: TestServer;
let workspaceId: string;
let domain: SendingDomain;
let mx1: TestMx; // example.net, preference 10, offers STARTTLS
let mx2: TestMx; // example.net, preference 20; fallback.example.net's only working MX
let plain: TestMx; // plain.example.org: no STARTTLS
const core = () => server.platform.core;

beforeAll(async () => {
  dns = await startTestDns();
  const port = await freePort();
  server = await startTestServer({
    env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(port), MAILSTACK_RETRY_DELAYS: '100ms,100ms' },
  });
  const tls = loadTlsMaterial(core().settings);

  // 4xx for tempfail@ on its first try; 5xx for nobody@; 4xx for ever for always-busy@.
  const rcpt = (address: string, n: number) => {
    if (address.startsWith('tempfail@') && n === 1) return { code: 451, message: '4.7.1 Greylisted, try again later' };
    if (address.startsWith('nobody@')) return { code: 550, message: '5.1.1 <nobody@example.net>: Recipient address rejected: User unknown' };
    if (address.startsWith('always-busy@')) return { code: 452, message: '4.2.2 Mailbox busy' };
    return null;
  };
  mx1 = await startMx('127.0.0.2', port, { tls, rcpt });
  mx2 = await startMx('127.0.0.3', port, { rcpt });
  plain = await startMx('127.0.0.5', port);

  dns.mx('example.net', 'mx1.example.net', 10);
  dns.mx('example.net', 'mx2.example.net', 20);
  dns.a('mx1.example.net', '127.0.0.2');
  dns.a('mx2.example.net', '127.0.0.3');
  // The preferred MX of fallback.example.net refuses connections (nothing listens on 127.0.0.4).
  dns.mx('fallback.example.net', 'down.fallback.example.net', 5);
  dns.mx('fallback.example.net', 'mx2.example.net', 50);
  dns.a('down.fallback.example.net', '127.0.0.4');
  // No MX at all: the domain's own A record is the implicit MX (RFC 5321 §5.1).
  dns.a('plain.example.org', '127.0.0.5');
  // A null MX (RFC 7505).
  dns.mx('nomail.example.net', '.', 0);

  const ws = await server.setup('owner@example.com', 'Acme');
  workspaceId = ws.workspaceId;
  domain = await verifiedDomain(core(), dns, workspaceId, 'sender.example.com');
});

afterAll(async () => {
  await server?.stop();
  await Promise.all([mx1?.close(), mx2?.close(), plain?.close()]);
  await dns?.close();
});

const messagesTo = (mx: TestMx, address: string) => mx.messages.filter((m) => m.to.includes(address));

describe('delivery to the recipient\'s MX', () => {
  it('delivers to the preferred MX with the VERP envelope sender, over STARTTLS, with a DKIM signature that verifies', async () => {
    const id = await send(core(), workspaceId, domain, ['alice@example.net']);
    const [r] = await untilStatus(core(), id, 'delivered');
    expect(r.mx_host).toBe('mx1.example.net');
    expect(r.attempts).toBe(1);
    expect(r.last_response).toMatch(/^250 /);

    const [m] = messagesTo(mx1, 'alice@example.net');
    expect(messagesTo(mx2, 'alice@example.net')).toHaveLength(0);
    // MAIL FROM is this recipient's VERP address on the domain's return-path host.
    expect(m.from).toBe(`bounce+${r.verp_token}@send.sender.example.com`);
    // STARTTLS was offered and used (RFC 3207); EHLO named our host.
    expect(m.secure).toBe(true);
    expect(m.clientHostname).toBe('mailstack.test');

    // The bytes that arrived carry a DKIM signature that verifies against the published key.
    const resolver = dns.resolver();
    const verified = await dkimVerify(m.raw, { resolver: (name: string, type: string) => resolver.resolve(name, type as any) as any });
    expect(verified.results[0].status.result).toBe('pass');
    expect(verified.results[0].signingDomain).toBe('sender.example.com');
    // Dot-stuffing round trip: the line that starts with a dot arrived intact.
    expect(m.raw.toString()).toContain('\r\n.leading dot line');

    expect(await eventTypes(core(), id)).toEqual(['email.sent', 'email.delivered']);
    const email = await core().db.selectFrom('emails').select('last_event').where('id', '=', id).executeTakeFirstOrThrow();
    expect(email.last_event).toBe('delivered');
  });

  it('falls back to the next MX when the preferred one refuses connections', async () => {
    const id = await send(core(), workspaceId, domain, ['bob@fallback.example.net']);
    const [r] = await untilStatus(core(), id, 'delivered');
    expect(r.mx_host).toBe('mx2.example.net');
    expect(messagesTo(mx2, 'bob@fallback.example.net')).toHaveLength(1);
  });

  it('uses the domain\'s A record when it has no MX, and sends in cleartext when STARTTLS is not offered', async () => {
    const id = await send(core(), workspaceId, domain, ['carol@plain.example.org']);
    const [r] = await untilStatus(core(), id, 'delivered');
    expect(r.mx_host).toBe('plain.example.org');
    const [m] = messagesTo(plain, 'carol@plain.example.org');
    expect(m.secure).toBe(false);
  });

  it('delivers each recipient of one message separately, each with its own VERP address', async () => {
    const id = await send(core(), workspaceId, domain, ['dave@example.net', 'erin@plain.example.org']);
    const rows = await untilStatus(core(), id, 'delivered');
    const dave = rows.find((r) => r.address === 'dave@example.net')!;
    const erin = rows.find((r) => r.address === 'erin@plain.example.org')!;
    expect(messagesTo(mx1, 'dave@example.net')[0].from).toBe(`bounce+${dave.verp_token}@send.sender.example.com`);
    expect(messagesTo(plain, 'erin@plain.example.org')[0].from).toBe(`bounce+${erin.verp_token}@send.sender.example.com`);
    expect(dave.verp_token).not.toBe(erin.verp_token);
  });
});

describe('temporary failures and retries', () => {
  it('451 then success: delivery_delayed, then delivered on the retry', async () => {
    const id = await send(core(), workspaceId, domain, ['tempfail@example.net']);
    const [r] = await untilStatus(core(), id, 'delivered');
    expect(r.attempts).toBe(2);
    expect(mx1.rcptAttempts.get('tempfail@example.net')).toBe(2);
    expect(messagesTo(mx1, 'tempfail@example.net')).toHaveLength(1);
    expect(await eventTypes(core(), id)).toEqual(['email.sent', 'email.delivery_delayed', 'email.delivered']);
    const delayed = await core().db.selectFrom('event_records').select('payload').where('type', '=', 'email.delivery_delayed').execute();
    expect(delayed.map((d) => JSON.parse(d.payload).data.email_id)).toContain(id);
  });

  it('bounces (Transient) once the retry ladder is used up, without suppressing the address', async () => {
    const id = await send(core(), workspaceId, domain, ['always-busy@example.net']);
    const [r] = await untilStatus(core(), id, 'bounced');
    // MAILSTACK_RETRY_DELAYS=100ms,100ms: the first try and two retries.
    expect(r.attempts).toBe(3);
    expect(mx1.rcptAttempts.get('always-busy@example.net')).toBe(3);
    expect(await eventTypes(core(), id)).toEqual(['email.sent', 'email.delivery_delayed', 'email.delivery_delayed', 'email.bounced']);
    const bounced = await core().db.selectFrom('event_records').select('payload').where('type', '=', 'email.bounced').execute();
    const data = bounced.map((b) => JSON.parse(b.payload).data).find((d) => d.email_id === id);
    expect(data.bounce).toMatchObject({ type: 'Transient', subType: 'General' });
    expect(data.bounce.message).toContain('452 4.2.2 Mailbox busy');
    expect(await findSuppression(core().db, workspaceId, 'always-busy@example.net')).toBeUndefined();
  });
});

describe('permanent failures', () => {
  it('550: bounced with the reply, the address suppressed, and a second send is suppressed without contacting the MX', async () => {
    const id = await send(core(), workspaceId, domain, ['nobody@example.net']);
    const [r] = await untilStatus(core(), id, 'bounced');
    expect(r.attempts).toBe(1);
    expect(r.last_response).toContain('550 5.1.1');
    const events = await core().db.selectFrom('event_records').select('payload').where('type', '=', 'email.bounced').execute();
    const data = events.map((e) => JSON.parse(e.payload).data).find((d) => d.email_id === id);
    expect(data.bounce).toMatchObject({ type: 'Permanent', subType: 'NoEmail' });
    expect(data.bounce.message).toContain('User unknown');

    const suppression = await findSuppression(core().db, workspaceId, 'nobody@example.net');
    expect(suppression).toMatchObject({ origin: 'bounce', source_id: id });
    expect(suppression!.reason).toContain('550 5.1.1');
    // Announced like every other suppression: a webhook event and an audit record.
    const added = await core().db.selectFrom('event_records').select('payload').where('type', '=', 'suppression.added').execute();
    expect(added.map((e) => JSON.parse(e.payload).data.email)).toContain('nobody@example.net');

    const offered = mx1.rcptAttempts.get('nobody@example.net');
    const connections = mx1.connections + mx2.connections;
    const again = await send(core(), workspaceId, domain, ['nobody@example.net']);
    const [s] = await recipientsOf(core(), again);
    expect(s.status).toBe('suppressed');
    expect(await eventTypes(core(), again)).toEqual(['email.suppressed']);
    // No delivery job exists for it, so nothing will ever contact an MX for it.
    const jobs = await core().db.selectFrom('jobs').select('payload').where('kind', '=', DELIVER_JOB).execute();
    expect(jobs.some((j) => JSON.parse(j.payload).recipientId === s.id)).toBe(false);
    expect(mx1.rcptAttempts.get('nobody@example.net')).toBe(offered);
    expect(mx1.connections + mx2.connections).toBe(connections);
  });

  it('a null MX (RFC 7505) bounces at once with 5.1.10, without any connection', async () => {
    const connections = mx1.connections + mx2.connections + plain.connections;
    const id = await send(core(), workspaceId, domain, ['anyone@nomail.example.net']);
    const [r] = await untilStatus(core(), id, 'bounced');
    expect(r.last_response).toContain('5.1.10');
    expect(mx1.connections + mx2.connections + plain.connections).toBe(connections);
    expect(await eventTypes(core(), id)).toEqual(['email.sent', 'email.bounced']);
  });

  it('a domain that does not exist bounces with 5.1.2', async () => {
    const id = await send(core(), workspaceId, domain, ['someone@no-such-domain.example.net']);
    const [r] = await untilStatus(core(), id, 'bounced');
    expect(r.last_response).toContain('5.1.2');
  });
});

describe('at-least-once jobs', () => {
  it('a delivery job run again for a delivered recipient does nothing', async () => {
    const id = await send(core(), workspaceId, domain, ['frank@example.net']);
    const [r] = await untilStatus(core(), id, 'delivered');
    const before = messagesTo(mx1, 'frank@example.net').length + messagesTo(mx2, 'frank@example.net').length;
    const job = await core().jobs.enqueue(DELIVER_JOB, { recipientId: r.id });
    await untilStatus(core(), id, 'delivered');
    const done = await (async () => {
      for (let i = 0; i < 400; i++) {
        const j = await core().jobs.get(job);
        if (j?.status === 'done') return j;
        await new Promise((res) => setTimeout(res, 25));
      }
      return null;
    })();
    expect(done?.status).toBe('done');
    expect(messagesTo(mx1, 'frank@example.net').length + messagesTo(mx2, 'frank@example.net').length).toBe(before);
    expect(await eventTypes(core(), id)).toEqual(['email.sent', 'email.delivered']);
  });
});

describe('TLS enforced by the sending domain', () => {
  it('never sends in cleartext or to an unverified certificate: deferred, then bounced', async () => {
    const strict = await verifiedDomain(core(), dns, workspaceId, 'strict.example.com');
    await updateDomain(core(), systemActor, workspaceId, strict.id, { tls: 'enforced' });
    const enforced = await domainForSending(core(), workspaceId, 'strict.example.com');
    expect(enforced.tls).toBe('enforced');
    // mx1 offers STARTTLS with a self-signed certificate; mx2 offers no STARTTLS at all.
    const id = await send(core(), workspaceId, enforced, ['grace@example.net']);
    const [r] = await untilStatus(core(), id, 'bounced');
    expect(r.attempts).toBe(3);
    expect(messagesTo(mx1, 'grace@example.net')).toHaveLength(0);
    expect(messagesTo(mx2, 'grace@example.net')).toHaveLength(0);
    expect(mx1.rcptAttempts.get('grace@example.net')).toBeUndefined();
    expect(r.last_response).toMatch(/TLS|SSL|certificate/i);
    const bounced = await core().db.selectFrom('event_records').select('payload').where('type', '=', 'email.bounced').execute();
    expect(bounced.map((b) => JSON.parse(b.payload).data).find((d) => d.email_id === id).bounce.type).toBe('Transient');
  });
});

describe('messages that cannot be sent at all', () => {
  it('a message whose stored body is gone is marked failed with a reason, not retried', async () => {
    const id = await send(core(), workspaceId, domain, ['heidi@example.net'], 'vanishing body', 'unique body', Date.now() + 1500);
    const email = await core().db.selectFrom('emails').select('raw_blob').where('id', '=', id).executeTakeFirstOrThrow();
    await blobStore(core()).delete(email.raw_blob!);
    const [r] = await untilStatus(core(), id, 'failed');
    expect(r.last_response).toContain('missing from the blob store');
    expect(messagesTo(mx1, 'heidi@example.net')).toHaveLength(0);
    const failed = await until('the email.failed event', async () => {
      const rows = await core().db.selectFrom('event_records').select('payload').where('type', '=', 'email.failed').execute();
      return rows.map((f) => JSON.parse(f.payload).data).find((d) => d.email_id === id);
    });
    expect(failed.failed.reason).toContain('missing from the blob store');
    expect(await eventTypes(core(), id)).toEqual(['email.scheduled', 'email.sent', 'email.failed']);
  });
});
