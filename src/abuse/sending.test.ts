// Outbound abuse controls over real sockets: a workspace whose mail hard-bounces at a loopback
// remote MX crosses MAILSTACK_PAUSE_BOUNCE_RATE and is paused (signed workspace.sending_paused
// webhook, audit record, mail to the owner); the API answers 403 sending_paused and the relay
// 550 5.7.1; mail accepted before the pause is held and sent after `mailstack workspace
// resume-sending`; another workspace sends all along. Quotas: `mailstack workspace limits
// --daily` gives 429 daily_quota_exceeded on the API and 452 4.5.3 on the relay; the warm-up
// limit of a new workspace.
import nodemailer from 'nodemailer';
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { type TestMx, startMx, verifiedDomain } from '../testkit/remote-mx.ts';
import { type TestServer, freePort, runCliAsync, startTestServer } from '../testkit/server.ts';
import { setLimits } from './sending.ts';
import { systemActor } from '../core/core.ts';
import { type Receiver, startReceiver, waitFor } from '../testkit/webhook-receiver.ts';

let dns: TestDns;
let mx: TestMx;
let server: TestServer;
let core: Core;
let receiver: Receiver;
let submissionPort: number;

interface Ws {
  workspaceId: string;
  apiKey: string;
  resend: Resend;
  from: string;
}

async function workspace(name: string, warmup: 'on' | 'off' = 'off'): Promise<Ws> {
  const s = await server.setup(`owner-${name}@remote.test`, `WS ${name}`);
  const domain = `${name}.send.test`;
  await verifiedDomain(core, dns, s.workspaceId, domain);
  await setLimits(core, systemActor, s.workspaceId, { warmup: warmup === 'on' });
  return { ...s, resend: server.resend(s.apiKey), from: `app@${domain}` };
}

beforeAll(async () => {
  dns = await startTestDns();
  receiver = await startReceiver();
  const mxPort = await freePort();
  mx = await startMx('127.0.0.33', mxPort, { rcpt: (a) => (a.startsWith('bad') ? { code: 550, message: '5.1.1 No such user' } : null) });
  dns.mx('remote.test', 'mx.remote.test');
  dns.a('mx.remote.test', '127.0.0.33');
  submissionPort = await freePort();
  server = await startTestServer({
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_MX_PORT: String(mxPort),
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
      MAILSTACK_SUBMISSION_PORT: String(submissionPort),
      MAILSTACK_WEBHOOK_ALLOW_PRIVATE: 'true',
      MAILSTACK_PAUSE_MIN_SENDS: '10',
      MAILSTACK_PAUSE_BOUNCE_RATE: '0.2',
      MAILSTACK_WARMUP_START: '5',
    },
  });
  core = server.platform.core;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await dns?.close();
  await receiver?.close();
});

async function relay(ws: Ws, to: string) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: submissionPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'resend', pass: ws.apiKey } });
  try {
    const info = await t.sendMail({ from: ws.from, to, subject: 'Relay', text: 'via SMTP' });
    return { code: Number(info.response.slice(0, 3)), response: info.response };
  } catch (err: any) {
    return { code: err.responseCode ?? 0, response: String(err.response ?? err.message) };
  } finally {
    t.close();
  }
}

const lastEvent = async (id: string) => (await core.db.selectFrom('emails').select('last_event').where('id', '=', id).executeTakeFirstOrThrow()).last_event;

describe('automatic pause', () => {
  it('pauses a workspace whose hard-bounce rate passes the threshold, holds its mail, and sends it after resume; others are unaffected', async () => {
    const a = await workspace('pausing');
    const b = await workspace('bystander');
    const hook = await a.resend.webhooks.create({ endpoint: `${receiver.url}/a`, events: ['workspace.sending_paused' as any] });
    expect(hook.error).toBeNull();
    // Accepted before the pause, delivered after it: scheduled a few seconds ahead.
    const later = await a.resend.emails.send({ from: a.from, to: 'later@remote.test', subject: 'Scheduled', text: 'x', scheduledAt: new Date(Date.now() + 4000).toISOString() });
    expect(later.error).toBeNull();
    for (let i = 0; i < 10; i++) {
      const r = await a.resend.emails.send({ from: a.from, to: i < 4 ? `bad${i}@remote.test` : `good${i}@remote.test`, subject: `n${i}`, text: 'hello' });
      expect(r.error).toBeNull();
    }
    const row = await waitFor('paused', async () => (await core.db.selectFrom('workspace_abuse').selectAll().where('workspace_id', '=', a.workspaceId).executeTakeFirst())?.paused_at ? true : undefined, 60_000);
    expect(row).toBe(true);

    // The webhook, signed.
    const event = await waitFor('workspace.sending_paused webhook', () => receiver.received.find((r) => r.path === '/a'), 20_000);
    const verified = a.resend.webhooks.verify({ payload: event.body, headers: { id: event.headers['webhook-id'] as string, timestamp: event.headers['webhook-timestamp'] as string, signature: event.headers['webhook-signature'] as string }, webhookSecret: hook.data!.signing_secret }) as any;
    expect(verified.type).toBe('workspace.sending_paused');
    expect(verified.data.workspace_id).toBe(a.workspaceId);
    // All ten count as sent when accepted, so the pause comes at the third bounce (30%) or, when the
    // fourth was already on its way, at the fourth (40%); what had not started is held below.
    expect(verified.data.reason).toMatch(/hard-bounce rate of the last 10 messages is [34]0\.00%, above the 20\.00% threshold/);
    // The audit log, and the owner's mail at the remote MX.
    const auditRow = await core.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', a.workspaceId).where('action', '=', 'workspace.sending_paused').executeTakeFirst();
    expect(auditRow).toBeTruthy();
    const ownerMail = await waitFor('owner mail', () => mx.messages.find((m) => m.to.includes('owner-pausing@remote.test') && m.raw.toString().includes('Sending paused')), 20_000);
    expect(ownerMail.raw.toString()).toContain(`mailstack workspace resume-sending ${a.workspaceId}`);

    // New sends are refused on the API and the relay.
    const refused = await a.resend.emails.send({ from: a.from, to: 'good@remote.test', subject: 'no', text: 'no' });
    expect(refused.error).toMatchObject({ statusCode: 403, name: 'sending_paused' });
    expect(refused.error!.message).toMatch(/hard-bounce rate/);
    const r = await relay(a, 'good@remote.test');
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/^550 5\.7\.1 Sending is paused/);

    // The scheduled message is held, not dropped.
    await waitFor('held', async () => ((await lastEvent(later.data!.id)) === 'held' ? true : undefined), 20_000);
    expect((await a.resend.emails.get(later.data!.id)).data!.last_event).toBe('held');
    expect(mx.messages.some((m) => m.to.includes('later@remote.test'))).toBe(false);

    // Another workspace sends all along.
    const other = await b.resend.emails.send({ from: b.from, to: 'friend@remote.test', subject: 'fine', text: 'fine' });
    expect(other.error).toBeNull();
    await waitFor('bystander delivered', async () => ((await lastEvent(other.data!.id)) === 'delivered' ? true : undefined), 20_000);

    // The operator resumes: the held mail goes out, new sends are taken. Besides the scheduled one, any
    // of the ten accepted before the pause whose delivery had not started yet is held too.
    const held = await core.db.selectFrom('held_recipients').innerJoin('email_recipients', 'email_recipients.id', 'held_recipients.recipient_id').select(['email_recipients.email_id', 'email_recipients.address as email']).where('held_recipients.workspace_id', '=', a.workspaceId).where('held_recipients.reason', '=', 'paused').execute();
    expect(held.map((h) => h.email_id)).toContain(later.data!.id);
    const resumed = await runCliAsync(['workspace', 'resume-sending', a.workspaceId], server.env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed: true, released: held.length });
    for (const h of held) {
      await waitFor(`held mail to ${h.email} out`, async () => (['delivered', 'bounced'].includes(String(await lastEvent(h.email_id))) ? true : undefined), 20_000);
      expect(mx.messages.some((m) => m.to.includes(h.email)) || h.email.startsWith('bad')).toBe(true);
    }
    expect(await lastEvent(later.data!.id)).toBe('delivered');
    expect((await a.resend.emails.send({ from: a.from, to: 'good@remote.test', subject: 'again', text: 'again' })).error).toBeNull();
    expect(await core.db.selectFrom('audit_log').select('id').where('workspace_id', '=', a.workspaceId).where('action', '=', 'workspace.sending_resumed').executeTakeFirst()).toBeTruthy();
  }, 180_000);
});

describe('quotas', () => {
  it('a per-workspace daily quota: 429 daily_quota_exceeded on the API, 452 4.5.3 on the relay', async () => {
    const c = await workspace('quota');
    const set = await runCliAsync(['workspace', 'limits', c.workspaceId, '--daily', '3'], server.env);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ daily_limit: 3, warmup_limit: null });
    for (let i = 0; i < 3; i++) expect((await c.resend.emails.send({ from: c.from, to: `q${i}@remote.test`, subject: 'q', text: 'q' })).error).toBeNull();
    const over = await c.resend.emails.send({ from: c.from, to: 'q4@remote.test', subject: 'q', text: 'q' });
    expect(over.error).toMatchObject({ statusCode: 429, name: 'daily_quota_exceeded' });
    expect(over.error!.message).toMatch(/daily sending quota of 3 recipients/);
    const r = await relay(c, 'q5@remote.test');
    expect(r.code).toBe(452);
    expect(r.response).toMatch(/^452 4\.5\.3 You have reached the daily sending quota/);
    // Bad input to the CLI is a clear error.
    const bad = await runCliAsync(['workspace', 'limits', c.workspaceId, '--daily', 'lots'], server.env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--daily must be a whole number/);
  }, 120_000);

  it('a new workspace starts at the warm-up limit (MAILSTACK_WARMUP_START), which the operator can turn off', async () => {
    const d = await workspace('warm', 'on');
    const batch = (n: number) => d.resend.batch.send(Array.from({ length: n }, (_, i) => ({ from: d.from, to: `w${i}-${n}@remote.test`, subject: 'w', text: 'w' })));
    const six = await batch(6);
    expect(six.error).toMatchObject({ statusCode: 429, name: 'daily_quota_exceeded' });
    expect(six.error!.message).toMatch(/warm-up limit of a new workspace of 5 recipients/);
    expect((await batch(5)).error).toBeNull();
    expect((await runCliAsync(['workspace', 'limits', d.workspaceId, '--warmup', 'off'], server.env)).code).toBe(0);
    expect((await batch(6)).error).toBeNull();
  }, 120_000);
});
