// Memory of the MX under one hostile message: a 21 MB message whose header section is one 20 MB
// line, sent to a `mailstack start` child process, and for comparison a well-formed message of the
// same size (a 20 MB body). Prints the child's resident set (VmRSS) before and after each, and its
// peak (VmHWM), read from /proc. Not a timed test: the figures go into the README.
//
//   npx tsx bench/mx-memory.ts                 (the default header limit, 1 MiB)
//   MX_HEADER_LIMIT=67108864 npx tsx bench/mx-memory.ts   (the limit lifted past the message: as before)
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createTestMailbox } from '../src/testkit/mailbox.ts';
import { NodeProcesses, nodeEnv, openCoreOf } from '../src/testkit/node-process.ts';
import { freePort } from '../src/testkit/server.ts';
import { createTestDatabase } from '../src/testkit/store.ts';

const MB = 1024 * 1024;

function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** One SMTP transaction over a raw socket; resolves with the reply to the end of DATA. */
function send(port: number, to: string, message: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const steps = ['EHLO bench.test\r\n', 'MAIL FROM:<bench@remote.test>\r\n', `RCPT TO:<${to}>\r\n`, 'DATA\r\n'];
    let buf = '';
    let step = 0;
    let sent = false;
    s.on('data', (d) => {
      buf += d.toString();
      const lines = buf.split('\r\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (/^\d{3}-/.test(line)) continue;
        if (sent) {
          s.end('QUIT\r\n');
          return resolve(line);
        }
        if (step < steps.length) {
          if (!/^[23]/.test(line)) return reject(new Error(`refused before DATA: ${line}`));
          s.write(steps[step++]);
        } else {
          sent = true;
          s.write(message);
          s.write('\r\n.\r\n');
        }
      }
    });
    s.on('error', reject);
  });
}

const db = await createTestDatabase();
const smtpPort = await freePort();
const env = nodeEnv(db, { MAILSTACK_SMTP_PORT: String(smtpPort), MAILSTACK_LOG_LEVEL: 'warn', ...(process.env.MX_HEADER_LIMIT ? { MAILSTACK_MX_MAX_HEADER_BYTES: process.env.MX_HEADER_LIMIT } : {}) });
const core = await openCoreOf(env);
const box = await createTestMailbox(core, { address: 'bench@memory.example.com' });
await core.store.close();
const nodes = new NodeProcesses(env);
const node = await nodes.start();
const pid = node.child.pid!;
try {
  const hostile = Buffer.concat([Buffer.from('Subject: '), Buffer.alloc(20 * MB, 'a'), Buffer.from('\r\nFrom: x@remote.test\r\n\r\n'), Buffer.alloc(MB - 40, 'b')]);
  const line = 'b'.repeat(76) + '\r\n';
  const normal = Buffer.concat([Buffer.from('Subject: big\r\nFrom: x@remote.test\r\n\r\n'), Buffer.from(line.repeat(Math.floor((21 * MB) / line.length)))]);
  await new Promise((r) => setTimeout(r, 2000));
  for (const [name, msg] of [
    ['21 MB, one 20 MB header line', hostile],
    ['21 MB, 20 MB body', normal],
  ] as const) {
    const before = memory(pid);
    const reply = await send(smtpPort, box.mailbox.address, msg);
    await new Promise((r) => setTimeout(r, 1500));
    const after = memory(pid);
    console.log(`${name}: reply "${reply.slice(0, 90)}"; RSS ${before.rss.toFixed(0)} MB → ${after.rss.toFixed(0)} MB, peak ${before.hwm.toFixed(0)} → ${after.hwm.toFixed(0)} MB`);
  }
} finally {
  await nodes.stopAll();
  await db.drop();
}
