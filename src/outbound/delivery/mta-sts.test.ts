// Outbound MTA-STS (RFC 8461) over real sockets: the recipient domains' `_mta-sts` TXT records in
// the loopback DNS server, their policies on a loopback HTTPS server with a test CA the node
// trusts (MAILSTACK_MTA_STS_CA_FILE), and remote MX hosts on loopback. enforce: MX hosts outside
// the policy are never contacted, TLS must verify, no usable host defers (4.7.5); testing: report
// only; the policy is cached by its id and re-fetched when the id changes. Also the policy this
// node serves for its own hosted domains, fetched with curl by Host header and parsed by mailauth.
import { createServer, type Server } from 'node:https';
import { parsePolicy } from 'mailauth/lib/mta-sts.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../core/core.ts';
import { checkDomain } from '../../domains/verify.ts';
import { createTestMailbox } from '../../testkit/mailbox.ts';
import { type TestMx, startMx } from '../../testkit/remote-mx.ts';
import { type RemoteWorld, startRemoteWorld } from '../../testkit/remote-world.ts';
import { api, freePort } from '../../testkit/server.ts';
import { runClient } from '../../testkit/smtp-senders.ts';
import { makeTestCa } from '../../testkit/test-ca.ts';
import { waitFor } from '../../testkit/webhook-receiver.ts';
import { mxMatches } from './mta-sts.ts';

const ca = makeTestCa();
const policies = new Map<string, string>();
const fetches: string[] = [];
let https: Server;
let httpsPort: number;
let world: RemoteWorld;
let core: Core;
let apiKey: string;
let from: string;
let good: TestMx;
let rogue: TestMx;
let badTls: TestMx;

const policy = (mode: string, mx: string[]) => `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: 86400\r\n`;

beforeAll(async () => {
  httpsPort = await freePort();
  const leaf = ca.issue(['mta-sts.sts.test', 'mta-sts.only-rogue.test', 'mta-sts.badtls.test', 'mta-sts.testing.test', 'mta-sts.cached.test']);
  https = createServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
    fetches.push(host);
    const text = policies.get(host.replace(/^mta-sts\./, ''));
    if (!text || req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
  });
  await new Promise<void>((r) => https.listen(httpsPort, '127.0.0.36', () => r()));
  world = await startRemoteWorld({
    remoteIp: '127.0.0.35',
    env: { MAILSTACK_MTA_STS_CA_FILE: ca.certFile, MAILSTACK_MTA_STS_HTTPS_PORT: String(httpsPort), MAILSTACK_RETRY_DELAYS: '1h' },
  });
  core = world.server.platform.core;
  const port = world.mx.port;
  good = await startMx('127.0.0.36', port, { tls: ca.issue(['mx.sts.test']) });
  rogue = await startMx('127.0.0.37', port);
  badTls = await startMx('127.0.0.38', port, { tls: ca.issue(['someone-else.test']) });
  const dns = world.dns;
  dns.a('mx.sts.test', '127.0.0.36');
  dns.a('rogue.sts.test', '127.0.0.37');
  dns.a('mx.badtls.test', '127.0.0.38');
  for (const d of ['sts.test', 'only-rogue.test', 'badtls.test', 'testing.test', 'cached.test']) dns.a(`mta-sts.${d}`, '127.0.0.36');
  dns.mx('sts.test', 'rogue.sts.test', 5);
  dns.mx('sts.test', 'mx.sts.test', 10);
  dns.mx('only-rogue.test', 'rogue.sts.test', 10);
  dns.mx('badtls.test', 'mx.badtls.test', 10);
  dns.mx('testing.test', 'rogue.sts.test', 10);
  dns.mx('cached.test', 'mx.sts.test', 10);
  for (const d of ['sts.test', 'only-rogue.test', 'cached.test']) policies.set(d, policy('enforce', ['mx.sts.test']));
  policies.set('badtls.test', policy('enforce', ['mx.badtls.test']));
  policies.set('testing.test', policy('testing', ['mx.sts.test']));
  for (const d of ['sts.test', 'only-rogue.test', 'badtls.test', 'testing.test']) dns.txt(`_mta-sts.${d}`, 'v=STSv1; id=20261203a');
  dns.txt('_mta-sts.cached.test', 'v=STSv1; id=one');
  const ws = await world.server.setup('owner@sts-sender.test', 'STS');
  apiKey = ws.apiKey;
  const box = await createTestMailbox(core, { workspaceId: ws.workspaceId, address: `sender@sender-sts.example.org`, dns });
  from = box.mailbox.address;
}, 90_000);

afterAll(async () => {
  await world?.stop();
  await Promise.all([good?.close(), rogue?.close(), badTls?.close()]);
  await new Promise((r) => https?.close(r));
});

async function send(to: string, subject: string) {
  const { data, error } = await world.server.resend(apiKey).emails.send({ from, to, subject, text: 'hello' });
  expect(error).toBeNull();
  return data!.id;
}

async function recipientOf(id: string, statuses: string[]) {
  return waitFor(`recipient of ${id} in ${statuses.join('/')}`, async () => {
    const r = await core.db.selectFrom('email_recipients').selectAll().where('email_id', '=', id).executeTakeFirst();
    return r && statuses.includes(r.status) ? r : null;
  }, 30_000);
}

const at = (mx: TestMx, subject: string) => mx.messages.filter((m) => m.raw.toString().includes(subject));

describe('outbound MTA-STS', () => {
  it('enforce: skips the MX host not in the policy, delivers to the one in it over verified TLS', async () => {
    const id = await send('ann@sts.test', 'sts enforce');
    const r = await recipientOf(id, ['delivered']);
    expect(r.status).toBe('delivered');
    const [m] = at(good, 'sts enforce');
    expect(m.secure).toBe(true);
    expect(at(rogue, 'sts enforce')).toHaveLength(0);
    expect(rogue.connections).toBe(0);
  });

  it('enforce: no MX host matches → deferred with 4.7.5, the outside host never contacted', async () => {
    const id = await send('ann@only-rogue.test', 'sts no match');
    const r = await recipientOf(id, ['delivery_delayed']);
    expect(r.last_response).toMatch(/^451 4\.7\.5 No MX host of only-rogue\.test \(rogue\.sts\.test\) matches its MTA-STS policy/);
    expect(rogue.connections).toBe(0);
  });

  it('enforce: a certificate not valid for the MX name → deferred, nothing sent in clear', async () => {
    const before = badTls.connections;
    const id = await send('ann@badtls.test', 'sts bad tls');
    const r = await recipientOf(id, ['delivery_delayed']);
    expect(r.last_response).toMatch(/mx\.badtls\.test/);
    expect(badTls.connections).toBeGreaterThan(before);
    expect(at(badTls, 'sts bad tls')).toHaveLength(0);
  });

  it('testing: reports only, the mail is delivered to the host outside the policy', async () => {
    const id = await send('ann@testing.test', 'sts testing');
    await recipientOf(id, ['delivered']);
    expect(at(rogue, 'sts testing')).toHaveLength(1);
  });

  it('caches the policy by its TXT id, re-fetches when the id changes, and keeps it when the TXT vanishes', async () => {
    const count = () => fetches.filter((h) => h === 'mta-sts.cached.test').length;
    await recipientOf(await send('a@cached.test', 'cache one'), ['delivered']);
    await recipientOf(await send('b@cached.test', 'cache two'), ['delivered']);
    expect(count()).toBe(1);
    const row = await core.db.selectFrom('mta_sts_policies').selectAll().where('domain', '=', 'cached.test').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ policy_id: 'one', mode: 'enforce', mx_json: '["mx.sts.test"]' });
    expect(Number(row.max_age)).toBe(86400);

    // A new id: fetched again; the new policy names only the rogue host, so it is now used.
    world.dns.clear('_mta-sts.cached.test');
    world.dns.txt('_mta-sts.cached.test', 'v=STSv1; id=two');
    policies.set('cached.test', policy('enforce', ['rogue.sts.test']));
    world.dns.clear('cached.test', 'MX');
    world.dns.mx('cached.test', 'rogue.sts.test', 10);
    await recipientOf(await send('c@cached.test', 'cache three'), ['delivery_delayed']);
    expect(count()).toBe(2);
    // (rogue.sts.test offers no STARTTLS: under enforce that is a deferral too.)
    expect(at(rogue, 'cache three')).toHaveLength(0);

    // The TXT record and the HTTPS host vanish (an attacker blocking them): the cached enforce
    // policy still holds, so the host is still refused plaintext.
    world.dns.clear('_mta-sts.cached.test');
    policies.delete('cached.test');
    await recipientOf(await send('d@cached.test', 'cache four'), ['delivery_delayed']);
    expect(at(rogue, 'cache four')).toHaveLength(0);
  });

  it('matches wildcards on exactly one label (RFC 8461 §4.1)', () => {
    expect(mxMatches('mx1.example.com', ['*.example.com'])).toBe(true);
    expect(mxMatches('a.b.example.com', ['*.example.com'])).toBe(false);
    expect(mxMatches('example.com', ['*.example.com'])).toBe(false);
    expect(mxMatches('MX.Example.COM.', ['mx.example.com'])).toBe(true);
    expect(mxMatches('evilexample.com', ['*.example.com'])).toBe(false);
  });
});

describe('the MTA-STS policy this node serves for hosted domains', () => {
  it('answers at mta-sts.<domain> by Host header (curl), parsed by mailauth; lists and checks the records', async () => {
    const ws = await world.server.setup('owner@served.test', 'Served');
    const box = await createTestMailbox(core, { workspaceId: ws.workspaceId, address: 'x@served-sts.example.org' });
    const port = new URL(world.server.url).port;
    const r = await runClient('curl', ['-s', '-i', '-H', 'Host: mta-sts.served-sts.example.org', `http://127.0.0.1:${port}/.well-known/mta-sts.txt`]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(r.stdout).toMatch(/content-type: text\/plain/i);
    const body = r.stdout.split('\r\n\r\n').slice(1).join('\r\n\r\n');
    expect(body).toBe('version: STSv1\r\nmode: testing\r\nmx: mx.mailstack.test\r\nmax_age: 604800\r\n');
    expect(parsePolicy(body)).toMatchObject({ version: 'STSv1', mode: 'testing', mx: ['mx.mailstack.test'], maxAge: 604800 });
    // Another host, or a name this node does not receive for: 404.
    for (const host of ['mta-sts.unknown.example', 'served-sts.example.org', 'mta-sts.sts.test']) {
      const n = await runClient('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${host}`, `http://127.0.0.1:${port}/.well-known/mta-sts.txt`]);
      expect(n.stdout, host).toBe('404');
    }

    const d = await api(world.server.url, 'GET', `/v1/domains/${box.domainId}`, { key: ws.apiKey });
    const txt = d.json.records.find((x: any) => x.name === '_mta-sts');
    expect(txt).toMatchObject({ type: 'TXT', required: false });
    expect(txt.value).toMatch(/^v=STSv1; id=[0-9a-f]{20}$/);
    expect(d.json.records.find((x: any) => x.name === 'mta-sts')).toMatchObject({ type: 'CNAME', value: 'mx.mailstack.test' });
    // Published with the right id it verifies; with a stale id it fails.
    world.dns.txt('_mta-sts.served-sts.example.org', txt.value);
    await checkDomain(core, box.domainId);
    const checked = await api(world.server.url, 'GET', `/v1/domains/${box.domainId}`, { key: ws.apiKey });
    expect(checked.json.records.find((x: any) => x.name === '_mta-sts').status).toBe('verified');
    world.dns.clear('_mta-sts.served-sts.example.org');
    world.dns.txt('_mta-sts.served-sts.example.org', 'v=STSv1; id=old');
    await checkDomain(core, box.domainId);
    const stale = await api(world.server.url, 'GET', `/v1/domains/${box.domainId}`, { key: ws.apiKey });
    expect(stale.json.records.find((x: any) => x.name === '_mta-sts').status).toBe('failed');
  });
});
