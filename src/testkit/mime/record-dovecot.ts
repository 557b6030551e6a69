// Records Dovecot's answers for the corpus into dovecot.json, the known-good outputs the tests
// compare against (Dovecot is not needed at test time). Run on a machine with dovecot installed:
//   npx tsx src/testkit/mime/record-dovecot.ts
// It starts a throw-away Dovecot on a loopback port (passwd-file user, Maildir in a temp folder),
// APPENDs every message with Python's imaplib, FETCHes ENVELOPE, BODY, BODYSTRUCTURE, every
// section of every part, BINARY and BINARY.SIZE, and stops Dovecot.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordedItems } from './items.ts';
import { parseFetch, type Value } from './imap-value.ts';
import { digestOf, MAX_INLINE } from './fixture.ts';

const here = dirname(fileURLToPath(import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const PY = String.raw`
import imaplib, json, sys, base64, re
imaplib._MAXLINE = 100_000_000
port, jobs_path = int(sys.argv[1]), sys.argv[2]
jobs = json.load(open(jobs_path))
imap = imaplib.IMAP4('127.0.0.1', port)
imap.login('test', 'pw')
imap.select('INBOX')
out = {}
for job in jobs:
    raw = base64.b64decode(job['raw'])
    typ, data = imap.append('INBOX', None, None, raw)
    if typ != 'OK':
        out[job['name']] = {'append': (data[0] or b'').decode('latin1')}
        continue
typ, data = imap.select('INBOX')
seq = 0
for job in jobs:
    if job['name'] in out:
        continue
    seq += 1
    res = {}
    for item in job['items']:
        imap.untagged_responses.pop('FETCH', None)  # a failed FETCH leaves its responses behind
        typ, data = imap.fetch(str(seq), '(' + item + ')')
        if typ != 'OK':
            res[item] = {'no': (data[0] or b'').decode('latin1')}
            continue
        # rebuild the raw response: a literal's bytes follow its "{n}" line after CRLF
        buf = b''
        for d in data:
            if isinstance(d, tuple):
                buf += d[0] + b'\r\n' + d[1]
            elif d is not None:
                buf += d
        res[item] = {'raw': base64.b64encode(buf).decode()}
    out[job['name']] = res
imap.logout()
json.dump(out, sys.stdout)
`;

type Answer = { raw?: string; no?: string };
type Raw = Record<string, Record<string, unknown>>;

/** Keeps each answer as a parsed value; big ones as a digest, so the fixture file stays small. */
function compact(messages: Raw): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, items] of Object.entries(messages)) {
    if (items.append !== undefined) {
      out[name] = { append: items.append };
      continue;
    }
    const res: Record<string, unknown> = {};
    for (const [item, a] of Object.entries(items)) {
      const answer = a as Answer;
      if (answer.no !== undefined) {
        res[item] = { no: answer.no.replace(/ \(\d.*secs\)\.$/, '') };
        continue;
      }
      const fetched = parseFetch(Buffer.from(answer.raw!, 'base64'));
      fetched.delete('UID');
      const [[, value]] = [...fetched.entries()] as [string, Value][];
      const json = JSON.stringify(value);
      res[item] = json.length > MAX_INLINE ? { digest: digestOf(value) } : { value };
    }
    out[name] = res;
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dovecot-fixtures-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  for (const d of ['run', 'mail', 'home']) mkdirSync(join(dir, d));
  chownSync(join(dir, 'mail'), 65534, 65534);
  chownSync(join(dir, 'home'), 65534, 65534);
  writeFileSync(join(dir, 'passwd'), 'test:{PLAIN}pw::::::\n');
  writeFileSync(
    join(dir, 'dovecot.conf'),
    `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 0
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${dir}/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
protocol imap {
  imap_max_line_length = 10M
}
`,
  );
  const dovecot = spawn('/usr/sbin/dovecot', ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: 'inherit' });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const jobs = recordedItems().map((it) => ({ name: it.name, raw: it.raw.toString('base64'), items: it.items }));
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    writeFileSync(join(dir, 'fetch.py'), PY);
    const out = execFileSync('python3', [join(dir, 'fetch.py'), String(port), join(dir, 'jobs.json')], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] });
    const version = execFileSync('/usr/sbin/dovecot', ['--version']).toString().trim();
    const messages = JSON.parse(out.toString());
    writeFileSync(process.env.DOVECOT_RAW_OUT ?? join(dir, 'raw.json'), JSON.stringify(messages));
    const recorded = { dovecot: version, messages: compact(messages) };
    writeFileSync(join(here, 'dovecot.json'), JSON.stringify(recorded, null, 1) + '\n');
    console.log(`recorded ${Object.keys(recorded.messages).length} messages from Dovecot ${version}`);
  } finally {
    dovecot.kill('SIGTERM');
    await new Promise((r) => dovecot.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
