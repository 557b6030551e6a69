// For the submission tests: a node with its submission doors open on free loopback ports, a real
// DNS server (dns2) on loopback holding the records of the domains the test verifies, and the
// workspace's key. Delivery is off (MAILSTACK_WORKER_CONCURRENCY=0): queued jobs just wait.
import { type Socket, connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { expect } from 'vitest';
import type { Clock } from '../core/clock.ts';
import { checkDomain } from '../domains/verify.ts';
import { type TestDns, startTestDns } from './dns-server.ts';
import { type TestServer, freePort, startTestServer } from './server.ts';

export { freePort } from './server.ts';

export interface RelayNode {
  server: TestServer;
  dns: TestDns;
  workspaceId: string;
  apiKey: string;
  submissionPort: number;
  submissionsPort: number;
  /** Adds a domain through the API, publishes its records and verifies it; returns its id. */
  verifiedDomain(name: string, apiKey?: string): Promise<string>;
  stop(): Promise<void>;
}

type Rec = { name: string; type: string; value: string; priority?: number };

export async function startRelayNode(env: Record<string, string> = {}, clock?: Clock): Promise<RelayNode> {
  const dns = await startTestDns();
  const submissionPort = await freePort();
  const submissionsPort = await freePort();
  const server = await startTestServer({
    clock,
    env: {
      MAILSTACK_DNS_SERVERS: dns.address,
      MAILSTACK_HOSTNAME: 'mx.mailstack.test',
      MAILSTACK_WORKER_CONCURRENCY: '0',
      MAILSTACK_SUBMISSION_PORT: String(submissionPort),
      MAILSTACK_SUBMISSIONS_PORT: String(submissionsPort),
      // The MX door is not under test here, and port 25 is one per machine.
      MAILSTACK_SMTP_PORT: '0',
      ...env,
    },
  });
  const ws = await server.setup('owner@example.com', 'Acme');
  const verifiedDomain = async (name: string, apiKey = ws.apiKey) => {
    const { data, error } = await server.resend(apiKey).domains.create({ name });
    expect(error).toBeNull();
    for (const r of data!.records as Rec[]) {
      const fqdn = r.name === '@' ? name : `${r.name}.${name}`;
      if (r.type === 'TXT') dns.txt(fqdn, r.value);
      else if (r.type === 'MX') dns.mx(fqdn, r.value, r.priority);
    }
    // The worker is off, so the check the API would queue is run here, through the same code.
    expect(await checkDomain(server.platform.core, data!.id)).toBeTruthy();
    const row = await server.platform.core.db.selectFrom('domains').select('status').where('id', '=', data!.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('verified');
    return data!.id;
  };
  return {
    server,
    dns,
    workspaceId: ws.workspaceId,
    apiKey: ws.apiKey,
    submissionPort,
    submissionsPort,
    verifiedDomain,
    async stop() {
      await server.stop();
      await dns.close();
    },
  };
}

// ---- A small line-level SMTP client, for what libraries will not send ----------------------------


export interface SmtpReply {
  code: number;
  lines: string[];
  text: string;
}

export interface RawSmtp {
  /** The greeting. */
  greeting: SmtpReply;
  /** Sends one line (CRLF added) and reads the reply. */
  cmd(line: string): Promise<SmtpReply>;
  /** Sends raw bytes and reads one reply (for DATA content ending in CRLF.CRLF). */
  send(data: Buffer | string): Promise<SmtpReply>;
  /** Upgrades with STARTTLS (after a 220 to STARTTLS). */
  starttls(): Promise<void>;
  /** AUTH PLAIN with the key as the password. */
  auth(key: string, user?: string): Promise<SmtpReply>;
  close(): void;
}

/** Opens a session: `implicit` TLS from the first byte, or plain (upgrade with starttls()). */
export async function rawSmtp(port: number, mode: 'plain' | 'implicit'): Promise<RawSmtp> {
  let socket: Socket = mode === 'implicit' ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : netConnect({ port, host: '127.0.0.1' });
  let buffer = '';
  let waiter: (() => void) | null = null;
  const attach = (s: Socket) => {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buffer += d;
      waiter?.();
    });
    s.on('error', () => waiter?.());
    s.on('close', () => waiter?.());
  };
  attach(socket);
  const read = async (): Promise<SmtpReply> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lines = buffer.split('\r\n');
      const end = lines.findIndex((l) => /^\d{3} /.test(l));
      if (end !== -1) {
        const reply = lines.slice(0, end + 1);
        buffer = lines.slice(end + 1).join('\r\n');
        return { code: Number(reply[end].slice(0, 3)), lines: reply.map((l) => l.slice(4)), text: reply.join('\n') };
      }
      if (socket.destroyed) return { code: 0, lines: [], text: '(connection closed)' };
      if (Date.now() > deadline) throw new Error(`no SMTP reply; got so far: ${JSON.stringify(buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        waiter = () => {
          clearTimeout(t);
          waiter = null;
          resolve();
        };
      });
    }
  };
  const greeting = await read();
  const client: RawSmtp = {
    greeting,
    async cmd(line) {
      socket.write(line + '\r\n');
      return read();
    },
    async send(data) {
      socket.write(data);
      return read();
    },
    async starttls() {
      socket.removeAllListeners('data');
      const upgraded = tlsConnect({ socket, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        upgraded.once('secureConnect', () => resolve());
        upgraded.once('error', reject);
      });
      socket = upgraded;
      buffer = '';
      attach(upgraded);
    },
    async auth(key, user = 'resend') {
      return client.cmd(`AUTH PLAIN ${Buffer.from(`\0${user}\0${key}`).toString('base64')}`);
    },
    close() {
      socket.destroy();
    },
  };
  return client;
}
