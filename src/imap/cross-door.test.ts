// One mail store behind every door, end to end: a message sent by a real SMTP client to our MX
// wakes an IMAP client in IDLE at once; what that client does over IMAP (read, move to Trash) is
// what the Resend SDK sees in `inboxes.threads`; what the API does (mark unread) the IMAP client
// sees as a FETCH FLAGS.
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDns, type TestDns } from '../testkit/dns-server.ts';
import { freePort } from '../testkit/server.ts';
import { type ImapWorld, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
let dns: TestDns;
let mxPort: number;
let imap: ImapFlow;

function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = async () => {
      const v = await fn();
      if (v) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    void tick();
  });
}

beforeAll(async () => {
  dns = await startTestDns();
  mxPort = await freePort();
  w = await startImapWorld({ env: { MAILSTACK_SMTP_PORT: String(mxPort), MAILSTACK_DNS_SERVERS: dns.address } });
  imap = new ImapFlow({ host: '127.0.0.1', port: w.secure.port, secure: true, tls: { ca: [w.ca], servername: 'localhost' }, auth: { user: w.address, pass: w.password }, logger: false });
  await imap.connect();
});

afterAll(async () => {
  await imap?.logout().catch(() => imap.close());
  await w?.stop();
  await dns?.close();
});

describe('SMTP, IMAP and the API on one mailbox', () => {
  it('a message delivered by SMTP wakes IDLE; IMAP reads and moves it, and the API sees both', async () => {
    await imap.mailboxOpen('INBOX');
    const exists: number[] = [];
    imap.on('exists', (e: { count: number }) => exists.push(e.count));
    void imap.idle();
    await until('IDLE', () => imap.idling);

    const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: mxPort, secure: false, ignoreTLS: true });
    const info = await smtp.sendMail({ from: 'Ann <ann@remote.example>', to: w.address, subject: 'Across the doors', text: 'One store for every door.', messageId: '<cross-door@remote.example>' });
    expect(info.response).toMatch(/^250 /);
    await until('the IDLE push', () => exists.length > 0);
    expect(exists.at(-1)).toBe(1);

    const resend = w.server.resend(w.box.apiKey!);
    const inbox = { inboxId: w.box.mailbox.id };
    const listed = await resend.inboxes.threads.list({ ...inbox });
    expect(listed.error).toBeNull();
    const thread = listed.data!.data.find((t) => t.subject === 'Across the doors')!;
    expect(thread).toMatchObject({ read: false, folder: 'inbox', email_count: 1 });

    // Read over IMAP (imapflow fetches with BODY.PEEK[], then sets \Seen as mail clients do): the API shows the thread read.
    const msg = await imap.fetchOne('1', { source: true, uid: true });
    expect(msg && msg.source!.toString()).toContain('One store for every door.');
    expect(await imap.messageFlagsAdd('1', ['\\Seen'])).toBe(true);
    await until('read in the API', async () => (await resend.inboxes.threads.get({ ...inbox, threadId: thread.id })).data?.read === true);

    // Unread by the API: the IMAP client is told the new flags.
    const flags: Set<string>[] = [];
    imap.on('flags', (e: { flags: Set<string> }) => flags.push(e.flags));
    const updated = await resend.inboxes.threads.update({ ...inbox, threadId: thread.id, read: false });
    expect(updated.error).toBeNull();
    await imap.noop();
    await until('FETCH FLAGS over IMAP', () => flags.length > 0 && !flags.at(-1)!.has('\\Seen'));

    // Moved to Trash over IMAP: the API finds the thread in its trash folder.
    const moved = await imap.messageMove('1', 'Trash');
    expect(moved && moved.uidMap!.size).toBe(1);
    const inTrash = await resend.inboxes.threads.list({ ...inbox, folders: ['trash'] });
    expect(inTrash.data!.data.map((t) => t.id)).toContain(thread.id);
    const inInbox = await resend.inboxes.threads.list({ ...inbox, folders: ['inbox'] });
    expect(inInbox.data!.data.map((t) => t.id)).not.toContain(thread.id);
  });
});
