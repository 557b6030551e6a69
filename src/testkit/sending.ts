// For the send API's tests: a node with a loopback DNS server, no job worker (nothing is delivered:
// the tests look at what was stored and queued), and helpers to verify sending domains.
import type { Resend } from 'resend';
import type { Clock } from '../core/clock.ts';
import { checkDomain } from '../domains/verify.ts';
import { type TestDns, startTestDns } from './dns-server.ts';
import { type TestServer, startTestServer } from './server.ts';
import { blobStore } from '../outbound/accept.ts';

export interface SendingWorld {
  server: TestServer;
  dns: TestDns;
  workspaceId: string;
  apiKey: string;
  resend: Resend;
  /** Creates the domain in the workspace of `client`, publishes its records and checks them. */
  verifyDomain(name: string, client?: Resend): Promise<string>;
  /** The stored (signed) message of an email. */
  rawOf(emailId: string): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startSendingWorld(opts: { env?: Record<string, string>; clock?: Clock } = {}): Promise<SendingWorld> {
  const dns = await startTestDns();
  const server = await startTestServer({
    clock: opts.clock,
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
      MAILSTACK_WORKER_CONCURRENCY: '0',
      MAILSTACK_API_RATE_LIMIT: '0',
      ...opts.env,
    },
  });
  const ws = await server.setup('owner@sender.test', 'Sender');
  const resend = server.resend(ws.apiKey);
  const core = server.platform.core;
  return {
    server,
    dns,
    workspaceId: ws.workspaceId,
    apiKey: ws.apiKey,
    resend,
    async verifyDomain(name, client = resend) {
      const { data, error } = await client.domains.create({ name });
      if (error) throw new Error(`domain create failed: ${JSON.stringify(error)}`);
      for (const r of data!.records as any[]) {
        const fqdn = r.name === '@' ? name : `${r.name}.${name}`;
        if (r.type === 'TXT') dns.txt(fqdn, r.value);
        else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
      }
      const status = await checkDomain(core, data!.id);
      if (status !== 'verified') throw new Error(`domain ${name} did not verify: ${status}`);
      return data!.id;
    },
    async rawOf(emailId) {
      const row = await core.db.selectFrom('emails').select('raw_blob').where('id', '=', emailId).executeTakeFirstOrThrow();
      return blobStore(core).get(row.raw_blob!);
    },
    async stop() {
      await server.stop();
      await dns.close();
    },
  };
}
