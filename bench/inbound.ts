// Durable inbound ingest: messages sent over several concurrent SMTP connections to Mailstack's MX
// until every one is answered 250 (which Mailstack gives only once the message is fsynced and its
// rows committed into the mailbox), beside Postfix taking the same load and delivering it into a
// Maildir on this machine (timed until the last file is in the Maildir). Small (~1 KB) and
// 100 KB messages. Prints msgs/s and the ratio to Postfix.
//
//   npx tsx bench/inbound.ts          (BENCH_MESSAGES=1000 BENCH_CONCURRENCY=8 by default)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { startTestDns } from '../src/testkit/dns-server.ts';
import { createTestMailbox } from '../src/testkit/mailbox.ts';
import { freePort, startTestServer } from '../src/testkit/server.ts';
import { POSTFIX_PORT, maildirCount, postfixMaildir, withPostfix } from './peers.ts';

const N = Number(process.env.BENCH_MESSAGES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SIZES = [
  { name: '1 KB', body: 'Hello from the inbound benchmark.\n'.repeat(30) },
  { name: '100 KB', body: 'x'.repeat(76).concat('\n').repeat(1300) },
];

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Sends N messages to `to` over CONCURRENCY pooled connections; resolves when all got 250. */
async function blast(port: number, to: string, body: string, tag: string): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
  });
  await pool([...Array(N).keys()], CONCURRENCY, async (i) => {
    await transport.sendMail({ from: 'sender@remote.example', to, subject: `${tag} ${i}`, text: body, messageId: `<${tag}.${i}@remote.example>` });
  });
  transport.close();
}

interface Row {
  name: string;
  rate: number;
  seconds: number;
}

async function ours(): Promise<Row[]> {
  const dns = await startTestDns();
  const mxPort = await freePort();
  const server = await startTestServer({
    env: { MAILSTACK_SMTP_PORT: String(mxPort), MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_MAX_CONNECTIONS_PER_IP: '1000' },
  });
  try {
    const { mailbox } = await createTestMailbox(server.platform.core, { address: 'bench@inbound.test' });
    const rows: Row[] = [];
    for (const size of SIZES) {
      const t0 = performance.now();
      await blast(mxPort, mailbox.address, size.body, `ours-${size.name.replace(' ', '')}`);
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ name: `Mailstack MX → mailbox, ${size.name}`, seconds, rate: N / seconds });
    }
    return rows;
  } finally {
    await server.stop();
    await dns.close();
  }
}

async function postfix(): Promise<Row[] | string> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'bench-postfix-'));
  const dir = path.join(base, 'bench');
  try {
    return await withPostfix(postfixMaildir('inbound.test', dir), async () => {
      const rows: Row[] = [];
      for (const size of SIZES) {
        const before = maildirCount(dir);
        const t0 = performance.now();
        await blast(POSTFIX_PORT, 'bench@inbound.test', size.body, `postfix-${size.name.replace(' ', '')}`);
        const deadline = Date.now() + 600_000;
        while (maildirCount(dir) < before + N) {
          if (Date.now() > deadline) throw new Error(`Postfix delivered ${maildirCount(dir) - before} of ${N}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        const seconds = (performance.now() - t0) / 1000;
        rows.push({ name: `Postfix → Maildir, ${size.name}`, seconds, rate: N / seconds });
      }
      return rows;
    });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`inbound benchmark: ${N} messages per size, ${CONCURRENCY} concurrent SMTP connections`);
  const a = await ours();
  const b = await postfix().catch((err: Error) => `Postfix run failed: ${err.message.split('\n')[0]}`);
  for (const [i, r] of a.entries()) {
    const peer = typeof b === 'string' ? null : b[i];
    const ratio = peer ? `  (${(r.rate / peer.rate).toFixed(2)}× Postfix)` : '';
    console.log(`${r.name.padEnd(36)} ${r.rate.toFixed(0).padStart(6)} msgs/s  ${r.seconds.toFixed(1)} s${ratio}`);
  }
  if (typeof b === 'string') console.log(`Postfix skipped: ${b}`);
  else for (const r of b) console.log(`${r.name.padEnd(36)} ${r.rate.toFixed(0).padStart(6)} msgs/s  ${r.seconds.toFixed(1)} s`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
