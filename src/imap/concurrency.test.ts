// Concurrency of identical content: several imapflow connections APPEND the same bytes, COPY them,
// STORE flags, EXPUNGE and FETCH bodies at once for a few seconds, while the job worker releases
// the bodies of expunged messages. The bodies are one content-addressed blob shared by every
// message, so each release races new references to it. What must hold: no command answers a
// server error (a FETCH of a message another session expunged gets what RFC 9051 §7.4.1 allows),
// every release job succeeds, and every stored message's body is readable afterwards.
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { blobStore } from '../outbound/accept.ts';
import { createHash } from 'node:crypto';
import { RELEASE_BLOBS_JOB, releaseBlobs } from '../mailstore/blobs.ts';
import { type ImapWorld, rawMessage, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
const clients: ImapFlow[] = [];
const SAME = rawMessage({ subject: 'Same bytes', text: 'identical content shared by every message\r\n', date: new Date('2026-01-02T03:04:05Z'), messageId: '<same@x.example>' });

async function client(): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: w.plain.port, secure: false, doSTARTTLS: false, auth: { user: w.address, pass: w.password }, logger: false });
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  w = await startImapWorld({ door: { maxCommandsPerSecond: 100_000 } });
});
afterAll(async () => {
  for (const c of clients) await c.logout().catch(() => c.close());
  await w?.stop();
});

it('concurrent APPEND, COPY, STORE, EXPUNGE and FETCH of identical content never lose a body nor answer a server error', async () => {
  const setup = await client();
  await setup.mailboxCreate('Other');
  const workers = await Promise.all([client(), client(), client(), client()]);
  const serverErrors: string[] = [];
  const note = (err: unknown) => {
    const e = err as { responseText?: string; serverResponseCode?: string; message?: string };
    const text = `${e.serverResponseCode ?? ''} ${e.responseText ?? e.message ?? ''}`;
    // Only a server fault is a failure here; a NO for a message that went away is allowed.
    if (/SERVERBUG|internal|could not be read/i.test(text)) serverErrors.push(text);
  };
  const deadline = Date.now() + 6_000;
  let fetchedBodies = 0;
  // Besides the worker's jobs, releases of the shared blob run all the time, as a job queued by an
  // expunge runs while new copies of the same bytes are being appended.
  const blobId = createHash('sha256').update(SAME).digest('hex');
  let releases = 0;
  const releasing = (async () => {
    while (Date.now() < deadline) {
      await releaseBlobs(w.core, [blobId]);
      releases++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await Promise.all(
    workers.map(async (c, n) => {
      const folder = n % 2 ? 'Other' : 'INBOX';
      await c.mailboxOpen(folder);
      while (Date.now() < deadline) {
        try {
          await c.append(folder, SAME, n % 2 ? ['$Label1'] : []);
          await c.append(n % 2 ? 'INBOX' : 'Other', SAME);
          for await (const m of c.fetch('1:*', { source: true, flags: true })) {
            if (m.source) {
              expect(m.source.equals(SAME)).toBe(true);
              fetchedBodies++;
            }
          }
          await c.messageCopy('1:*', n % 2 ? 'INBOX' : 'Other');
          await c.messageFlagsAdd('1:*', ['\\Seen']);
          await c.messageDelete('1:*');
        } catch (err) {
          note(err);
        }
      }
    }),
  );
  await releasing;
  expect(releases, 'releases run').toBeGreaterThan(10);
  expect(serverErrors).toEqual([]);
  expect(fetchedBodies, 'bodies fetched').toBeGreaterThan(0);

  // Let the worker finish every queued release, then check the store.
  const db = w.core.db;
  for (let i = 0; i < 200; i++) {
    const pending = await db.selectFrom('jobs').select('id').where('kind', '=', RELEASE_BLOBS_JOB).where('status', 'in', ['queued', 'running']).execute();
    if (!pending.length) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const failed = await db.selectFrom('jobs').select(['last_error']).where('kind', '=', RELEASE_BLOBS_JOB).where('last_error', 'is not', null).execute();
  expect(failed).toEqual([]);

  await workers[0].append('INBOX', SAME);
  const rows = await db.selectFrom('messages').select(['blob_id']).where('mailbox_id', '=', w.box.mailbox.id).execute();
  expect(rows.length, 'rows').toBeGreaterThan(0);
  for (const r of rows) expect(await blobStore(w.core).has(r.blob_id)).toBe(true);
  const check = await client();
  await check.mailboxOpen('INBOX');
  let n = 0;
  for await (const m of check.fetch('1:*', { source: true })) {
    expect(m.source?.equals(SAME)).toBe(true);
    n++;
  }
  expect(n, 'final fetch').toBeGreaterThan(0);
}, 30_000);
