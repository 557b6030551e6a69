// Suspension and revocation, door by door, with real clients: the resend SDK (403 `suspended`),
// nodemailer on submission (5.7.1), imapflow and Python imaplib (NO … suspended), Python poplib
// (-ERR … suspended), Python smtplib on the MX (450 4.2.1, or held). Each change is audited and
// the owner is mailed; another workspace is untouched; a revoked name is free only after the window.
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPassword } from '../accounts/app-passwords.ts';
import { ManualClock } from '../core/clock.ts';
import { systemActor } from '../core/core.ts';
import { SYSTEM_MAIL_JOB } from '../outbound/system-mail.ts';
import { createTestMailbox, rawMessage, type TestMailbox } from '../testkit/mailbox.ts';
import { type TestServer, freePort, runCli, startTestServer } from '../testkit/server.ts';
import { runClient, sendWithPython } from '../testkit/smtp-senders.ts';
import { runRetentionKinds } from './retention.ts';
import { cliActor } from '../core/core.ts';
import { revokeInbox, setInboxSuspended, setWorkspaceSuspended } from './suspension.ts';

const DAY = 86_400_000;
const clock = new ManualClock();
let server: TestServer;
let ports: { mx: number; submission: number; imap: number; pop3: number };
let box: TestMailbox;
let password: string;
let other: TestMailbox;
let otherPassword: string;

const core = () => server.platform.core;
const cli = (...args: string[]) => {
  const r = runCli(args, server.env);
  if (r.code !== 0) throw new Error(`mailstack ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  ports = { mx: await freePort(), submission: await freePort(), imap: await freePort(), pop3: await freePort() };
  server = await startTestServer({
    clock,
    env: {
      MAILSTACK_HOSTNAME: 'localhost',
      MAILSTACK_ALLOW_PLAINTEXT_AUTH: 'true',
      MAILSTACK_SMTP_PORT: String(ports.mx),
      MAILSTACK_SUBMISSION_PORT: String(ports.submission),
      MAILSTACK_IMAP_PORT: String(ports.imap),
      MAILSTACK_POP3_PORT: String(ports.pop3),
      // System mail stays in the jobs table, where the test reads what the owner is told.
      MAILSTACK_WORKER_CONCURRENCY: '0',
    },
  });
  box = await createTestMailbox(core());
  password = (await createAppPassword(core(), systemActor, box.workspaceId, box.mailbox.id, { name: 't' })).password;
  other = await createTestMailbox(core());
  otherPassword = (await createAppPassword(core(), systemActor, other.workspaceId, other.mailbox.id, { name: 't' })).password;
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

async function imapflowLogin(user: string, pass: string): Promise<string | null> {
  const client = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false });
  try {
    await client.connect();
    await client.logout();
    return null;
  } catch (err) {
    return String((err as any).responseText ?? (err as Error).message);
  }
}

async function imaplibLogin(user: string, pass: string): Promise<string> {
  const r = await runClient('python3', ['-c', `import imaplib,sys\nc=imaplib.IMAP4('127.0.0.1', ${ports.imap})\ntry:\n  c.login(sys.argv[1], sys.argv[2]); print('OK')\nexcept imaplib.IMAP4.error as e:\n  print('NO', e)\n`, user, pass]);
  return r.stdout.trim();
}

async function poplibLogin(user: string, pass: string): Promise<string> {
  const r = await runClient('python3', ['-c', `import poplib,sys\nc=poplib.POP3('127.0.0.1', ${ports.pop3})\ntry:\n  c.user(sys.argv[1]); c.pass_(sys.argv[2]); print('OK')\nexcept poplib.error_proto as e:\n  print('ERR', e)\n`, user, pass]);
  return r.stdout.trim();
}

async function submit(user: string, pass: string, from: string): Promise<{ ok: boolean; response: string }> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: ports.submission, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user, pass } });
  try {
    await t.sendMail({ from, to: 'someone@remote.test', subject: 'hi', text: 'hello' });
    return { ok: true, response: '' };
  } catch (err) {
    return { ok: false, response: String((err as any).response ?? (err as Error).message) };
  } finally {
    t.close();
  }
}

async function mailTo(address: string) {
  return sendWithPython(ports.mx, { from: 'a@sender.test', to: [address] }, rawMessage({ from: 'a@sender.test', to: address, subject: 'inbound' }));
}

async function ownerMail(to: string, subject: RegExp): Promise<string[]> {
  const jobs = await core().db.selectFrom('jobs').select('payload').where('kind', '=', SYSTEM_MAIL_JOB).execute();
  return jobs
    .map((j) => JSON.parse(j.payload))
    .filter((p) => p.to === to && subject.test(p.subject))
    .map((p) => core().vault.decrypt(p.text_sealed, 'system_mail'));
}

const ownerOf = async (workspaceId: string) =>
  (await core().db.selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id').select('users.email').where('workspace_id', '=', workspaceId).where('role', '=', 'owner').executeTakeFirstOrThrow()).email;

describe('suspending a workspace', () => {
  it('refuses its API calls with 403 suspended, its sending with 5.7.1, its logins with a message; others go on', async () => {
    const sdk = server.resend(box.apiKey!);
    expect((await sdk.domains.list()).error).toBeNull();
    expect(await imapflowLogin(box.mailbox.address, password)).toBeNull();

    const out = cli('workspace', 'suspend', box.workspaceId, '--reason', 'unpaid invoices');
    expect(out).toMatchObject({ suspended: true, reason: 'unpaid invoices' });

    const listed = await sdk.domains.list();
    expect(listed.error).toMatchObject({ statusCode: 403, name: 'suspended' });
    expect(listed.error!.message).toContain('unpaid invoices');

    const sent = await submit('anything', box.apiKey!, `x@${box.domainName}`);
    expect(sent.ok).toBe(false);
    expect(sent.response).toMatch(/^550 5\.7\.1 .*suspended/);

    expect(await imapflowLogin(box.mailbox.address, password)).toMatch(/suspended/i);
    expect(await imaplibLogin(box.mailbox.address, password)).toMatch(/^NO .*UNAVAILABLE.*suspended.*unpaid invoices/);
    expect(await poplibLogin(box.mailbox.address, password)).toMatch(/^ERR .*SYS\/PERM.*suspended/);
    // A wrong password learns nothing about the suspension.
    expect(await imaplibLogin(box.mailbox.address, 'wrong')).not.toMatch(/suspended/);

    const inbound = await mailTo(box.mailbox.address);
    expect(inbound.code).toBe(450);
    expect(inbound.response).toMatch(/4\.2\.1/);

    // The other workspace is untouched.
    expect((await server.resend(other.apiKey!).domains.list()).error).toBeNull();
    expect(await imapflowLogin(other.mailbox.address, otherPassword)).toBeNull();
    expect((await mailTo(other.mailbox.address)).code).toBe(250);

    const record = await core().db.selectFrom('audit_log').selectAll().where('workspace_id', '=', box.workspaceId).where('action', '=', 'workspace.suspended').executeTakeFirstOrThrow();
    expect(JSON.parse(record.data!)).toEqual({ reason: 'unpaid invoices' });
    expect(record.actor_type).toBe('cli');
    const told = await ownerMail(await ownerOf(box.workspaceId), /suspended/);
    expect(told[0]).toContain('unpaid invoices');

    await setWorkspaceSuspended(core(), cliActor, box.workspaceId, false);
    expect((await sdk.domains.list()).error).toBeNull();
    expect(await imaplibLogin(box.mailbox.address, password)).toBe('OK');
    expect((await mailTo(box.mailbox.address)).code).toBe(250);
    expect(await ownerMail(await ownerOf(box.workspaceId), /no longer suspended/)).toHaveLength(1);
  }, 180_000);
});

describe('suspending an inbox', () => {
  it('refuses its logins, its sending and calls about it, and refuses or holds its mail by setting', async () => {
    await setInboxSuspended(core(), cliActor, box.mailbox.address, true, 'spam complaints');
    expect(await poplibLogin(box.mailbox.address, password)).toMatch(/suspended.*spam complaints/);
    expect(await imapflowLogin(box.mailbox.address, password)).toMatch(/suspended/i);
    const sent = await submit(box.mailbox.address, password, box.mailbox.address);
    expect(sent.response).toMatch(/^535 5\.7\.1 .*suspended/);
    const api = await server.resend(box.apiKey!).inboxes.threads.list({ inboxId: box.mailbox.id });
    expect(api.error).toMatchObject({ statusCode: 403, name: 'suspended' });
    // The workspace's other calls still work.
    expect((await server.resend(box.apiKey!).domains.list()).error).toBeNull();
    expect((await mailTo(box.mailbox.address)).code).toBe(450);

    // Held instead of refused: accepted and kept, still unreachable until lifted.
    core().settings.suspendedInbound = 'hold';
    try {
      const before = await core().db.selectFrom('messages').select('id').where('mailbox_id', '=', box.mailbox.id).execute();
      expect((await mailTo(box.mailbox.address)).code).toBe(250);
      const after = await core().db.selectFrom('messages').select('id').where('mailbox_id', '=', box.mailbox.id).execute();
      expect(after.length).toBe(before.length + 1);
    } finally {
      core().settings.suspendedInbound = 'refuse';
    }
    const audited = await core().db.selectFrom('audit_log').select('data').where('action', '=', 'inbox.suspended').where('target_id', '=', box.mailbox.id).executeTakeFirstOrThrow();
    expect(JSON.parse(audited.data!)).toMatchObject({ address: box.mailbox.address, reason: 'spam complaints' });
    expect((await ownerMail(await ownerOf(box.workspaceId), /inbox .* is suspended/))[0]).toContain('spam complaints');

    await setInboxSuspended(core(), cliActor, box.mailbox.address, false);
    expect(await poplibLogin(box.mailbox.address, password)).toBe('OK');
  }, 60_000);

  it('wants a reason, and says which inbox is unknown', async () => {
    await expect(setInboxSuspended(core(), cliActor, box.mailbox.address, true, '  ')).rejects.toThrow(/reason/);
    await expect(setInboxSuspended(core(), cliActor, box.mailbox.address, true, 'two\nlines')).rejects.toThrow(/one line/);
    await expect(setInboxSuspended(core(), cliActor, 'nobody@nowhere.test', true, 'x')).rejects.toThrow(/Inbox not found/);
  });
});

describe('revoking an inbox name', () => {
  it('stops receiving and logins at once, keeps the mail for the window, then frees the name', async () => {
    const victim = await createTestMailbox(core(), { workspaceId: other.workspaceId, domainName: other.domainName });
    const pw = (await createAppPassword(core(), systemActor, other.workspaceId, victim.mailbox.id, { name: 't' })).password;
    expect((await mailTo(victim.mailbox.address)).code).toBe(250);
    const out = await revokeInbox(core(), cliActor, victim.mailbox.address, 'trademark claim');
    expect(out).toMatchObject({ revoked: true, address: victim.mailbox.address });

    const refused = await mailTo(victim.mailbox.address);
    expect(refused.code).toBe(550);
    expect(refused.response).toMatch(/5\.1\.1/);
    expect(await imaplibLogin(victim.mailbox.address, pw)).toMatch(/^NO/);
    // The mail is kept for the owner's export.
    expect(await core().db.selectFrom('messages').select('id').where('mailbox_id', '=', victim.mailbox.id).execute()).toHaveLength(1);
    expect((await ownerMail(await ownerOf(other.workspaceId), /revoked/))[0]).toMatch(/export/);

    // The name cannot be given to another inbox inside the window …
    const again = await server.resend(other.apiKey!).inboxes.create({ emailAddress: victim.mailbox.address });
    expect(again.error).toMatchObject({ statusCode: 409 });
    expect(again.error!.message).toMatch(/revoked/);
    await runRetentionKinds(core(), { all: true });
    expect(await core().db.selectFrom('mailboxes').select('id').where('id', '=', victim.mailbox.id).executeTakeFirst()).toBeTruthy();

    // … and is free once the window has passed and the mail is gone.
    clock.advance(core().settings.closedAccountDays * DAY + 1000);
    const report = await runRetentionKinds(core(), { all: true });
    expect(report.revoked_inboxes).toMatchObject({ inboxes: 1, messages: 1 });
    expect(await core().db.selectFrom('messages').select('id').where('mailbox_id', '=', victim.mailbox.id).execute()).toHaveLength(0);
    const reclaimed = await server.resend(other.apiKey!).inboxes.create({ emailAddress: victim.mailbox.address });
    expect(reclaimed.error).toBeNull();
    expect(reclaimed.data!.id).not.toBe(victim.mailbox.id);
    const audit = await core().db.selectFrom('audit_log').select('data').where('action', '=', 'retention.run').where('target_id', '=', 'revoked_inboxes').executeTakeFirstOrThrow();
    expect(JSON.parse(audit.data!).removed).toMatchObject({ inboxes: 1 });
  }, 60_000);
});
