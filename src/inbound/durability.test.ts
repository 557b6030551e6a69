// Durability of inbound mail: `mailstack start` (a real child process) takes many concurrent SMTP
// sessions delivering distinct messages into a hosted inbox and is killed with SIGKILL in the
// middle of it. After a restart on the same data and database, every message that got its 250 is
// in the inbox, readable, exactly once; nothing is stored twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { blobStore } from '../outbound/accept.ts';
import { until } from '../testkit/remote-mx.ts';
import { RawSmtp } from '../testkit/smtp-client.ts';
import { createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { NodeProcesses, nodeEnv, openCoreOf } from '../testkit/node-process.ts';
import { freePort } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';

const SLOW = 180_000;
const SESSIONS = 8;
const PER_SESSION = 40;
const KILL_AFTER = 60;

let db: TestDatabase;
let dns: TestDns;
let core: Core;
let nodes: NodeProcesses;
let smtpPort: number;
let mailbox: Mailbox;

beforeAll(async () => {
  db = await createTestDatabase();
  dns = await startTestDns();
  smtpPort = await freePort();
  const env = nodeEnv(db, {
    MAILSTACK_SMTP_PORT: String(smtpPort),
    // A loopback DNS server with no records: SPF/DKIM/DMARC look-ups answer NXDOMAIN at once.
    MAILSTACK_DNS_SERVERS: dns.address,
    MAILSTACK_MX_MAX_CONNECTIONS_PER_IP: '100',
    MAILSTACK_LOG_LEVEL: 'warn',
  });
  nodes = new NodeProcesses(env);
  core = await openCoreOf(env);
  mailbox = (await createTestMailbox(core, { domainName: 'durable.example.com', localPart: 'inbox' })).mailbox;
}, SLOW);

afterAll(async () => {
  await nodes?.stopAll();
  await core?.store.close();
  await dns?.close();
  await db?.drop();
}, SLOW);

/** One SMTP session sending its messages one after another; records each Message-ID that got 250. */
async function session(n: number, acked: string[], refused: string[], stop: () => boolean) {
  let client: RawSmtp;
  try {
    ({ client } = await RawSmtp.connect(smtpPort));
    if ((await client.command(`EHLO client${n}.remote.test`)).code !== 250) return;
  } catch {
    return;
  }
  for (let i = 0; i < PER_SESSION && !stop(); i++) {
    const id = `s${n}-m${i}-${Math.random().toString(36).slice(2)}@remote.test`;
    // Every fifth message is ~100 KB, the rest small.
    const text = i % 5 === 0 ? `big ${i}\r\n${'0123456789abcdef'.repeat(64).concat('\r\n').repeat(100)}` : `message ${i} of session ${n}`;
    try {
      if ((await client.command('MAIL FROM:<sender@remote.test>')).code !== 250) break;
      if ((await client.command(`RCPT TO:<${mailbox.address}>`)).code !== 250) break;
      const r = await client.data(rawMessage({ messageId: id, to: mailbox.address, subject: `durable ${n}/${i}`, text }));
      if (r.code === 250) acked.push(id);
      else refused.push(`${r.code} ${r.text}`);
    } catch {
      break; // the server went away mid-transaction: no 250, no promise
    }
  }
  await client.quit().catch(() => {});
}

describe('kill -9 of mailstack start while SMTP sessions deliver', () => {
  it('keeps every acknowledged message, once', async () => {
    const first = await nodes.start();
    const acked: string[] = [];
    const refused: string[] = [];
    let killed = false;
    const sessions = Array.from({ length: SESSIONS }, (_, n) => session(n, acked, refused, () => killed));
    await until('enough acknowledged messages', () => acked.length >= KILL_AFTER || refused.length > 0, 120_000);
    expect(refused).toEqual([]);
    first.child.kill('SIGKILL');
    killed = true;
    await first.exited;
    await Promise.all(sessions);
    const ackedAtKill = [...acked];
    console.log(`durability: ${ackedAtKill.length} messages acknowledged before the kill`);
    expect(ackedAtKill.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(ackedAtKill.length).toBeLessThan(SESSIONS * PER_SESSION);

    await nodes.start();
    const rows = await core.db.selectFrom('messages').select(['message_id', 'blob_id', 'size']).where('mailbox_id', '=', mailbox.id).execute();
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.message_id!, (counts.get(r.message_id!) ?? 0) + 1);
    const missing = ackedAtKill.filter((id) => !counts.has(id));
    expect(missing).toEqual([]);
    const duplicated = [...counts].filter(([, n]) => n > 1);
    expect(duplicated).toEqual([]);
    // The bodies are on disk, whole.
    const blobs = blobStore(core);
    for (const r of rows.filter((x) => ackedAtKill.includes(x.message_id!))) {
      const raw = await blobs.get(r.blob_id);
      expect(raw.length).toBe(Number(r.size));
      expect(raw.toString('latin1')).toContain(`Message-ID: <${r.message_id}>`);
    }
    const used = await core.db.selectFrom('mailboxes').select('used_bytes').where('id', '=', mailbox.id).executeTakeFirstOrThrow();
    expect(Number(used.used_bytes)).toBe(rows.reduce((s, r) => s + Number(r.size), 0));

    // The restarted node takes mail again.
    const { client } = await RawSmtp.connect(smtpPort);
    await client.command('EHLO after.remote.test');
    await client.command('MAIL FROM:<sender@remote.test>');
    expect((await client.command(`RCPT TO:<${mailbox.address}>`)).code).toBe(250);
    expect((await client.data(rawMessage({ messageId: 'after-restart@remote.test' }))).code).toBe(250);
    await client.quit();
  }, SLOW);
});
