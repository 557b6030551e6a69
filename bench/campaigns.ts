// Campaign throughput: a CSV import of BENCH_CONTACTS contacts through the SDK (rows per second,
// peak RSS of the node's process), then a broadcast to all of them with the rate limit off: the
// time until every recipient is queued, and until every message reached a loopback SMTP sink.
//
//   npx tsx bench/campaigns.ts        (BENCH_CONTACTS=2000 by default; MAILSTACK_TEST_DATABASE_URL for PostgreSQL)
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { startSendingWorld } from '../src/testkit/sending.ts';

const N = Number(process.env.BENCH_CONTACTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function startSink() {
  let count = 0;
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, _s, cb) {
      stream.on('data', () => {});
      stream.on('end', () => (count++, cb()));
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.server.address() as net.AddressInfo).port, get count() { return count; }, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 3_600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  const sink = await startSink();
  const world = await startSendingWorld({
    env: { MAILSTACK_SMARTHOST: `smtp://127.0.0.1:${sink.port}`, MAILSTACK_WORKER_CONCURRENCY: String(CONCURRENCY), MAILSTACK_WORKER_POLL: '20ms', MAILSTACK_BROADCAST_RATE: '0', MAILSTACK_LOG_LEVEL: 'silent' },
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  try {
    await world.verifyDomain('bench.test');
    const { resend } = world;
    const seg = (await resend.segments.create({ name: 'Bench' })).data!;
    const rows = ['email,first_name'];
    for (let i = 0; i < N; i++) rows.push(`user${i}@example.net,User ${i}`);
    const t0 = performance.now();
    const imp = await resend.contacts.imports.create({ file: new Blob([rows.join('\n')]), segments: [{ id: seg.id }] });
    if (imp.error) throw new Error(JSON.stringify(imp.error));
    await until('import', async () => (await resend.contacts.imports.get(imp.data!.id)).data?.status === 'completed');
    const importS = (performance.now() - t0) / 1000;
    const db = world.server.platform.core.db;
    const t1 = performance.now();
    const b = await resend.broadcasts.create({ segmentId: seg.id, from: 'Bench <news@bench.test>', subject: 'Hello {{{FIRST_NAME}}}', html: '<p>Hi {{{FIRST_NAME|there}}}</p>', send: true });
    if (b.error) throw new Error(JSON.stringify(b.error));
    await until('queued', async () => Number((await db.selectFrom('broadcast_recipients').select((eb) => eb.fn.countAll().as('n')).where('broadcast_id', '=', b.data!.id).executeTakeFirst())?.n ?? 0) >= N);
    const queuedS = (performance.now() - t1) / 1000;
    await until('delivered to the sink', () => sink.count >= N);
    const sentS = (performance.now() - t1) / 1000;
    console.log(`campaigns benchmark (${world.server.platform.core.settings.store}), ${N} contacts`);
    console.log(`import       ${(N / importS).toFixed(0).padStart(7)} rows/s   ${importS.toFixed(1)} s`);
    console.log(`broadcast    ${queuedS.toFixed(1)} s until every recipient was queued (${(N / queuedS).toFixed(0)}/s)`);
    console.log(`delivery     ${(N / sentS).toFixed(0).padStart(7)} msgs/s   ${sentS.toFixed(1)} s until the sink had all`);
    console.log(`peak RSS     ${(peak / 1024 / 1024).toFixed(0)} MB (node and benchmark in one process)`);
  } finally {
    clearInterval(sampler);
    await world.stop();
    await sink.close();
  }
}

main().then(() => process.exit(0), (err) => (console.error(err), process.exit(1)));
