// Backups while the node takes mail: a backup made with `mailstack backup` while messages arrive
// over SMTP, restored into a fresh folder (and empty database) with `mailstack restore`, and a node
// started on it: every message acknowledged before the backup began is readable over IMAP, DKIM
// signing and API keys work. A changed byte is refused by `backup verify` and by `restore`.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { systemActor } from '../core/core.ts';
import { type TestDns, startTestDns } from '../testkit/dns-server.ts';
import { createTestMailbox, type TestMailbox } from '../testkit/mailbox.ts';
import { CLI, type TestServer, api, freePort, runCli, startTestServer } from '../testkit/server.ts';
import { createTestDatabase, type TestDatabase } from '../testkit/store.ts';
import { blobStore } from '../outbound/accept.ts';
import { readBackup, restoreBackup } from './backup.ts';

let dns: TestDns;
let server: TestServer;
let restored: TestServer | null = null;
let target: TestDatabase;
let box: TestMailbox & { apiKey: string };
let password: string;
const dir = mkdtempSync(path.join(tmpdir(), 'backup-test-'));
const file = path.join(dir, 'full.msbk');
/** Message-IDs acknowledged (250) before the backup command started. */
const ackedBefore: string[] = [];
let ackedTotal = 0;

function cliAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  dns = await startTestDns();
  const mx = await freePort();
  server = await startTestServer({ env: { MAILSTACK_SMTP_PORT: String(mx), MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_DMARC_REJECT: 'false', MAILSTACK_WORKER_CONCURRENCY: '0' } });
  const core = server.platform.core;
  box = (await createTestMailbox(core, { dns })) as TestMailbox & { apiKey: string };
  password = (await createAppPassword(core, systemActor, box.workspaceId, box.mailbox.id, { name: 'imap' })).password;
  target = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  await restored?.stop();
  await target?.drop();
  await server?.stop();
  await dns?.close();
});

describe('a backup made while mail arrives', () => {
  it('is made online by the CLI while SMTP deliveries go on', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(server.env.MAILSTACK_SMTP_PORT), secure: false, ignoreTLS: true, pool: false });
    let backupStarted = false;
    let stop = false;
    let n = 0;
    const sending = (async () => {
      while (!stop) {
        const id = `m${++n}@sender.example`;
        const info = await transport.sendMail({ envelope: { from: 'someone@sender.example', to: [box.mailbox.address] }, messageId: `<${id}>`, from: 'someone@sender.example', to: box.mailbox.address, subject: `message ${n}`, text: `body of message ${n}\n`.repeat(50) });
        expect(info.response).toMatch(/^250/);
        ackedTotal++;
        if (!backupStarted) ackedBefore.push(id);
        if (n < 5) continue;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    while (ackedBefore.length < 5) await new Promise((r) => setTimeout(r, 20));
    backupStarted = true;
    const r = await cliAsync(['backup', '--out', file], server.env);
    const afterBackup = ackedTotal;
    // Mail keeps arriving while the backup runs.
    stop = true;
    await sending;
    transport.close();
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ file, store: server.platform.core.settings.store, missing: 0 });
    expect(out.blobs).toBeGreaterThanOrEqual(ackedBefore.length);
    expect(afterBackup).toBeGreaterThan(ackedBefore.length);
    // A progress report on stderr (JSON lines off a terminal) ending in `finished`.
    expect(JSON.parse(r.stderr.trim().split('\n').at(-1)!)).toMatchObject({ task: 'backup', finished: true });
    // Encrypted: no message text in the file.
    expect(readFileSync(file).toString('latin1')).not.toContain('body of message 1');
  }, 120_000);

  it('verifies (in process; the CLI verify runs on the tampered copy below)', async () => {
    const checked = await readBackup(file, { master: server.platform.core.vault.current.key });
    expect(checked.manifest.missing).toEqual([]);
    expect(checked.manifest.files).toContain('master.key');
  });

  it('restores into an empty folder only', async () => {
    await expect(restoreBackup({ file, dataDir: server.db.dataDir, databaseUrl: target.url.startsWith('postgres') ? target.url : undefined, keys: { master: server.platform.core.vault.current.key } })).rejects.toThrow(/not empty/);
    const r = runCli(['restore', file, '--data-dir', target.dataDir, '--master-key-file', path.join(server.db.dataDir, 'master.key')], { ...server.env, MAILSTACK_DATABASE_URL: target.url, MAILSTACK_DATA_DIR: target.dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
  }, 60_000);

  it('gives a node on which every message acknowledged before the backup is readable over IMAP', async () => {
    const imapPort = await freePort();
    restored = await startTestServer({ db: target, env: { MAILSTACK_IMAP_PORT: String(imapPort), MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true', MAILSTACK_DNS_SERVERS: dns.address, MAILSTACK_WORKER_CONCURRENCY: '0' } });
    const imap = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, doSTARTTLS: false, auth: { user: box.mailbox.address, pass: password }, logger: false } as any);
    await imap.connect();
    try {
      await imap.mailboxOpen('INBOX');
      const seen = new Map<string, string>();
      for await (const m of imap.fetch('1:*', { envelope: true, source: true })) seen.set(m.envelope!.messageId!.replace(/[<>]/g, ''), m.source!.toString());
      for (const id of ackedBefore) {
        expect(seen.has(id), id).toBe(true);
        expect(seen.get(id)).toContain('body of message');
      }
    } finally {
      await imap.logout();
    }
  }, 60_000);

  it('keeps API keys and DKIM keys working on the restored node', async () => {
    const domains = await api(restored!.url, 'GET', '/v1/domains', { key: box.apiKey });
    expect(domains.status).toBe(200);
    expect(domains.json.data.map((d: any) => d.name)).toContain(box.domainName);
    const sent = await restored!.resend(box.apiKey).emails.send({ from: box.mailbox.address, to: ['someone@sender.example'], subject: 'after restore', text: 'signed?' });
    expect(sent.error).toBeNull();
    const core = restored!.platform.core;
    const row = await core.db.selectFrom('emails').select('raw_blob').where('id', '=', sent.data!.id).executeTakeFirstOrThrow();
    const raw = await blobStore(core).get(row.raw_blob!);
    const r = dns.resolver();
    const verdict = await dkimVerify(raw, { resolver: (name: string, type: string) => r.resolve(name, type as any) as any });
    expect(verdict.results[0]).toMatchObject({ signingDomain: box.domainName, status: { result: 'pass' } });
  }, 60_000);
});

describe('a tampered backup', () => {
  it('is refused by verify and by restore, which leaves the target empty', async () => {
    const bad = path.join(dir, 'tampered.msbk');
    copyFileSync(file, bad);
    const bytes = readFileSync(bad);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(bad, bytes);
    const keyFile = path.join(server.db.dataDir, 'master.key');
    const v = runCli(['backup', 'verify', bad, '--master-key-file', keyFile], server.env);
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(/checksum mismatch/);
    const fresh = path.join(dir, 'fresh');
    await expect(restoreBackup({ file: bad, dataDir: fresh, keys: { master: server.platform.core.vault.current.key } })).rejects.toThrow(/checksum mismatch/);
    expect(existsSync(fresh) ? readdirSync(fresh) : []).toEqual([]);
    // Past the checksum too: a file whose checksum is recomputed still fails the GCM tag.
    const { createHash } = await import('node:crypto');
    const body = bytes.subarray(0, bytes.length - 32);
    writeFileSync(bad, Buffer.concat([body, createHash('sha256').update(body).digest()]));
    await expect(readBackup(bad, { master: server.platform.core.vault.current.key })).rejects.toThrow(/does not decrypt/);
    await expect(restoreBackup({ file: bad, dataDir: fresh, keys: { master: server.platform.core.vault.current.key } })).rejects.toThrow(/does not decrypt/);
    expect(existsSync(fresh) ? readdirSync(fresh) : []).toEqual([]);
    // The wrong key is named as such.
    await expect(readBackup(file, { master: Buffer.alloc(32, 7) })).rejects.toThrow(/sealed with master key/);
  });
});

describe('an incremental backup', () => {
  it('copies only blobs its base lacks, and restores with the base beside it', async () => {
    const core = server.platform.core;
    const inc = path.join(dir, 'inc.msbk');
    const fresh = await blobStore(core).put(Buffer.from('a new blob after the full backup\n'));
    const { createBackup } = await import('./backup.ts');
    const base = await readBackup(file, { master: core.vault.current.key });
    const made = await createBackup(core, { out: inc, base: file });
    // Only what the base lacks: the new blob (and mail that arrived after the full backup's listing).
    expect(made.blobs.map((b) => b.id)).toContain(fresh);
    expect(made.blobs.some((b) => base.manifest.blobs.some((x) => x.id === b.id))).toBe(false);
    expect(made.from_base.sort()).toEqual(base.manifest.blobs.map((b) => b.id).sort());
    const into = path.join(dir, 'inc-restore');
    const pgTarget = core.store.dialect === 'postgres' ? await createTestDatabase() : null;
    try {
      await restoreBackup({ file: inc, dataDir: into, databaseUrl: pgTarget?.url, keys: { master: core.vault.current.key } });
      const all = readdirSync(path.join(into, 'blobs'), { recursive: true }).filter((f) => /[0-9a-f]{64}$/.test(String(f)));
      expect(all.length).toBe(made.blobs.length + made.from_base.length);
    } finally {
      await pgTarget?.drop();
    }
  }, 60_000);
});
