// For tests where our node sends mail out (replies, forwards, SRS): a loopback DNS server, a
// "remote" domain `remote.test` whose MX (mx.remote.test) is a smtp-server sink on its own
// loopback address, and a test node that resolves through that DNS and delivers to that MX port.
import { expect } from 'vitest';
import type { Clock } from '../core/clock.ts';
import { type TestDns, startTestDns } from './dns-server.ts';
import { type TestMx, freePort, startMx } from './remote-mx.ts';
import { type TestServer, startTestServer } from './server.ts';

export const REMOTE_DOMAIN = 'remote.test';

export interface RemoteWorld {
  server: TestServer;
  dns: TestDns;
  /** The remote MX: what our node delivered is in `mx.messages`. */
  mx: TestMx;
  stop(): Promise<void>;
}

/** `remoteIp`: a loopback address of its own (127.0.0.x) for the remote MX, so files may run side by side. */
export async function startRemoteWorld(opts: { remoteIp: string; clock?: Clock; env?: Record<string, string> }): Promise<RemoteWorld> {
  const dns = await startTestDns();
  const mxPort = await freePort();
  const mx = await startMx(opts.remoteIp, mxPort);
  dns.mx(REMOTE_DOMAIN, `mx.${REMOTE_DOMAIN}`, 10);
  dns.a(`mx.${REMOTE_DOMAIN}`, opts.remoteIp);
  const server = await startTestServer({
    clock: opts.clock,
    env: { MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_MX_PORT: String(mxPort), MAILSTACK_HOSTNAME: 'mx.mailstack.test', ...opts.env },
  });
  return {
    server,
    dns,
    mx,
    async stop() {
      await server.stop();
      await mx.close();
      await dns.close();
    },
  };
}

/** The data of an SDK answer, after asserting it has no error. */
export const ok = <T>(r: { data: T | null; error: unknown }): T => {
  expect(r.error).toBeNull();
  return r.data as T;
};

