// Campaign throughput at scale (issue 11): a CSV import of BENCH_CONTACTS contacts through the SDK
// into a segment (rows per second, peak RSS), a walk of that segment the way a broadcast's fan-out
// reads it, then a broadcast to the whole segment with the rate limit off: the time until every
// recipient is queued, and the send throughput until every message reached a loopback SMTP sink,
// beside Postfix relaying BENCH_POSTFIX_MESSAGES messages to the same sink.
//
//   npx tsx bench/campaigns.ts     (BENCH_CONTACTS=1000000 by default;
//                                   MAILSTACK_TEST_STORE=postgres MAILSTACK_TEST_DATABASE_URL=postgres://… for PostgreSQL)
//
// BENCH_SKIP_BROADCAST=1 stops after the import and the segment walk (a million-message broadcast
// takes hours on a small machine; see the README for the figures measured).
//
// The CSV is written to a file and uploaded as a file-backed Blob, so the benchmark itself holds
// no copy of it: the peak RSS is the node's (node and benchmark share one process).
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { startSendingWorld } from '../src/testkit/sending.ts';
import { POSTFIX_PORT, withPostfix } from './peers.ts';

const N = Number(process.env.BENCH_CONTACTS ?? 1_000_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SKIP_BROADCAST = process.env.BENCH_SKIP_BROADCAST === '1';
const POSTFIX_N = Number(process.env.BENCH_POSTFIX_MESSAGES ?? Math.min(N, 20_000));
const HTML = '<p>Hi {{{FIRST_NAME|there}}},</p><p>' + 'This is the newsletter of the week. '.repeat(20) + '</p><a href="{{{RESEND_UNSUBSCRIBE_URL}}}">Unsubscribe</a>';

async function startSink() {
  let count = 0;
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false, maxClients: 1000,
    onData(stream, _s, cb) {
      stream.on('data', () => {});
      stream.on('end', () => (count++, cb()));
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.server.address() as net.AddressInfo).port, get count() { return count; }, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 4 * 3_600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function writeCsv(file: string) {
  const out = createWriteStream(file);
  out.write('email,first_name\n');
  let chunk = '';
  for (let i = 0; i < N; i++) {
    chunk += `user${i}@example.net,User ${i}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Postfix relaying POSTFIX_N messages of the broadcast's size to the sink, as a peer figure. */
async function postfixRate(sink: Awaited<ReturnType<typeof startSink>>): Promise<number | string> {
  const relay = ['mydestination=', `relayhost=[127.0.0.1]:${sink.port}`, `default_destination_concurrency_limit=${CONCURRENCY}`];
  return withPostfix(relay, async () => {
    const base = sink.count;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: POSTFIX_PORT, pool: true, maxConnections: CONCURRENCY, maxMessages: Infinity });
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < POSTFIX_N) {
        const i = next++;
        await transport.sendMail({ from: 'news@bench.test', to: `user${i}@example.net`, subject: `Hello User ${i}`, html: HTML.replace('{{{FIRST_NAME|there}}}', `User ${i}`) });
      }
    }));
    transport.close();
    await until('Postfix delivered to the sink', () => sink.count >= base + POSTFIX_N, 3_600_000);
    return POSTFIX_N / ((performance.now() - t0) / 1000);
  });
}

async function main() {
  const sink = await startSink();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-campaigns-'));
  const world = await startSendingWorld({
    env: {
      MAILSTACK_SMARTHOST: `smtp://127.0.0.1:${sink.port}`, MAILSTACK_WORKER_CONCURRENCY: String(CONCURRENCY), MAILSTACK_WORKER_POLL: '20ms',
      MAILSTACK_BROADCAST_RATE: '0', MAILSTACK_WARMUP_START: '0', MAILSTACK_LOG_LEVEL: 'silent', MAILSTACK_IMPORT_MAX_BYTES: String(1024 ** 3),
    },
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const store = world.server.platform.core.settings.store;
  try {
    await world.verifyDomain('bench.test');
    const { resend } = world;
    const core = world.server.platform.core;
    const seg = (await resend.segments.create({ name: 'Bench' })).data!;
    const file = path.join(tmp, 'contacts.csv');
    await writeCsv(file);

    const t0 = performance.now();
    peak = 0;
    const imp = await resend.contacts.imports.create({ file: await openAsBlob(file, { type: 'text/csv' }), segments: [{ id: seg.id }] });
    if (imp.error) throw new Error(JSON.stringify(imp.error));
    await until('import', async () => {
      const d = (await resend.contacts.imports.get(imp.data!.id)).data;
      if (d?.status === 'failed') throw new Error(`import failed: ${JSON.stringify(d)}`);
      return d?.status === 'completed';
    });
    const importS = (performance.now() - t0) / 1000;
    const importPeak = peak;

    // The segment as the fan-out reads it: keyset pages of 500 in id order.
    const t1 = performance.now();
    let walked = 0;
    let cursor = '';
    for (;;) {
      const rows = await core.db.selectFrom('contacts').innerJoin('contact_segments', 'contact_segments.contact_id', 'contacts.id').select('contacts.id')
        .where('contact_segments.segment_id', '=', seg.id).where('contacts.workspace_id', '=', world.workspaceId).where('contacts.id', '>', cursor).orderBy('contacts.id').limit(500).execute();
      walked += rows.length;
      if (rows.length < 500) break;
      cursor = rows.at(-1)!.id;
    }
    const walkS = (performance.now() - t1) / 1000;
    if (walked !== N) throw new Error(`the segment holds ${walked} contacts, not ${N}`);

    const load0 = os.loadavg().map((l) => l.toFixed(1)).join(' ');
    if (SKIP_BROADCAST) {
      console.log(`campaigns benchmark (${store}), ${N} contacts, ${os.cpus().length} cores, load average ${load0}`);
      console.log(`import       ${(N / importS).toFixed(0).padStart(7)} rows/s   ${importS.toFixed(1)} s   peak RSS ${(importPeak / 1024 / 1024).toFixed(0)} MB`);
      console.log(`segment walk ${(N / walkS).toFixed(0).padStart(7)} rows/s   ${walkS.toFixed(1)} s   (keyset pages of 500, as the fan-out reads)`);
      return;
    }
    peak = 0;
    const t2 = performance.now();
    const b = await resend.broadcasts.create({ segmentId: seg.id, from: 'Bench <news@bench.test>', subject: 'Hello {{{FIRST_NAME}}}', html: HTML, send: true });
    if (b.error) throw new Error(JSON.stringify(b.error));
    await until('queued', async () => (await resend.broadcasts.get(b.data!.id)).data?.status === 'sent');
    const queuedS = (performance.now() - t2) / 1000;
    await until('delivered to the sink', () => sink.count >= N);
    const sentS = (performance.now() - t2) / 1000;
    const sendPeak = peak;
    clearInterval(sampler);
    await world.stop();

    const postfix = await postfixRate(sink).catch((err: Error) => `Postfix run failed: ${err.message.split('\n')[0]}`);
    const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
    console.log(`campaigns benchmark (${store}), ${N} contacts, ${os.cpus().length} cores, load average ${load}`);
    console.log(`import       ${(N / importS).toFixed(0).padStart(7)} rows/s   ${importS.toFixed(1)} s   peak RSS ${(importPeak / 1024 / 1024).toFixed(0)} MB`);
    console.log(`segment walk ${(N / walkS).toFixed(0).padStart(7)} rows/s   ${walkS.toFixed(1)} s   (keyset pages of 500, as the fan-out reads)`);
    console.log(`broadcast    ${queuedS.toFixed(1)} s until every recipient was queued (${(N / queuedS).toFixed(0)}/s)`);
    console.log(`send         ${(N / sentS).toFixed(0).padStart(7)} msgs/s   ${sentS.toFixed(1)} s until the sink had all   peak RSS ${(sendPeak / 1024 / 1024).toFixed(0)} MB`);
    if (typeof postfix === 'number') console.log(`Postfix      ${postfix.toFixed(0).padStart(7)} msgs/s   relaying ${POSTFIX_N} messages of the same size to the sink (send ratio ${((N / sentS) / postfix).toFixed(2)}× Postfix)`);
    else console.log(`Postfix skipped: ${postfix}`);
  } finally {
    clearInterval(sampler);
    await world.stop().catch(() => {});
    await sink.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => (console.error(err), process.exit(1)));
