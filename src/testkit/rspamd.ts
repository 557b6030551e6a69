// A real rspamd (Debian's `rspamd` package, installed by .ci/run) for the tests, started from a
// config in a temporary folder on loopback ports, not as the system service: each test file gets its
// own controller and normal worker, its own Redis database number for the Bayes statistics, and
// stops it when done.
//
// - Only rspamd's stock config plus local.d overrides: DNS goes to a closed loopback port with a
//   short timeout (tests are offline), the network modules (RBL, SURBL, fuzzy, neural…) are off,
//   GTUBE is recognised from loopback clients (`enable_test_patterns`), Bayes learns from the first
//   message, and a multimap rule scores the subject `MAILSTACK-JUNK-TEST` (MAILSTACK_TEST_JUNK, 8)
//   so a test can send a message that lands between the junk and the reject scores.
// - `rspamdBinary()` is null when rspamd is not installed: a test then skips with that message on a
//   laptop, but under CI (CI set) the helper throws, so a missing rspamd fails the run.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server.ts';

export const RSPAMD_MISSING = 'rspamd is not installed (apt-get install rspamd; .ci/run does it): the tests against a real rspamd are skipped';

export function rspamdBinary(): string | null {
  for (const p of ['/usr/bin/rspamd', '/usr/sbin/rspamd', '/usr/local/bin/rspamd']) if (existsSync(p)) return p;
  if (process.env.CI) throw new Error(`${RSPAMD_MISSING}; under CI this is a failure`);
  return null;
}

export interface Rspamd {
  /** The controller (checkv2 and the learn endpoints): MAILSTACK_RSPAMD_URL. */
  url: string;
  password: string;
  /** rspamd's Bayes learn counters, as its Redis backend keeps them (the `RS` hash). */
  learns(): Promise<{ spam: number; ham: number }>;
  stop(): Promise<void>;
}

export async function startRspamd(): Promise<Rspamd> {
  const bin = rspamdBinary();
  if (!bin) throw new Error(RSPAMD_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'mailstack-rspamd-'));
  for (const d of ['local.d', 'db', 'run', 'log']) mkdirSync(join(dir, d));
  const [normal, controller] = [await freePort(), await freePort()];
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  // A database number no other rspamd of this machine's parallel test runs is using: a random one
  // collided now and then (the SQLite and PostgreSQL runs of a file start together).
  const redisDb = 1 + ((await redisIncr('mailstack:test:rspamd-db')) % 15);
  const files: Record<string, string> = {
    'worker-normal.inc': `bind_socket = "127.0.0.1:${normal}";\ncount = 1;\n`,
    'worker-controller.inc': `bind_socket = "127.0.0.1:${controller}";\npassword = "${password}";\nenable_password = "${password}";\n`,
    'worker-proxy.inc': 'enabled = false;\n',
    'worker-fuzzy.inc': 'enabled = false;\n',
    'redis.conf': `servers = "127.0.0.1:6379";\ndb = "${redisDb}";\n`,
    'options.inc': 'dns { nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 1; }\nenable_test_patterns = true;\n',
    'logging.inc': 'type = "console";\nlevel = "error";\n',
    'classifier-bayes.conf': 'min_learns = 1;\nmin_tokens = 1;\n',
    'multimap.conf': `MAILSTACK_TEST_JUNK {\n  type = "header";\n  header = "Subject";\n  regexp = true;\n  map = "file://${join(dir, 'junk-subjects.map')}";\n  score = 8.0;\n  description = "Mailstack test: a subject that scores as junk";\n}\n`,
  };
  for (const m of ['rbl', 'surbl', 'fuzzy_check', 'neural', 'phishing', 'asn', 'url_redirector', 'greylist', 'ratelimit', 'replies', 'dcc']) files[`${m}.conf`] = 'enabled = false;\n';
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'local.d', name), text);
  writeFileSync(join(dir, 'junk-subjects.map'), '/MAILSTACK-JUNK-TEST/\n');

  const args = ['-f', '-i', '-c', '/etc/rspamd/rspamd.conf', '--var', `LOCAL_CONFDIR=${dir}`, '--var', `DBDIR=${join(dir, 'db')}`, '--var', `RUNDIR=${join(dir, 'run')}`, '--var', `LOGDIR=${join(dir, 'log')}`];
  if (process.getuid?.() === 0) args.push('-u', 'root', '-g', 'root');
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${controller}`;

  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`rspamd exited (${child.exitCode}) before it answered:\n${output}`);
    }
    try {
      const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`rspamd did not answer on ${url} within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    url,
    password,
    stop,
    async learns() {
      const h = await redisHash(redisDb, 'RS');
      return { spam: Number(h.learns_spam ?? 0), ham: Number(h.learns_ham ?? 0) };
    },
  };
}

/** INCR on database 0: a counter shared by every test process. */
const redisIncr = (key: string) =>
  redisAsk(`INCR ${key}\r\n`, (buf) => {
    const m = /^([:-])(.*)\r\n/.exec(buf);
    return m && (m[1] === ':' ? Number(m[2]) : new Error(m[2]));
  });

/** HGETALL of `key` in database `db`. */
const redisHash = (db: number, key: string) =>
  redisAsk<Record<string, string>>(`SELECT ${db}\r\nHGETALL ${key}\r\n`, (buf) => {
    const lines = buf.split('\r\n');
    if (!lines[0]?.startsWith('+OK')) return lines[0]?.startsWith('-') ? new Error(lines[0]) : null;
    const m = /^\*(-?\d+)$/.exec(lines[1] ?? '');
    if (!m) return null;
    const n = Math.max(0, Number(m[1]));
    if (lines.length < 2 + n * 2 + 1) return null;
    const out: Record<string, string> = {};
    for (let i = 0; i < n; i += 2) out[lines[3 + i * 2]] = lines[5 + i * 2];
    return out;
  });

/**
 * Sends `commands` to Redis on 127.0.0.1:6379 over its inline protocol (no client package for two
 * reads) and answers what `parse` makes of the reply so far: null while it is incomplete.
 */
function redisAsk<T>(commands: string, parse: (reply: string) => T | Error | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port: 6379 });
    let buf = '';
    const done = (err: Error | null, v?: T) => {
      sock.destroy();
      err ? reject(err) : resolve(v!);
    };
    sock.setTimeout(5000, () => done(new Error('Redis on 127.0.0.1:6379 did not answer')));
    sock.on('error', (e) => done(new Error(`Redis on 127.0.0.1:6379 (rspamd's Bayes store): ${e.message}`)));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const v = parse(buf);
      if (v instanceof Error) done(v);
      else if (v !== null) done(null, v);
    });
    sock.write(commands);
  });
}
