// IMAP: Mailstack's IMAP door beside Dovecot on this machine, both holding the same 10,000
// messages, driven by the same raw-socket client (so client overhead is equal and small):
//   - FETCH 1:* (ENVELOPE FLAGS) over the whole folder,
//   - SEARCH BODY for a word that occurs in one message,
//   - APPEND throughput (LITERAL+, several connections),
//   - login-to-SELECT latency (connect, greeting, LOGIN, SELECT INBOX).
// Both run without TLS on loopback: the benchmark compares the servers, not the ciphers.
//
//   npx tsx bench/imap.ts          (BENCH_IMAP_MESSAGES=10000 by default)
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createAppPassword } from '../src/accounts/app-passwords.ts';
import { cliActor } from '../src/core/core.ts';
import { startTestDns } from '../src/testkit/dns-server.ts';
import { appendTestMessage, createTestMailbox } from '../src/testkit/mailbox.ts';
import { freePort, startTestServer } from '../src/testkit/server.ts';
import { startDovecot } from './peers.ts';

const N = Number(process.env.BENCH_IMAP_MESSAGES ?? 10_000);
const APPENDS = Number(process.env.BENCH_IMAP_APPENDS ?? 1000);
const APPEND_CONNECTIONS = 4;
const LOGINS = 50;
const RARE = 'quixotically';
const WORDS = 'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first been call who oil its now find long down day did get come made may part'.split(' ');

/** A deterministic message: the same bytes on both servers. */
function message(i: number): Buffer {
  let seed = i * 2654435761;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' ');
  const lines = Array.from({ length: 20 }, () => words(12));
  if (i === Math.floor(N / 2)) lines[10] += ` ${RARE}`;
  const date = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString().replace('GMT', '+0000');
  return Buffer.from(
    [
      `From: Sender ${i % 97} <sender${i % 97}@remote.example>`,
      'To: Bench <bench@imap.test>',
      `Subject: ${words(6)}`,
      `Date: ${date}`,
      `Message-ID: <bench.${i}@remote.example>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      ...lines,
      '',
    ].join('\r\n'),
  );
}

/** A minimal IMAP client: one tagged command at a time, literals written with LITERAL+. */
class RawImap {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private n = 0;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
  }
  static async connect(port: number): Promise<RawImap> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const c = new RawImap(sock);
    await c.until((s) => s.includes('\r\n'));
    c.buf = Buffer.alloc(0);
    return c;
  }
  private until(done: (s: string) => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        // Only the tail can hold the tagged reply; look at a bounded window.
        const tail = this.buf.subarray(Math.max(0, this.buf.length - 4096)).toString('latin1');
        if (done(tail)) {
          this.waiter = null;
          resolve();
        }
      };
      this.waiter = check;
      check();
    });
  }
  async run(command: string, literal?: Buffer): Promise<string> {
    const tag = `b${++this.n}`;
    this.buf = Buffer.alloc(0);
    if (literal) this.sock.write(Buffer.concat([Buffer.from(`${tag} ${command} {${literal.length}+}\r\n`), literal, Buffer.from('\r\n')]));
    else this.sock.write(`${tag} ${command}\r\n`);
    const re = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`);
    await this.until((s) => re.test(s));
    const all = this.buf.toString('latin1');
    const last = all.slice(all.lastIndexOf(`${tag} `));
    if (!last.startsWith(`${tag} OK`)) throw new Error(`${command.slice(0, 40)} failed: ${last.trim()}`);
    return all;
  }
  close() {
    this.sock.destroy();
  }
}

interface Target {
  name: string;
  port: number;
  user: string;
  password: string;
}

interface Measures {
  fetchSeconds: number;
  searchSeconds: number;
  appendRate: number;
  loginSelectMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(t: Target): Promise<Measures> {
  const c = await RawImap.connect(t.port);
  await c.run(`LOGIN ${t.user} "${t.password}"`);
  const sel = await c.run('SELECT INBOX');
  const exists = Number(/\* (\d+) EXISTS/.exec(sel)?.[1]);
  if (exists !== N) throw new Error(`${t.name}: INBOX holds ${exists} messages, expected ${N}`);
  // Warm-up (Dovecot builds its index and cache on first access; so may we).
  await c.run('FETCH 1:* (ENVELOPE FLAGS)');
  const fetches: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const out = await c.run('FETCH 1:* (ENVELOPE FLAGS)');
    fetches.push((performance.now() - t0) / 1000);
    if ((out.match(/ FETCH \(/g) ?? []).length !== N) throw new Error(`${t.name}: FETCH did not return ${N} messages`);
  }
  const searches: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const out = await c.run(`SEARCH BODY ${RARE}`);
    searches.push((performance.now() - t0) / 1000);
    if (!new RegExp(`\\* SEARCH ${Math.floor(N / 2) + 1}\\r\\n`).test(out)) throw new Error(`${t.name}: SEARCH BODY found ${out.split('\r\n')[0]}`);
  }
  c.close();

  // APPEND into a second folder over several connections.
  const setup = await RawImap.connect(t.port);
  await setup.run(`LOGIN ${t.user} "${t.password}"`);
  await setup.run('CREATE Appended').catch(() => '');
  setup.close();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: APPEND_CONNECTIONS }, async () => {
      const a = await RawImap.connect(t.port);
      await a.run(`LOGIN ${t.user} "${t.password}"`);
      while (next < APPENDS) await a.run('APPEND Appended (\\Seen)', message(N + next++));
      a.close();
    }),
  );
  const appendRate = APPENDS / ((performance.now() - t0) / 1000);

  const logins: number[] = [];
  for (let i = 0; i < LOGINS; i++) {
    const t1 = performance.now();
    const l = await RawImap.connect(t.port);
    await l.run(`LOGIN ${t.user} "${t.password}"`);
    await l.run('SELECT INBOX');
    logins.push(performance.now() - t1);
    l.close();
  }
  return { fetchSeconds: median(fetches), searchSeconds: median(searches), appendRate, loginSelectMs: median(logins) };
}

async function ours(): Promise<Measures> {
  const dns = await startTestDns();
  const port = await freePort();
  const server = await startTestServer({
    env: { MAILSTACK_IMAP_PORT: String(port), MAILSTACK_IMAPS_PORT: '0', MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true', MAILSTACK_DNS_SERVERS: dns.address },
  });
  try {
    const core = server.platform.core;
    const { mailbox } = await createTestMailbox(core, { address: 'bench@imap.test' });
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await appendTestMessage(core, mailbox, message(i));
    console.log(`  loaded ${N} messages into Mailstack in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const { password } = await createAppPassword(core, cliActor, mailbox.workspace_id, mailbox.id, { name: 'bench' });
    return await measure({ name: 'Mailstack', port, user: mailbox.address, password });
  } finally {
    await server.stop();
    await dns.close();
  }
}

async function dovecot(): Promise<Measures | string> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'bench-dovecot-'));
  chmodSync(base, 0o755);
  const maildir = path.join(base, 'Maildir');
  try {
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
    const t0 = Math.floor(Date.now() / 1000);
    for (let i = 0; i < N; i++) writeFileSync(path.join(maildir, 'cur', `${t0 + i}.M${i}P1.bench,S=${message(i).length}:2,`), message(i));
    chownR(maildir);
    const port = await freePort();
    const d = await startDovecot(path.join(base, 'dovecot'), maildir, port);
    if (typeof d === 'string') return d;
    try {
      return await measure({ name: 'Dovecot', port, user: d.user, password: d.password });
    } finally {
      d.stop();
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/** Dovecot reads the Maildir as the mail user (uid/gid 5000). */
function chownR(dir: string): void {
  chownSync(dir, 5000, 5000);
  for (const sub of ['cur', 'new', 'tmp']) chownSync(path.join(dir, sub), 5000, 5000);
  for (const f of readdirSync(path.join(dir, 'cur'))) chownSync(path.join(dir, 'cur', f), 5000, 5000);
}

async function main() {
  console.log(`IMAP benchmark: ${N} messages of ~1.5 KB in INBOX; ${APPENDS} APPENDs over ${APPEND_CONNECTIONS} connections; ${LOGINS} login-to-SELECT`);
  const a = await ours();
  const b = await dovecot().catch((err: Error) => `Dovecot run failed: ${err.message.split('\n')[0]}`);
  const peer = typeof b === 'string' ? null : b;
  const row = (name: string, ourValue: number, peerValue: number | undefined, unit: string, higherIsBetter: boolean) => {
    const ratio = peerValue === undefined ? '' : `  (${(higherIsBetter ? ourValue / peerValue : peerValue / ourValue).toFixed(2)}× Dovecot's speed)`;
    const theirs = peerValue === undefined ? '' : `  Dovecot ${peerValue.toFixed(unit === 'ms' ? 1 : 3)} ${unit}`;
    console.log(`${name.padEnd(34)} Mailstack ${ourValue.toFixed(unit === 'ms' ? 1 : 3)} ${unit}${theirs}${ratio}`);
  };
  row('FETCH 1:* (ENVELOPE FLAGS)', a.fetchSeconds, peer?.fetchSeconds, 's', false);
  row('SEARCH BODY <rare word>', a.searchSeconds, peer?.searchSeconds, 's', false);
  row('APPEND', a.appendRate, peer?.appendRate, 'msgs/s', true);
  row('login to SELECT (median)', a.loginSelectMs, peer?.loginSelectMs, 'ms', false);
  if (typeof b === 'string') console.log(`Dovecot skipped: ${b}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
