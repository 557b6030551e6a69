// Outbound MTA throughput: accept N messages (composed, DKIM-signed, stored, queued — the path the
// send API and the SMTP relay share) and time until the last one is accepted (250) by a loopback
// SMTP sink reached through the MX look-up. Run: npx tsx bench/outbound.ts [count]
// Not part of `npm test`. A side-by-side figure for Postfix (smtp-source → postfix → smtp-sink)
// belongs beside this one once postfix is installed on the machine.
import { startTestDns } from '../src/domains/test-dns.ts';
import { freePort, send, startMx, verifiedDomain } from '../src/outbound/delivery/testkit.ts';
import { startTestServer } from '../src/testkit/server.ts';

const count = Number(process.argv[2] ?? 500);

async function main() {
  const dns = await startTestDns();
  const port = await freePort();
  const sink = await startMx('127.0.0.30', port);
  dns.mx('sink.example.net', 'mx.sink.example.net', 10);
  dns.a('mx.sink.example.net', '127.0.0.30');
  const server = await startTestServer({
    env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(port), MAILSTACK_WORKER_CONCURRENCY: '16', MAILSTACK_WORKER_POLL: '20ms' },
  });
  const core = server.platform.core;
  const { workspaceId } = await server.setup('bench@example.com', 'Bench');
  const domain = await verifiedDomain(core, dns, workspaceId, 'bench.example.com');

  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await send(core, workspaceId, domain, [`user${i}@sink.example.net`], `bench ${i}`);
  const accepted = process.hrtime.bigint();
  const deadline = Date.now() + 10 * 60_000;
  while (sink.messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const done = process.hrtime.bigint();

  const secs = (a: bigint, b: bigint) => Number(b - a) / 1e9;
  const result = {
    store: core.settings.store,
    messages: count,
    delivered: sink.messages.length,
    accept_per_s: +(count / secs(started, accepted)).toFixed(1),
    end_to_end_per_s: +(sink.messages.length / secs(started, done)).toFixed(1),
    connections: sink.connections,
  };
  console.log(JSON.stringify(result));
  await server.stop();
  await sink.close();
  await dns.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
