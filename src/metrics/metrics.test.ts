// /metrics scraped and parsed as Prometheus would, after a send, a receive, a bounce and a failed
// login: the counters moved by exactly what happened. /metrics is behind MAILSTACK_METRICS_TOKEN,
// or on a listener of its own with MAILSTACK_METRICS_ADDRESS.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resend } from 'resend';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';
import { type TestMx, freePort, startMx, until, verifiedDomain } from '../testkit/remote-mx.ts';
import { ROOT, type TestServer, api, startTestServer } from '../testkit/server.ts';
import { runClient, sendWithNodemailer } from '../testkit/smtp-senders.ts';

const TOKEN = 'metrics-token-0123456789abcdef';
let dns: TestDns;
let mx: TestMx;
let server: TestServer;
let resend: Resend;
let workspaceId: string;
let smtpPort: number;
let imapPort: number;

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The text exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/), parsed. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    expect(m, `a valid sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m![1], labels, value: Number(m![3]) });
  }
  return out;
}

async function scrape(): Promise<Sample[]> {
  const r = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toContain('text/plain');
  return parse(await r.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

beforeAll(async () => {
  dns = await startTestDns();
  const mxPort = await freePort();
  // The remote MX takes mail for friend@, and has never heard of gone@.
  mx = await startMx('127.0.0.23', mxPort, { rcpt: (address) => (address.startsWith('gone@') ? { code: 550, message: '5.1.1 No such user' } : null) });
  dns.mx('remote.test', 'mx.remote.test', 10);
  dns.a('mx.remote.test', '127.0.0.23');
  smtpPort = await freePort();
  imapPort = await freePort();
  server = await startTestServer({
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_MX_PORT: String(mxPort),
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
      MAILSTACK_METRICS_TOKEN: TOKEN,
      MAILSTACK_SMTP_PORT: String(smtpPort),
      MAILSTACK_IMAP_PORT: String(imapPort),
      MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true',
    },
  });
  const s = await server.setup('ops@example.com', 'Ops');
  workspaceId = s.workspaceId;
  resend = server.resend(s.apiKey);
  await verifiedDomain(server.platform.core, dns, workspaceId, 'sender.test');
  await createTestMailbox(server.platform.core, { workspaceId, address: 'inbox@sender.test' });
});

afterAll(async () => {
  await server?.stop();
  await mx?.close();
  await dns?.close();
});

describe('/metrics', () => {
  it('counts a send, a receive, a bounce and a failed login', async () => {
    const before = await scrape();
    const ws = { workspace: workspaceId };

    const delivered = (await resend.emails.send({ from: 'a@sender.test', to: 'friend@remote.test', subject: 'hi', text: 'hi' })).data!.id;
    const bounced = (await resend.emails.send({ from: 'a@sender.test', to: 'gone@remote.test', subject: 'hi', text: 'hi' })).data!.id;
    await until('both sends to settle', async () => {
      const a = (await resend.emails.get(delivered)).data?.last_event;
      const b = (await resend.emails.get(bounced)).data?.last_event;
      return a === 'delivered' && b === 'bounced';
    });

    const sent = await sendWithNodemailer(smtpPort, { from: 'someone@remote.test', to: ['inbox@sender.test'] }, 'From: someone@remote.test\r\nTo: inbox@sender.test\r\nSubject: in\r\n\r\nHello\r\n');
    expect(sent.code).toBe(250);

    // A real client's failed login: Python's imaplib.
    const login = await runClient('python3', ['-c', `import imaplib\nc=imaplib.IMAP4('127.0.0.1', ${imapPort})\ntry:\n  c.login('inbox@sender.test','wrong-password')\nexcept imaplib.IMAP4.error as e:\n  print('refused', e)\n`]);
    expect(login.stdout).toContain('refused');

    const after = await until('the counters to move', async () => {
      const s = await scrape();
      return value(s, 'mailstack_auth_failures_total', { door: 'imap' }) > value(before, 'mailstack_auth_failures_total', { door: 'imap' }) ? s : null;
    });
    const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(moved('mailstack_messages_accepted_total', { ...ws, source: 'api' })).toBe(2);
    expect(moved('mailstack_messages_delivered_total', ws)).toBe(1);
    expect(moved('mailstack_messages_bounced_total', { ...ws, type: 'Permanent' })).toBe(1);
    expect(moved('mailstack_messages_received_total', ws)).toBe(1);
    expect(moved('mailstack_auth_failures_total', { door: 'imap' })).toBe(1);
    expect(moved('mailstack_sessions_total', { door: 'smtp-mx' })).toBeGreaterThanOrEqual(1);
    expect(moved('mailstack_sessions_total', { door: 'imap' })).toBe(1);
    expect(value(after, 'mailstack_sessions_open', { door: 'smtp-mx' })).toBe(0);
    // The jobs that delivered them, their latency, and the store's queries were timed.
    expect(moved('mailstack_job_duration_seconds_count', { kind: 'outbound.deliver', outcome: 'done' })).toBe(2);
    expect(moved('mailstack_store_query_duration_seconds_count')).toBeGreaterThan(10);
    expect(moved('mailstack_blob_written_bytes_total')).toBeGreaterThan(0);
    expect(value(after, 'mailstack_blob_bytes')).toBeGreaterThanOrEqual(0);
    expect(value(after, 'mailstack_queue_depth')).toBe(0);
    expect(value(after, 'mailstack_queue_oldest_seconds')).toBe(0);
    expect(after.some((s) => s.name === 'mailstack_jobs' && s.labels.status === 'dead')).toBe(true);
  });

  it('the Grafana dashboard in docs/ uses only metrics the node exposes', async () => {
    const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'docs/grafana-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    expect(exprs.length).toBeGreaterThan(15);
    // Every family the node declares (a labelled counter has no sample before its first event).
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const names = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const used = new Set(exprs.flatMap((e) => e.match(/mailstack_[a-z_]+/g) ?? []));
    for (const n of used) expect(names.has(n) || names.has(n.replace(/_(bucket|count|sum)$/, '')), n).toBe(true);
    for (const wanted of ['mailstack_messages_delivered_total', 'mailstack_queue_oldest_seconds', 'mailstack_auth_failures_total', 'mailstack_jobs_dead_total', 'mailstack_blob_bytes']) {
      expect(used.has(wanted), wanted).toBe(true);
    }
  });

  it('answers 401 without the token or with a wrong one', async () => {
    const none = await api(server.url, 'GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ statusCode: 401, name: 'missing_api_key' });
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await api(server.url, 'GET', '/metrics', { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);
  });

  it('serves /metrics on its own listener with MAILSTACK_METRICS_ADDRESS, and not on the API port', async () => {
    const port = await freePort();
    const alone = await startTestServer({ env: { MAILSTACK_METRICS_ADDRESS: `127.0.0.1:${port}` } });
    try {
      expect(alone.platform.metricsPort).toBe(port);
      expect((await api(alone.url, 'GET', '/metrics')).status).toBe(404);
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(r.status).toBe(200);
      expect(parse(await r.text()).some((s) => s.name === 'mailstack_queue_depth')).toBe(true);
    } finally {
      await alone.stop();
    }
  });
});
