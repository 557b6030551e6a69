// Outbound throughput: messages submitted to Mailstack (through the HTTP API and through the SMTP
// relay) until all have reached a loopback SMTP sink, beside Postfix relaying the same messages to
// the same sink on this machine. Prints msgs/s and the ratio to Postfix.
//
//   npm run bench                      (BENCH_MESSAGES=2000 BENCH_CONCURRENCY=16 by default)
//
// Postfix is optional: `apt-get install postfix` (choose "No configuration"); the bench runs it on
// 127.0.0.1:10025 with a relayhost pointing at the sink, and stops it afterwards (bench/peers.ts).
import net from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { startSendingWorld } from '../src/testkit/sending.ts';
import { freePort } from '../src/testkit/server.ts';
import { POSTFIX_PORT, withPostfix } from './peers.ts';

const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const BODY = 'Hello from the benchmark.\n'.repeat(40); // ~1 KB, a typical transactional text part

interface Sink {
  port: number;
  count: number;
  waitFor(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const state = { count: 0, waiters: [] as { n: number; resolve: () => void }[] };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        state.count++;
        for (const w of state.waiters.filter((w) => state.count >= w.n)) w.resolve();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    port,
    get count() {
      return state.count;
    },
    waitFor(n, timeoutMs) {
      if (state.count >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`sink got ${state.count} of ${n} messages in ${timeoutMs} ms`)), timeoutMs);
        state.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function sendSmtp(port: number, auth: { user: string; pass: string } | null, secure: boolean): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure,
    pool: true,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
    auth: auth ?? undefined,
    tls: { rejectUnauthorized: false },
  });
  await pool([...Array(N).keys()], CONCURRENCY, async (i) => {
    await transport.sendMail({ from: 'bench@bench.test', to: `user${i}@example.net`, subject: `bench ${i}`, text: BODY });
  });
  transport.close();
}

interface Result {
  name: string;
  seconds: number;
  rate: number;
}

async function timed(name: string, sink: Sink, run: () => Promise<void>): Promise<Result> {
  const base = sink.count;
  const t0 = performance.now();
  await run();
  await sink.waitFor(base + N, 600_000);
  const seconds = (performance.now() - t0) / 1000;
  return { name, seconds, rate: N / seconds };
}

async function benchMailstack(sink: Sink): Promise<Result[]> {
  const submissionPort = await freePort();
  const world = await startSendingWorld({
    env: {
      MAILSTACK_SMARTHOST: `smtp://127.0.0.1:${sink.port}`,
      MAILSTACK_WORKER_CONCURRENCY: String(CONCURRENCY),
      MAILSTACK_WORKER_POLL: '20ms',
      // The warm-up limit of a new workspace would stop the benchmark's thousands of messages.
      MAILSTACK_WARMUP_START: '0',
      MAILSTACK_SUBMISSION_PORT: String(submissionPort),
      MAILSTACK_LOG_LEVEL: 'silent',
    },
  });
  try {
    await world.verifyDomain('bench.test');
    const api = await timed('Mailstack, HTTP API → sink', sink, () =>
      pool([...Array(N).keys()], CONCURRENCY, async (i) => {
        const { error } = await world.resend.emails.send({ from: 'Bench <bench@bench.test>', to: `user${i}@example.net`, subject: `bench ${i}`, text: BODY });
        if (error) throw new Error(`send failed: ${JSON.stringify(error)}`);
      }),
    );
    const relay = await timed('Mailstack, SMTP relay → sink', sink, () => sendSmtp(submissionPort, { user: 'resend', pass: world.apiKey }, false));
    return [api, relay];
  } finally {
    await world.stop();
  }
}

async function benchPostfix(sink: Sink): Promise<Result | string> {
  const relay = ['mydestination=', `relayhost=[127.0.0.1]:${sink.port}`, `default_destination_concurrency_limit=${CONCURRENCY}`];
  return withPostfix(relay, () => timed('Postfix, SMTP → sink', sink, () => sendSmtp(POSTFIX_PORT, null, false)));
}

async function main() {
  const sink = await startSink();
  console.log(`outbound benchmark: ${N} messages of ~1 KB, ${CONCURRENCY} client connections, to a loopback SMTP sink`);
  const ours = await benchMailstack(sink);
  const postfix = await benchPostfix(sink).catch((err: Error) => `Postfix run failed: ${err.message.split('\n')[0]}`);
  await sink.close();
  const rows = [...ours, ...(typeof postfix === 'string' ? [] : [postfix])];
  for (const r of rows) {
    const ratio = typeof postfix === 'string' ? '' : `  (${(r.rate / postfix.rate).toFixed(2)}× Postfix)`;
    console.log(`${r.name.padEnd(32)} ${r.rate.toFixed(0).padStart(6)} msgs/s  ${r.seconds.toFixed(1)} s${ratio}`);
  }
  if (typeof postfix === 'string') console.log(`Postfix skipped: ${postfix}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
