// Resend's emails.metrics over real sends (development mode: delivery is immediate and Resend's
// test addresses bounce and complain on demand): totals, by period, by domain, by email, by tag.
import type { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../testkit/remote-mx.ts';
import { type TestServer, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let resend: Resend;
let other: Resend;
const ids: Record<string, string> = {};
let domainA: string;
let domainB: string;

function ok<T>(r: { data: T | null; error: unknown }): T {
  expect(r.error).toBeNull();
  return r.data!;
}

beforeAll(async () => {
  server = await startTestServer({ env: { MAILSTACK_MODE: 'development' } });
  resend = server.resend((await server.setup('m@example.com', 'Metrics')).apiKey);
  other = server.resend((await server.setup('o@example.com', 'Other')).apiKey);
  domainA = ok(await resend.domains.create({ name: 'a.test' })).id;
  domainB = ok(await resend.domains.create({ name: 'b.test' })).id;
  await resend.domains.verify(domainA);
  await resend.domains.verify(domainB);
  const sends = [
    ['d1', 'x@a.test', 'delivered@resend.dev', 'welcome'],
    ['d2', 'x@a.test', 'delivered@resend.dev', 'receipt'],
    ['b1', 'x@a.test', 'bounced@resend.dev', 'welcome'],
    ['c1', 'x@b.test', 'complained@resend.dev', 'welcome'],
  ];
  for (const [key, from, to, tag] of sends) ids[key] = ok(await resend.emails.send({ from, to, subject: key, text: key, tags: [{ name: 'kind', value: tag }] })).id;
  await until('every send to settle', async () => {
    const states = await Promise.all(Object.values(ids).map(async (id) => ok(await resend.emails.get(id)).last_event));
    return states.every((s) => s === 'delivered' || s === 'bounced' || s === 'complained');
  });
});

afterAll(async () => {
  await server?.stop();
});

describe('emails.metrics', () => {
  it('totals what happened in the period, with rates', async () => {
    const m = ok(await resend.emails.metrics());
    expect(m.totals).toMatchObject({ sent: 4, delivered: 3, bounced: 1, bounced_permanent: 1, complained: 1, opened: 0, clicked: 0 });
    expect(m.totals.delivery_rate).toBe(0.75);
    expect(m.totals.bounce_rate).toBe(0.25);
    expect(m.data).toBeUndefined();
  });

  it('breaks down by domain and by period, and asks only for the metrics named', async () => {
    const m = ok(await resend.emails.metrics({ dimensions: ['domain', 'period'], metrics: ['sent', 'bounced'] }));
    expect(m.metrics).toEqual(['sent', 'bounced']);
    const today = new Date().toISOString().slice(0, 10);
    const a = m.data!.find((r) => r.domain_id === domainA)!;
    const b = m.data!.find((r) => r.domain_id === domainB)!;
    expect(a).toEqual({ domain_id: domainA, domain_name: 'a.test', period: today, sent: 3, bounced: 1 });
    expect(b).toEqual({ domain_id: domainB, domain_name: 'b.test', period: today, sent: 1, bounced: 0 });
  });

  it('filters by domain, by email and by tag', async () => {
    expect(ok(await resend.emails.metrics({ domainId: [domainB] })).totals).toMatchObject({ sent: 1, complained: 1 });
    expect(ok(await resend.emails.metrics({ emailId: [ids.b1] })).totals).toMatchObject({ sent: 1, bounced: 1, delivered: 0 });
    const byEmail = ok(await resend.emails.metrics({ dimensions: ['email'], metrics: ['delivered'] }));
    expect(byEmail.data!.find((r) => r.email_id === ids.d2)).toEqual({ email_id: ids.d2, delivered: 1 });
    const tagged = await fetch(`${server.url}/v1/emails/metrics?tag=kind:welcome`, { headers: { authorization: `Bearer ${(resend as any).key}` } });
    expect(((await tagged.json()) as any).totals).toMatchObject({ sent: 3, delivered: 2, bounced: 1 });
  });

  it('counts nothing outside the period or of another workspace', async () => {
    expect(ok(await resend.emails.metrics({ startDate: '2020-01-01', endDate: '2020-01-31' })).totals.sent).toBe(0);
    expect(ok(await other.emails.metrics()).totals.sent).toBe(0);
  });

  it('refuses bad input in Resend’s shape', async () => {
    for (const bad of [{ granularity: 'yearly' }, { metrics: ['nope'] }, { timezone: 'Mars/Olympus' }, { startDate: 'yesterday-ish' }] as any[]) {
      const r = await resend.emails.metrics(bad);
      expect(r.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    }
  });
});
