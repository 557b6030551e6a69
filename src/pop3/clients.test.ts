// POP3 with real clients over real sockets: Python's poplib (POP3_SSL, and POP3 + STLS) and curl
// (pop3s:// list and retrieve, compared byte for byte), on both stores.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { systemActor } from '../core/core.ts';
import { type TestMailbox, appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { type TestServer, freePort, startTestServer } from '../testkit/server.ts';

const run = promisify(execFile);

let server: TestServer;
let pop3Port = 0;
let pop3sPort = 0;
let box: TestMailbox;
let password = '';
const raws: Buffer[] = [];

beforeAll(async () => {
  pop3Port = await freePort();
  pop3sPort = await freePort();
  server = await startTestServer({ env: { MAILSTACK_POP3_PORT: String(pop3Port), MAILSTACK_POP3S_PORT: String(pop3sPort) } });
  const core = server.platform.core;
  box = await createTestMailbox(core, {});
  password = (await createAppPassword(core, systemActor, box.workspaceId, box.mailbox.id, { name: 'clients' })).password;
  raws.push(rawMessage({ subject: 'Plain one', text: 'Hello from the first message.\r\n.a line with a dot\r\nbye' }));
  raws.push(rawMessage({ subject: 'Ünïcödé subject', text: 'Grüße, 8-bit body\r\n\r\n-- \r\nsig' }));
  // A bigger one, so a RETR spans many TCP/TLS records.
  raws.push(rawMessage({ subject: 'Large', text: Array.from({ length: 4000 }, (_, i) => `${i % 7 === 0 ? '.' : ''}line ${i} ${'x'.repeat(60)}`).join('\r\n') }));
  for (const r of raws) await appendRaw(core, box.mailbox, r);
});
afterAll(() => server?.stop());

async function python(script: string, args: string[]): Promise<any> {
  const { stdout } = await run('python3', ['-c', script, ...args], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
}

const POPLIB = `
import json, poplib, ssl, sys, base64
mode, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == 'ssl':
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=20)
    caps_before = None
else:
    p = poplib.POP3('127.0.0.1', port, timeout=20)
    caps_before = sorted(p.capa().keys())
    try:
        p.user(user)
        plain_user = 'accepted'
    except poplib.error_proto as e:
        plain_user = e.args[0].decode()
    p.stls(context=ctx)
out = {'caps_before': caps_before, 'caps': sorted(p.capa().keys())}
if mode != 'ssl': out['plain_user'] = plain_user
out['user'] = p.user(user).decode()
out['pass'] = p.pass_(pw).decode()
out['stat'] = list(p.stat())
out['list'] = [l.decode() for l in p.list()[1]]
out['uidl'] = [l.decode() for l in p.uidl()[1]]
msgs = []
for i in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(i)
    msgs.append(base64.b64encode(b'\\r\\n'.join(lines) + b'\\r\\n').decode())
out['retr'] = msgs
out['top'] = [l.decode('latin1') for l in p.top(1, 1)[1]]
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

describe('Python poplib', () => {
  it('reads every message over implicit TLS, byte for byte', async () => {
    const out = await python(POPLIB, ['ssl', String(pop3sPort), box.mailbox.address, password]);
    expect(out.caps).toEqual(['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']);
    expect(out.pass).toMatch(/^\+OK Logged in: 3 messages/);
    const total = raws.reduce((n, r) => n + r.length, 0);
    expect(out.stat).toEqual([3, total]);
    expect(out.list).toEqual(raws.map((r, i) => `${i + 1} ${r.length}`));
    expect(out.uidl).toHaveLength(3);
    expect(out.retr.map((b: string) => Buffer.from(b, 'base64'))).toEqual(raws);
    expect(out.top.slice(-2)).toEqual(['', 'Hello from the first message.']);
    expect(out.quit).toBe('+OK Bye (0 messages deleted)');
  });

  it('upgrades with STLS after being refused USER in the clear', async () => {
    const out = await python(POPLIB, ['stls', String(pop3Port), box.mailbox.address, password]);
    expect(out.caps_before).toContain('STLS');
    expect(out.caps_before).not.toContain('USER');
    expect(out.plain_user).toMatch(/^-ERR \[AUTH\] Plaintext authentication disallowed/);
    expect(out.caps).not.toContain('STLS');
    expect(out.caps).toContain('USER');
    expect(out.retr.map((b: string) => Buffer.from(b, 'base64'))).toEqual(raws);
  });
});

describe('curl', () => {
  const curl = (path: string, extra: string[] = []) =>
    run('curl', ['-s', '--ssl-reqd', '-k', '--max-time', '30', '-u', `${box.mailbox.address}:${password}`, `pop3s://127.0.0.1:${pop3sPort}/${path}`, ...extra], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });

  it('lists the maildrop over pop3s://', async () => {
    const { stdout } = await curl('');
    expect(stdout.toString()).toBe(raws.map((r, i) => `${i + 1} ${r.length}\r\n`).join(''));
  });

  it('retrieves each message byte for byte', async () => {
    for (let i = 0; i < raws.length; i++) {
      const { stdout } = await curl(String(i + 1));
      expect(stdout.equals(raws[i])).toBe(true);
    }
  });

  it('gets pop3:// with STLS too, and is refused a wrong password', async () => {
    const { stdout } = await run('curl', ['-s', '--ssl-reqd', '-k', '--max-time', '30', '-u', `${box.mailbox.address}:${password}`, `pop3://127.0.0.1:${pop3Port}/2`], { encoding: 'buffer' });
    expect(stdout.equals(raws[1])).toBe(true);
    const bad = await run('curl', ['-s', '--ssl-reqd', '-k', '--max-time', '30', '-u', `${box.mailbox.address}:wrong`, `pop3s://127.0.0.1:${pop3sPort}/`]).catch((e) => e);
    expect(bad.code).toBe(67); // CURLE_LOGIN_DENIED
  });
});
