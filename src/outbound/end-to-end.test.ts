// The sending product end to end, as a Resend user meets it: the SDK adds and verifies a domain
// against a DNS server on loopback, sends through the API and the SMTP relay, our MTA delivers to a
// "remote" MX on loopback with a DKIM signature that verifies, and a webhook endpoint receives the
// domain and email events signed so that resend.webhooks.verify accepts them.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer from 'nodemailer';
import PostalMime from 'postal-mime';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';
import { type TestMx, freePort, startMx } from '../testkit/remote-mx.ts';

let server: TestServer;
let dns: TestDns;
let mx: TestMx;
let receiver: Receiver;
let resend: Resend;
let apiKey: string;
let submissionPort: number;
let secret: string;

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  submissionPort = await freePort();
  mx = await startMx('127.0.0.4', mxPort);
  dns.mx('remote.test', 'mx.remote.test', 10);
  dns.a('mx.remote.test', '127.0.0.4');
  receiver = await startReceiver();
  server = await startTestServer({
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_MX_PORT: String(mxPort),
      MAILSTACK_SUBMISSION_PORT: String(submissionPort),
      MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true',
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
    },
  });
  ({ apiKey } = await server.setup('owner@e2e.test', 'E2E'));
  resend = server.resend(apiKey);
  const hook = await resend.webhooks.create({
    endpoint: `${receiver.url}/hooks`,
    events: ['domain.created', 'domain.updated', 'email.sent', 'email.delivered'],
  });
  expect(hook.error).toBeNull();
  secret = hook.data!.signing_secret;
});

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await receiver?.close();
  await dns?.close();
});

/** The webhook payloads received so far, each checked with the SDK's verifier. */
function verifiedEvents(): { type: string; data: any }[] {
  return receiver.received.map((r) =>
    resend.webhooks.verify({
      payload: r.body,
      headers: { id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string },
      webhookSecret: secret,
    }) as any,
  );
}

async function dkimResult(raw: Buffer) {
  const r = dns.resolver();
  const result = await dkimVerify(raw, { resolver: (name: string, type: string) => r.resolve(name, type as any) as any });
  return result.results[0]?.status?.result;
}

describe('sending end to end', () => {
  it('verifies a domain through DNS and announces it by webhook', async () => {
    const { data, error } = await resend.domains.create({ name: 'e2e.test' });
    expect(error).toBeNull();
    for (const r of data!.records as any[]) {
      const fqdn = r.name === '@' ? 'e2e.test' : `${r.name}.e2e.test`;
      if (r.type === 'TXT') dns.txt(fqdn, r.value);
      else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
    }
    expect((await resend.domains.verify(data!.id)).error).toBeNull();
    await waitFor('domain verified', async () => (await resend.domains.get(data!.id)).data?.status === 'verified', 20_000);
    const events = await waitFor('domain events', () => {
      const e = verifiedEvents().filter((x) => x.type.startsWith('domain.'));
      return e.some((x) => x.type === 'domain.updated' && x.data.status === 'verified') ? e : null;
    }, 20_000);
    // Deliveries run concurrently, so webhooks promise no order: look for each event.
    expect(events).toContainEqual(expect.objectContaining({ type: 'domain.created', data: expect.objectContaining({ id: data!.id, name: 'e2e.test' }) }));
  });

  it('delivers an API send to the remote MX, DKIM-signed, with sent and delivered webhooks', async () => {
    const { data, error } = await resend.emails.send({
      from: 'E2E <hello@e2e.test>',
      to: 'someone@remote.test',
      subject: 'End to end',
      html: '<p>It works</p>',
      tags: [{ name: 'kind', value: 'e2e' }],
    });
    expect(error).toBeNull();
    const msg = await waitFor('delivery at the remote MX', () => mx.messages.find((m) => m.raw.toString().includes('Subject: End to end')), 20_000);
    expect(msg.to).toEqual(['someone@remote.test']);
    expect(msg.from).toMatch(/^bounce\+[0-9a-f]+@send\.e2e\.test$/);
    expect(await dkimResult(msg.raw)).toBe('pass');
    await waitFor('delivered', async () => (await resend.emails.get(data!.id)).data?.last_event === 'delivered', 20_000);
    const events = await waitFor('email events', () => {
      const e = verifiedEvents().filter((x) => x.data?.email_id === data!.id);
      return e.some((x) => x.type === 'email.delivered') ? e : null;
    }, 20_000);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['email.sent', 'email.delivered']));
    expect(events.find((e) => e.type === 'email.delivered')!.data).toMatchObject({ to: ['someone@remote.test'], subject: 'End to end', tags: { kind: 'e2e' } });
  });

  it('delivers a message given to the SMTP relay the same way', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submissionPort,
      secure: false,
      requireTLS: true,
      auth: { user: 'resend', pass: apiKey },
      tls: { rejectUnauthorized: false },
    });
    const info = await transport.sendMail({ from: 'hello@e2e.test', to: 'other@remote.test', subject: 'Through the relay', text: 'Hi' });
    transport.close();
    expect(info.response).toMatch(/^250 /);
    const msg = await waitFor('relay delivery at the remote MX', () => mx.messages.find((m) => m.raw.toString().includes('Subject: Through the relay')), 20_000);
    expect(msg.to).toEqual(['other@remote.test']);
    expect(await dkimResult(msg.raw)).toBe('pass');
  });

  it('mails an invitation with its sign-in link through our own MTA when no smarthost is set', async () => {
    const r = await fetch(`${server.url}/v1/members`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'newcomer@remote.test', role: 'viewer' }),
    });
    expect(r.status).toBe(201);
    const msg = await waitFor('the invitation at the remote MX', () => mx.messages.find((m) => m.to.includes('newcomer@remote.test')), 20_000);
    expect(msg.from).toBe('no-reply@mx.mailstack.test');
    const { text } = await PostalMime.parse(msg.raw);
    // The invitation link (issue 9: membership needs acceptance); for a new address it makes the account and signs it in.
    const link = /\/invitations\/accept\?token=([A-Za-z0-9_%-]+)/.exec(text ?? '')?.[1];
    expect(link).toBeTruthy();
    const signIn = await fetch(`${server.url}/invitations/accept?token=${link}`, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get('set-cookie')).toMatch(/^mailstack_session=/);
  });
});
