// Every method of the official SDK reaches a route of ours or a clear Resend-shaped answer that the
// feature is not offered — never "no endpoint", never a parametric route's misleading answer
// (emails.metrics used to fall into /emails/:id). The SDK is walked by reflection, so a method
// added in a new SDK version is covered too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resend } from 'resend';
import { type TestServer, startTestServer } from '../testkit/server.ts';

let server: TestServer;
let resend: Resend;
const seen: { call: string; method: string; url: string; status: number; body: any }[] = [];

beforeAll(async () => {
  server = await startTestServer();
  const { apiKey } = await server.setup('sdk@example.com', 'SDK');
  resend = server.resend(apiKey);
  // Watch what the SDK sends and what it gets back.
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (input: any, init?: any) => {
    const res = await realFetch(input, init);
    const url = new URL(typeof input === 'string' ? input : input.url);
    if (url.origin === server.url) {
      const text = await res.clone().text();
      let body: any = null;
      try {
        body = JSON.parse(text);
      } catch {}
      seen.push({ call: current, method: init?.method ?? 'GET', url: url.pathname, status: res.status, body });
    }
    return res;
  }) as typeof fetch;
  afterAll(() => {
    globalThis.fetch = realFetch;
  });
});

afterAll(async () => {
  await server?.stop();
});

let current = '';
const ARGS = {
  id: 'x1', inboxId: 'x1', threadId: 'x1', emailId: 'x1', labelId: 'x1', draftId: 'x1', webhookId: 'x1', eventId: 'x1', domainId: 'x1',
  automationId: 'x1', runId: 'x1', audienceId: 'x1', contactId: 'x1', segmentId: 'x1', email: 'a@b.example', to: 'a@b.example',
  from: 'a@b.example', subject: 's', text: 't', name: 'n', emails: ['a@b.example'], labels: ['x'],
};

async function walk(obj: any, path: string, depth: number): Promise<number> {
  if (depth > 4) return 0;
  let methods = 0;
  const proto = Object.getPrototypeOf(obj);
  const names = new Set([...Object.getOwnPropertyNames(obj), ...(proto && proto !== Object.prototype ? Object.getOwnPropertyNames(proto) : [])]);
  for (const n of names) {
    if (n === 'constructor' || n === 'resend' || n.startsWith('_')) continue;
    if (depth === 0 && ['key', 'baseUrl', 'userAgent', 'headers', 'fetchRequest', 'post', 'get', 'put', 'patch', 'delete', 'logError'].includes(n)) continue;
    const v = obj[n];
    if (typeof v === 'function') {
      methods++;
      current = `${path}${n}`;
      for (const args of [['x1', ARGS], [ARGS]]) {
        try {
          await Promise.race([v.apply(obj, args), new Promise((r) => setTimeout(r, 2000))]);
        } catch {
          // A client-side check (missing field) makes no request: nothing to judge.
        }
      }
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      methods += await walk(v, `${path}${n}.`, depth + 1);
    }
  }
  return methods;
}

describe('the SDK against this node', () => {
  it('walks every method: each request is served or answered as a feature not offered', async () => {
    const methods = await walk(resend, '', 0);
    expect(methods).toBeGreaterThanOrEqual(141);
    const calls = new Set(seen.map((s) => s.call));
    expect(calls.size).toBeGreaterThan(110);
    const noEndpoint = seen.filter((s) => s.status === 404 && /^No endpoint/.test(s.body?.message ?? ''));
    expect(noEndpoint.map((s) => `${s.call}: ${s.method} ${s.url}`)).toEqual([]);
    // Every error is Resend's shape.
    for (const s of seen.filter((x) => x.status >= 400)) expect(s.body).toMatchObject({ statusCode: s.status, name: expect.any(String), message: expect.any(String) });
  }, 300_000);

  it('says plainly that hosted-service features are not offered', () => {
    for (const call of ['domains.claims.create', 'domains.claims.get', 'domains.claims.verify', 'oauthGrants.revoke', 'emails.share']) {
      const hits = seen.filter((s) => s.call === call);
      expect(hits.length, call).toBeGreaterThan(0);
      for (const h of hits) {
        expect(h.status).toBe(404);
        expect(h.body).toMatchObject({ statusCode: 404, name: 'not_found' });
        expect(h.body.message).toMatch(/^Mailstack does not offer .*hosted service/);
      }
    }
  });

  it('the campaign methods reach their own routes; events and automations are said to be not offered', () => {
    const campaign = seen.filter((s) => /^(contacts|contactProperties|segments|topics|templates|broadcasts|audiences)\./.test(s.call));
    // Every one of these SDK methods was called and answered by a route of ours.
    const calls = new Set(campaign.map((s) => s.call));
    for (const m of [
      'contacts.create', 'contacts.list', 'contacts.get', 'contacts.update', 'contacts.remove', 'contacts.imports.create', 'contacts.imports.list', 'contacts.imports.get',
      'contacts.topics.update', 'contacts.topics.list', 'contacts.segments.list', 'contacts.segments.add', 'contacts.segments.remove',
      'contactProperties.create', 'contactProperties.list', 'contactProperties.get', 'contactProperties.update', 'contactProperties.remove',
      'segments.create', 'segments.list', 'segments.get', 'segments.update', 'segments.remove', 'topics.create', 'topics.list', 'topics.get', 'topics.update', 'topics.remove',
      'templates.create', 'templates.get', 'templates.list', 'templates.update', 'templates.remove', 'templates.duplicate', 'templates.publish',
      'broadcasts.create', 'broadcasts.send', 'broadcasts.list', 'broadcasts.get', 'broadcasts.recipients', 'broadcasts.clickedLinks', 'broadcasts.remove', 'broadcasts.cancel', 'broadcasts.duplicate', 'broadcasts.update',
    ]) expect(calls, m).toContain(m);
    expect(campaign.filter((s) => /does not offer/.test(s.body?.message ?? '')).map((s) => `${s.call}: ${s.method} ${s.url}`)).toEqual([]);
    for (const call of ['events.send', 'automations.list']) {
      const hits = seen.filter((s) => s.call === call);
      expect(hits.length, call).toBeGreaterThan(0);
      for (const h of hits) expect(h.body.message).toMatch(/^Mailstack does not offer Resend's/);
    }
  });

  it('emails.metrics reaches its own route, not /emails/:id', async () => {
    const { data, error } = await resend.emails.metrics();
    expect(error).toBeNull();
    expect(data).toMatchObject({ object: 'metrics', granularity: 'daily', dimensions: [], totals: { sent: 0, delivered: 0 } });
  });
});
