// imapflow, a real IMAP client, against our server over implicit TLS: LIST with special-use,
// FETCH of envelopes and BODYSTRUCTURE, part download byte for byte against the original, SEARCH,
// flags, MOVE (and the Trash folder seen in the store), IDLE woken by a message stored elsewhere,
// CONDSTORE CHANGEDSINCE and QRESYNC (VANISHED).
import { ImapFlow } from 'imapflow';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapWorld, deliver, rawMessage, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
const clients: ImapFlow[] = [];
const attachment = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) % 256));
let multipart: Buffer;

async function client(opts: { qresync?: boolean } = {}): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port: w.secure.port, secure: true, tls: { ca: [w.ca], servername: 'localhost' }, auth: { user: w.address, pass: w.password }, logger: false, qresync: opts.qresync });
  await c.connect();
  clients.push(c);
  return c;
}

/** imapflow answers `false` for a message or status it could not get. */
function must<T>(v: T | false | undefined | null): T {
  if (!v) throw new Error('missing');
  return v;
}

function until<T>(fn: () => T | undefined | false, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = fn();
      if (v) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error('timed out'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

beforeAll(async () => {
  w = await startImapWorld();
  multipart = await new MailComposer({
    from: 'Bob <bob@sender.example>',
    to: w.address,
    subject: 'Quarterly report ✓',
    text: 'Please find the report attached. Rareword quokka.',
    html: '<p>Please find the report attached.</p>',
    attachments: [{ filename: 'data.bin', content: attachment, contentType: 'application/octet-stream' }],
  })
    .compile()
    .build();
  await deliver(w, multipart);
  for (let i = 1; i <= 3; i++) await deliver(w, rawMessage({ subject: `Plain ${i}`, text: `plain body ${i}` }));
});
afterAll(async () => {
  for (const c of clients) await c.logout().catch(() => c.close());
  await w?.stop();
});

describe('imapflow', () => {
  it('lists folders with special-use flags', async () => {
    const c = await client();
    const list = await c.list();
    const byPath = Object.fromEntries(list.map((m) => [m.path, m]));
    expect(Object.keys(byPath)).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']));
    expect(byPath.Sent.specialUse).toBe('\\Sent');
    expect(byPath.Trash.specialUse).toBe('\\Trash');
    expect(byPath.Junk.specialUse).toBe('\\Junk');
    expect(byPath.INBOX.specialUse).toBe('\\Inbox');
  });

  it('fetches envelopes, BODYSTRUCTURE and downloads parts byte for byte', async () => {
    const c = await client();
    const box = await c.mailboxOpen('INBOX');
    expect(box.exists).toBe(4);
    const msg = await c.fetchOne('1', { envelope: true, bodyStructure: true, size: true, uid: true, flags: true });
    expect(msg).toBeTruthy();
    if (!msg) return;
    expect(msg.envelope?.subject).toBe('Quarterly report ✓');
    expect(msg.envelope?.from?.[0]).toMatchObject({ name: 'Bob', address: 'bob@sender.example' });
    expect(msg.size).toBe(multipart.length);
    const structure = msg.bodyStructure!;
    expect(structure.type).toBe('multipart/mixed');
    const att = structure.childNodes!.find((n) => n.type === 'application/octet-stream')!;
    expect(att.dispositionParameters?.filename ?? att.parameters?.name).toBe('data.bin');
    expect(att.encoding).toBe('base64');
    // download() decodes the transfer encoding: the attachment's bytes come back exactly.
    const dl = await c.download('1', must(att.part));
    const chunks: Buffer[] = [];
    for await (const chunk of must(dl.content)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(attachment)).toBe(true);
    // BODY[n] is the part's stored bytes, a slice of the original message.
    const raw = must(await c.fetchOne('1', { bodyParts: [must(att.part)], source: true }));
    expect(raw.source?.equals(multipart)).toBe(true);
    const partBytes = must(raw.bodyParts?.get(must(att.part)));
    expect(multipart.includes(partBytes)).toBe(true);
    expect(Buffer.from(partBytes.toString('latin1').replace(/\s+/g, ''), 'base64').equals(attachment)).toBe(true);
    // Fetching the source without PEEK is not done by imapflow; \Seen stays unset.
    const flags = must(await c.fetchOne('1', { flags: true }));
    expect([...must(flags.flags)]).not.toContain('\\Seen');
  });

  it('searches, sets flags, and the store shows them', async () => {
    const c = await client();
    await c.mailboxOpen('INBOX');
    expect(await c.search({ body: 'quokka' })).toEqual([1]);
    expect(await c.search({ subject: 'plain' })).toEqual([2, 3, 4]);
    expect(await c.search({ or: [{ subject: 'Plain 1' }, { subject: 'Plain 3' }] })).toEqual([2, 4]);
    await c.messageFlagsAdd('2:3', ['\\Seen', '\\Flagged']);
    expect(await c.search({ seen: true })).toEqual([2, 3]);
    expect(await c.search({ flagged: true, seen: true, subject: 'Plain 2' })).toEqual([3]);
    await c.messageFlagsRemove('3', ['\\Flagged']);
    const f = must(await c.fetchOne('3', { flags: true, uid: true }));
    expect([...must(f.flags)].sort()).toEqual(['\\Seen']);
    // Cross-door: the mail store (and so the API's `read`) sees \Seen.
    const row = await w.core.db.selectFrom('messages').innerJoin('folders', 'folders.id', 'messages.folder_id').select(['messages.seen', 'messages.flagged']).where('folders.mailbox_id', '=', w.box.mailbox.id).where('folders.name', '=', 'INBOX').where('messages.uid', '=', f.uid).executeTakeFirstOrThrow();
    expect(Number(row.seen)).toBe(1);
    expect(Number(row.flagged)).toBe(0);
  });

  it('moves a message to Trash (COPYUID) and the store has it there', async () => {
    const c = await client();
    await c.mailboxOpen('INBOX');
    const before = must(await c.fetchOne('4', { uid: true, envelope: true }));
    const res = await c.messageMove('4', 'Trash');
    expect(res && res.uidMap?.size).toBe(1);
    const status = must(await c.status('INBOX', { messages: true }));
    expect(status.messages).toBe(3);
    const inTrash = await w.core.db.selectFrom('messages').innerJoin('folders', 'folders.id', 'messages.folder_id').select(['messages.subject', 'messages.uid', 'folders.special_use']).where('folders.mailbox_id', '=', w.box.mailbox.id).where('folders.name', '=', 'Trash').execute();
    expect(inTrash.map((r) => r.subject)).toContain(before.envelope!.subject);
    expect(inTrash.find((r) => r.subject === before.envelope!.subject)!.uid).toBe(res && res.uidMap!.get(before.uid));
  });

  it('IDLE wakes at once when a message is stored by another path', async () => {
    const c = await client();
    await c.mailboxOpen('INBOX');
    const events: number[] = [];
    c.on('exists', (e: { count: number }) => events.push(e.count));
    void c.idle();
    await until(() => c.idling);
    await deliver(w, rawMessage({ subject: 'Pushed', text: 'new mail' }));
    await until(() => events.length > 0);
    expect(events[0]).toBe(4);
  });

  it('CONDSTORE: FETCH CHANGEDSINCE returns only what changed', async () => {
    const c = await client();
    const box = await c.mailboxOpen('INBOX');
    const modseq = box.highestModseq!;
    expect(typeof modseq).toBe('bigint');
    await c.messageFlagsAdd('1', ['$Important']);
    const changed: { uid: number; modseq?: bigint; flags?: Set<string> }[] = [];
    for await (const m of c.fetch('1:*', { flags: true, uid: true }, { changedSince: modseq })) changed.push(m);
    expect(changed.length).toBe(1);
    expect(changed[0].flags!.has('$Important')).toBe(true);
    expect(changed[0].modseq! > modseq).toBe(true);
    const status = must(await c.status('INBOX', { highestModseq: true }));
    expect(status.highestModseq).toBe(changed[0].modseq);
  });

  it('QRESYNC: an expunge elsewhere arrives as VANISHED (UID), and reopening reports what vanished', async () => {
    const a = await client({ qresync: true });
    const box = await a.mailboxOpen('INBOX');
    const uidValidity = box.uidValidity;
    const modseq = box.highestModseq!;
    const expunges: { uid?: number; vanished?: boolean }[] = [];
    a.on('expunge', (e: { uid?: number; vanished?: boolean }) => expunges.push(e));
    const b = await client();
    await b.mailboxOpen('INBOX');
    const victim = must(await b.fetchOne('2', { uid: true })).uid;
    await b.messageDelete('2');
    // The next command (here NOOP) carries what changed meanwhile.
    await a.noop();
    await until(() => expunges.length > 0);
    expect(expunges[0]).toMatchObject({ uid: victim, vanished: true });
    await a.mailboxClose();
    const vanished: unknown[] = [];
    a.on('expunge', (e: unknown) => vanished.push(e));
    const reopened = await a.mailboxOpen('INBOX', { changedSince: modseq, uidValidity } as never);
    expect(reopened.exists).toBe(3);
    await until(() => vanished.length > 0);
    expect(vanished[0]).toMatchObject({ uid: victim, vanished: true, earlier: true });
  });
});
