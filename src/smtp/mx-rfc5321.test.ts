// RFC 5321 corners of the MX and the submission door, over real sockets with swaks, Python's
// smtplib and a raw client: source routes are ignored (§4.1.1.3) and never open a relay;
// postmaster@ of every receiving domain, and the domainless <postmaster>, are deliverable (§4.5.1)
// to the configured inbox or the owner's (tenant-scoped API); the header section is bounded
// (552 5.3.4) and the connection and server stay healthy after a refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestMailbox, createTestMailbox } from '../testkit/mailbox.ts';
import { type RemoteWorld, startRemoteWorld } from '../testkit/remote-world.ts';
import { waitFor } from '../testkit/webhook-receiver.ts';
import { api, freePort } from '../testkit/server.ts';
import { RawSmtp } from '../testkit/smtp-client.ts';
import { runClient, storedMessages } from '../testkit/smtp-senders.ts';
import { HeaderScanner, headerSectionLength } from '../inbound/header-section.ts';

const HOSTED = 'hosted.example.org';
let world: RemoteWorld;
let core: Core;
let port: number;
let submissionPort: number;
let url: string;
let a: { workspaceId: string; userId: string; apiKey: string };
let b: { workspaceId: string; userId: string; apiKey: string };
let alice: TestMailbox;
let ops: TestMailbox;
let other: TestMailbox;

beforeAll(async () => {
  port = await freePort();
  submissionPort = await freePort();
  world = await startRemoteWorld({
    remoteIp: '127.0.0.31',
    env: { MAILSTACK_SMTP_PORT: String(port), MAILSTACK_SUBMISSION_PORT: String(submissionPort), MAILSTACK_RETRY_DELAYS: '200ms' },
  });
  core = world.server.platform.core;
  url = world.server.url;
  a = await world.server.setup('owner-a@example.com', 'A');
  b = await world.server.setup('owner-b@example.com', 'B');
  // alice@ is the owner's own inbox; ops@ another inbox of the domain.
  alice = await createTestMailbox(core, { workspaceId: a.workspaceId, address: `alice@${HOSTED}`, ownerUserId: a.userId, dns: world.dns });
  ops = await createTestMailbox(core, { workspaceId: a.workspaceId, address: `ops@${HOSTED}` });
  other = await createTestMailbox(core, { workspaceId: b.workspaceId, address: 'bob@b-hosted.example.org', ownerUserId: b.userId });
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

const message = (subject: string) => `From: sender@remote.test\r\nTo: alice@${HOSTED}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\r\n\r\nbody of ${subject}\r\n`;

async function stored(mailboxId: string, subject: string) {
  return (await storedMessages(core, mailboxId)).filter((m) => m.raw.toString('latin1').includes(`Subject: ${subject}`));
}

const PY_RAW = `
import smtplib, sys, json
port = int(sys.argv[1]); rcpts = sys.argv[2:]; msg = sys.stdin.buffer.read()
s = smtplib.SMTP('127.0.0.1', port, local_hostname='py.remote.test', timeout=30)
s.ehlo()
results = []
for rcpt in rcpts:
    out = {'mail': s.docmd('MAIL FROM:<sender@remote.test>')[0]}
    code, text = s.docmd('RCPT TO:' + rcpt)
    out['rcpt'] = code; out['rcpt_text'] = text.decode('latin1')
    if code == 250:
        code, text = s.data(msg)
        out['data'] = code; out['data_text'] = text.decode('latin1')
    s.rset()
    results.append(out)
s.quit()
print(json.dumps(results))
`;

type PyResult = { mail: number; rcpt: number; rcpt_text: string; data?: number; data_text?: string };

/** smtplib with each RCPT line written as given (sendmail() would rewrite a route), one transaction each on one connection. */
async function pythonRcpts(p: number, rcpts: string[], msg: string): Promise<PyResult[]> {
  const r = await runClient('python3', ['-c', PY_RAW, String(p), ...rcpts], Buffer.from(msg));
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim());
}

async function pythonRcpt(p: number, rcpt: string, msg: string): Promise<PyResult> {
  return (await pythonRcpts(p, [rcpt], msg))[0];
}

describe('source routes (RFC 5321 §4.1.1.3): ignored, the final address routed', () => {
  it('swaks: <@other.example:alice@hosted> is alice@hosted, stored once with the plain address', async () => {
    const r = await runClient('swaks', ['--server', `127.0.0.1:${port}`, '--ehlo', 'client.remote.test', '--from', 'sender@remote.test', '--to', `@other.example:alice@${HOSTED}`, '--data', '-'], message('swaks route'));
    expect(r.stdout).toContain(`RCPT TO:<@other.example:alice@${HOSTED}>`);
    expect(r.stdout).toMatch(/<-\s+250 2\.1\.5/);
    expect(r.stdout).toMatch(/<-\s+250 2\.0\.0 OK: stored in 1 mailbox/);
    const [m] = await stored(alice.mailbox.id, 'swaks route');
    expect(JSON.parse(m.received_for_json)).toEqual([`alice@${HOSTED}`]);
    expect(m.raw.toString('latin1')).toContain(`for <alice@${HOSTED}>`);
  });

  it('smtplib: a multi-hop route reaches alice; a route through a hosted domain to an outside address is still relaying (550 5.7.1)', async () => {
    const bad = [`<@a.example:@b.example:alice@${HOSTED}>`, `<@:alice@${HOSTED}>`, `<@a.example alice@${HOSTED}>`];
    const [ok, relay, ...malformed] = await pythonRcpts(port, [`<@a.example,@b.example:alice@${HOSTED}>`, `<@${HOSTED}:victim@remote.test>`, ...bad], message('py route'));
    expect(ok).toMatchObject({ rcpt: 250, data: 250 });
    expect(await stored(alice.mailbox.id, 'py route')).toHaveLength(1);
    expect(relay.rcpt).toBe(550);
    expect(relay.rcpt_text).toMatch(/^5\.7\.1 Relaying denied: this server does not accept mail for remote\.test/);
    // Malformed routes are syntax errors, not addresses: nothing is routed.
    malformed.forEach((r, i) => expect(r.rcpt, bad[i]).toBeGreaterThanOrEqual(500));
    expect(world.mx.messages.some((m) => m.to.includes('victim@remote.test'))).toBe(false);
  }, 60_000);

  it('submission: an authenticated client\'s routed recipient is delivered to the final address; without AUTH nothing is accepted', async () => {
    const r = await runClient('swaks', [
      '--server', `127.0.0.1:${submissionPort}`, '--ehlo', 'client.remote.test', '--tls', '--auth', 'PLAIN', '--auth-user', 'resend', '--auth-password', a.apiKey,
      '--from', `alice@${HOSTED}`, '--to', `@${HOSTED}:bob@remote.test`, '--header', 'Subject: routed submission', '--body', 'via a route',
    ]);
    expect(r.stdout).toContain(`RCPT TO:<@${HOSTED}:bob@remote.test>`);
    expect(r.stdout).toMatch(/<~\s+250 2\.6\.0 Queued as/);
    const recipients = await core.db.selectFrom('email_recipients').innerJoin('emails', 'emails.id', 'email_recipients.email_id').select(['email_recipients.address as address']).where('emails.subject', '=', 'routed submission').execute();
    expect(recipients.map((x) => x.address)).toEqual(['bob@remote.test']);
    const got = await waitFor('the routed submission at the remote MX', () => world.mx.messages.find((m) => m.raw.toString().includes('routed submission')), 30_000);
    expect(got.to).toEqual(['bob@remote.test']);
    const anon = await pythonRcpt(submissionPort, `<@${HOSTED}:bob@remote.test>`, message('anon'));
    expect(anon.mail).toBe(530);
    expect(anon.rcpt).toBe(530);
  });
});

describe('postmaster (RFC 5321 §4.5.1)', () => {
  it('postmaster@ of a receiving domain reaches the owner\'s inbox when nobody set one, in any case', async () => {
    const r = await pythonRcpt(port, `<PostMaster@${HOSTED}>`, message('pm owner'));
    expect(r).toMatchObject({ rcpt: 250, data: 250 });
    const [m] = await stored(alice.mailbox.id, 'pm owner');
    expect(JSON.parse(m.received_for_json)).toEqual([`postmaster@${HOSTED}`]);
    const view = await api(url, 'GET', `/v1/domains/${alice.domainId}/postmaster`, { key: a.apiKey });
    expect(view.json).toEqual({ object: 'postmaster', domain_id: alice.domainId, domain: HOSTED, address: `postmaster@${HOSTED}`, inbox_id: null, delivers_to: { inbox_id: alice.mailbox.id, email_address: `alice@${HOSTED}` } });
  });

  it('goes to the configured inbox once set (swaks), back to the owner when unset; another workspace can neither see nor set it', async () => {
    const set = await api(url, 'PUT', `/v1/domains/${alice.domainId}/postmaster`, { key: a.apiKey, body: { inbox_id: ops.mailbox.id } });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ inbox_id: ops.mailbox.id, delivers_to: { inbox_id: ops.mailbox.id } });
    const r = await runClient('swaks', ['--server', `127.0.0.1:${port}`, '--ehlo', 'client.remote.test', '--from', 'sender@remote.test', '--to', `postmaster@${HOSTED}`, '--data', '-'], message('pm configured'));
    expect(r.stdout).toMatch(/<-\s+250 2\.0\.0 OK: stored in 1 mailbox/);
    expect(await stored(ops.mailbox.id, 'pm configured')).toHaveLength(1);
    expect(await stored(alice.mailbox.id, 'pm configured')).toHaveLength(0);

    // Workspace B: A's domain is not_found, and so is A's inbox as a target for B's domain.
    expect((await api(url, 'GET', `/v1/domains/${alice.domainId}/postmaster`, { key: b.apiKey })).status).toBe(404);
    expect((await api(url, 'PUT', `/v1/domains/${alice.domainId}/postmaster`, { key: b.apiKey, body: { inbox_id: other.mailbox.id } })).status).toBe(404);
    expect((await api(url, 'DELETE', `/v1/domains/${alice.domainId}/postmaster`, { key: b.apiKey })).status).toBe(404);
    const cross = await api(url, 'PUT', `/v1/domains/${other.domainId}/postmaster`, { key: b.apiKey, body: { inbox_id: ops.mailbox.id } });
    expect(cross.status).toBe(404);
    expect(cross.json).toMatchObject({ name: 'not_found' });
    expect((await api(url, 'PUT', `/v1/domains/${alice.domainId}/postmaster`, { key: a.apiKey, body: { inbox_id: 42 } })).status).toBe(422);

    const unset = await api(url, 'DELETE', `/v1/domains/${alice.domainId}/postmaster`, { key: a.apiKey });
    expect(unset.json).toMatchObject({ inbox_id: null, delivers_to: { inbox_id: alice.mailbox.id } });
    expect((await pythonRcpt(port, `<postmaster@${HOSTED}>`, message('pm unset'))).data).toBe(250);
    expect(await stored(alice.mailbox.id, 'pm unset')).toHaveLength(1);
  });

  it('B\'s postmaster@ goes to B\'s owner inbox, never to A; the domainless <postmaster> is postmaster@MAILSTACK_HOSTNAME', async () => {
    expect((await pythonRcpt(port, '<postmaster@b-hosted.example.org>', message('pm b'))).data).toBe(250);
    expect(await stored(other.mailbox.id, 'pm b')).toHaveLength(1);
    expect(await stored(alice.mailbox.id, 'pm b')).toHaveLength(0);

    // Before the node's own name (mx.mailstack.test) is a receiving domain, nobody takes it.
    expect((await pythonRcpt(port, '<postmaster>', message('pm nowhere'))).rcpt).toBe(550);
    // Then it is A's, with an inbox of its own; the fallback is still the owner's inbox (alice@).
    const own = await createTestMailbox(core, { workspaceId: a.workspaceId, address: 'hostmaster@mx.mailstack.test' });
    const r = await pythonRcpt(port, '<postmaster>', message('pm bare'));
    expect(r).toMatchObject({ rcpt: 250, data: 250 });
    const [m] = await stored(alice.mailbox.id, 'pm bare');
    expect(JSON.parse(m.received_for_json)).toEqual(['postmaster@mx.mailstack.test']);
    expect(await stored(own.mailbox.id, 'pm bare')).toHaveLength(0);
  });
});

describe('the header section is bounded (MAILSTACK_MX_MAX_HEADER_BYTES)', () => {
  it('refuses a 21 MB message with a 20 MB header line with 552 5.3.4, and the same connection then delivers', async () => {
    const { client } = await RawSmtp.connect(port);
    try {
      expect((await client.command('EHLO big.remote.test')).code).toBe(250);
      expect((await client.command('MAIL FROM:<sender@remote.test>')).code).toBe(250);
      expect((await client.command(`RCPT TO:<alice@${HOSTED}>`)).code).toBe(250);
      const huge = `Subject: ${'a'.repeat(20 * 1024 * 1024)}\r\nFrom: x@remote.test\r\n\r\n${'b'.repeat(76).concat('\r\n').repeat(13_000)}`;
      const refused = await client.data(huge, 60_000);
      expect(refused.code).toBe(552);
      expect(refused.text).toBe('552 5.3.4 Message header section too big for this server (limit 1048576 bytes)');
      // The session goes on: a new transaction on the same connection is delivered.
      expect((await client.command('MAIL FROM:<sender@remote.test>')).code).toBe(250);
      expect((await client.command(`RCPT TO:<alice@${HOSTED}>`)).code).toBe(250);
      const fine = await client.data(message('after the refusal'));
      expect(fine.code).toBe(250);
    } finally {
      await client.quit();
    }
    expect(await stored(alice.mailbox.id, 'after the refusal')).toHaveLength(1);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  }, 90_000);

  it('takes a header section just under the limit, refuses one just over it (many short lines)', async () => {
    const filler = (bytes: number) => {
      const line = `X-Filler: ${'f'.repeat(60)}\r\n`;
      return line.repeat(Math.floor(bytes / line.length));
    };
    const head = (subject: string, bytes: number) => `Subject: ${subject}\r\nFrom: x@remote.test\r\n${filler(bytes)}\r\nbody\r\n`;
    const under = await pythonRcpt(port, `<alice@${HOSTED}>`, head('under the limit', 1024 * 1024 - 1000));
    expect(under.data).toBe(250);
    const over = await pythonRcpt(port, `<alice@${HOSTED}>`, head('over the limit', 1024 * 1024 + 100));
    expect(over.data).toBe(552);
    expect(over.data_text).toMatch(/^5\.3\.4 Message header section too big/);
    expect(await stored(alice.mailbox.id, 'over the limit')).toHaveLength(0);
  });
});

describe('HeaderScanner (hostile input)', () => {
  const cases: [string, number][] = [
    ['A: b\r\n\r\nbody', 8],
    ['A: b\n\nbody', 6],
    ['\r\nbody', 2],
    ['\nbody', 1],
    ['A: b\r\n c\r\n\r\n', 12],
    ['A: b\r\r\nB: c\r\n\r\nx', 15],
    ['no end at all', 13],
    ['A: b\r\n\nx', 7],
    ['', 0],
  ];
  it('finds the end of the header section wherever the chunks are cut', () => {
    for (const [text, end] of cases) {
      const buf = Buffer.from(text, 'latin1');
      expect(headerSectionLength(buf), JSON.stringify(text)).toBe(end);
      for (let cut = 0; cut <= buf.length; cut++) {
        for (let cut2 = cut; cut2 <= buf.length; cut2++) {
          const s = new HeaderScanner();
          s.push(buf.subarray(0, cut));
          s.push(buf.subarray(cut, cut2));
          s.push(buf.subarray(cut2));
          expect(s.headerBytes, `${JSON.stringify(text)} cut at ${cut},${cut2}`).toBe(end);
        }
      }
    }
  });

  it('counts a 20 MB line without copying it, and random bytes never throw', () => {
    const s = new HeaderScanner();
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 320; i++) s.push(chunk);
    expect(s.done).toBe(false);
    expect(s.headerBytes).toBe(320 * 64 * 1024);
    for (let i = 0; i < 200; i++) {
      const b = Buffer.from(Array.from({ length: 64 }, () => [0x0a, 0x0d, 0x41, 0x00][Math.floor(Math.random() * 4)]));
      const n = headerSectionLength(b);
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThanOrEqual(b.length);
    }
  });
});
