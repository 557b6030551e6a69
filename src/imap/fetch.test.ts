// FETCH data items as raw transcripts: macros, ENVELOPE, BODY and BODYSTRUCTURE of a multipart
// message, BODY[section] with MIME/HEADER/TEXT, RFC822.*, BINARY and BINARY.SIZE (base64 undone),
// partial ranges past the end; and the node starting its IMAP doors from the settings.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestServer } from '../testkit/server.ts';
import { createTestMailbox } from '../testkit/mailbox.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { type ImapWorld, RawImap, deliver, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
let c: RawImap;
const payload = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13, 65]);
const raw = [
  'From: "Ann Example" <ann@sender.example>',
  'To: b@example.com, "C, D" <cd@example.com>',
  'Subject: =?utf-8?q?Caf=C3=A9?=',
  'Date: Tue, 02 Jan 2024 10:00:00 +0100',
  'Message-ID: <m1@sender.example>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  '--XX',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Hello world',
  '--XX',
  'Content-Type: application/octet-stream; name="p.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="p.bin"',
  '',
  payload.toString('base64'),
  '--XX--',
  '',
].join('\r\n');

beforeAll(async () => {
  w = await startImapWorld();
  await deliver(w, raw, { internalDate: Date.UTC(2024, 0, 2, 9, 0, 0) });
  c = await RawImap.connect(w.plain.port);
  await c.cmd('L', `LOGIN ${w.address} ${w.password}`);
  await c.cmd('S', 'EXAMINE INBOX');
});
afterAll(async () => {
  c?.close();
  await w?.stop();
});


describe('FETCH items', () => {
  it('FAST and ALL macros, ENVELOPE', async () => {
    expect(await c.cmd('f1', 'FETCH 1 FAST')).toBe(`* 1 FETCH (FLAGS (\\Recent) INTERNALDATE "02-Jan-2024 09:00:00 +0000" RFC822.SIZE ${raw.length})\r\nf1 OK FETCH completed\r\n`);
    const all = await c.cmd('f2', 'FETCH 1 ALL');
    expect(all).toContain('ENVELOPE ("Tue, 02 Jan 2024 10:00:00 +0100" "=?utf-8?q?Caf=C3=A9?=" (("Ann Example" NIL "ann" "sender.example")) (("Ann Example" NIL "ann" "sender.example")) (("Ann Example" NIL "ann" "sender.example")) ((NIL NIL "b" "example.com")("C, D" NIL "cd" "example.com")) NIL NIL NIL "<m1@sender.example>")');
  });

  it('BODY and BODYSTRUCTURE', async () => {
    const body = (await c.cmd('b1', 'FETCH 1 BODY')).toLowerCase();
    expect(body).toBe('* 1 fetch (body (("text" "plain" ("charset" "us-ascii") nil nil "7bit" 11 0)("application" "octet-stream" ("name" "p.bin") nil nil "base64" 12) "mixed"))\r\nb1 ok fetch completed\r\n');
    const bs = (await c.cmd('b2', 'FETCH 1 BODYSTRUCTURE')).toLowerCase();
    expect(bs).toMatch(/^\* 1 fetch \(bodystructure \(\("text" "plain" \("charset" "us-ascii"\) nil nil "7bit" 11 0 nil nil nil nil\)\("application" "octet-stream" \("name" "p.bin"\) nil nil "base64" 12 nil \("attachment" \("filename" "p.bin"\)\) nil nil\) "mixed" \("boundary" "xx"\) nil nil nil\)\)\r\n/);
  });

  it('sections, RFC822.*, partials past the end', async () => {
    expect(await c.cmd('s1', 'FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME])')).toBe(
      '* 1 FETCH (BODY[1] {11}\r\nHello world BODY[2.MIME] {142}\r\nContent-Type: application/octet-stream; name="p.bin"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="p.bin"\r\n\r\n)\r\ns1 OK FETCH completed\r\n',
    );
    const header = raw.slice(0, raw.indexOf('\r\n\r\n') + 4);
    expect(await c.cmd('s2', 'FETCH 1 RFC822.HEADER')).toBe(`* 1 FETCH (RFC822.HEADER {${header.length}}\r\n${header})\r\ns2 OK FETCH completed\r\n`);
    expect(await c.cmd('s3', 'FETCH 1 BODY.PEEK[]<5000.10>')).toBe('* 1 FETCH (BODY[]<5000> {0}\r\n)\r\ns3 OK FETCH completed\r\n');
    expect(await c.cmd('s4', 'FETCH 1 BODY.PEEK[1]<6.100>')).toBe('* 1 FETCH (BODY[1]<6> {5}\r\nworld)\r\ns4 OK FETCH completed\r\n');
    const full = await c.cmd('s5', 'FETCH 1 RFC822');
    expect(full).toBe(`* 1 FETCH (RFC822 {${raw.length}}\r\n${raw})\r\ns5 OK FETCH completed\r\n`);
  });

  it('BINARY undoes base64 (literal8 for NUL) and BINARY.SIZE counts decoded bytes', async () => {
    const r = await c.cmd('x1', 'FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])');
    expect(r).toBe(`* 1 FETCH (BINARY.SIZE[2] ${payload.length} BINARY[2] ~{${payload.length}}\r\n${payload.toString('latin1')})\r\nx1 OK FETCH completed\r\n`);
    expect(await c.cmd('x2', 'FETCH 1 BINARY.PEEK[1]<0.5>')).toBe('* 1 FETCH (BINARY[1]<0> {5}\r\nHello)\r\nx2 OK FETCH completed\r\n');
  });
});

describe('the structure cache', () => {
  it('answers ENVELOPE, BODY and BODYSTRUCTURE from the cache once computed, without reading the message file', async () => {
    const other = Buffer.from(raw.replace('<m1@sender.example>', '<cache-test@sender.example>').replace('Hello world', 'Hello cache'));
    const appended = await deliver(w, other);
    const items = `UID FETCH ${appended.uid} (ENVELOPE BODY BODYSTRUCTURE)`;
    const first = await c.cmd('k1', items);
    expect(first).toContain('"<cache-test@sender.example>"');
    const { blob_id: blobId } = await w.core.db.selectFrom('messages').select('blob_id').where('id', '=', appended.id).executeTakeFirstOrThrow();
    const cached = await w.core.db.selectFrom('imap_structure_cache').selectAll().where('blob_id', '=', blobId).executeTakeFirst();
    expect(cached?.envelope).toContain('"<cache-test@sender.example>"');
    // Without the file, the cached items are still served exactly; a body item is not.
    const file = path.join(w.core.settings.dataDir, 'blobs', blobId.slice(0, 2), blobId.slice(2, 4), blobId);
    const bytes = readFileSync(file);
    rmSync(file);
    try {
      const fetchLine = (t: string) => t.split('\r\n').find((l) => l.includes(' FETCH ('));
      expect(fetchLine(await c.cmd('k2', items))).toBe(fetchLine(first));
      expect(await c.cmd('k3', `UID FETCH ${appended.uid} (BODY.PEEK[TEXT])`)).toMatch(/^k3 NO \[SERVERBUG\]/m);
    } finally {
      writeFileSync(file, bytes);
    }
  });
});

describe('platform wiring', () => {
  it('starts IMAP and IMAPS on the configured ports', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const server = await startTestServer({ env: { MAILSTACK_IMAP_PORT: String(p1), MAILSTACK_IMAPS_PORT: String(p2), MAILSTACK_HOSTNAME: 'localhost' } });
    try {
      await createTestMailbox(server.platform.core);
      const plain = await RawImap.connect(p1);
      expect(plain.greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 [^\]]*STARTTLS[^\]]*LOGINDISABLED/);
      plain.close();
      const secure = await RawImap.connect(p2, { tls: true, ca: loadTlsMaterial(server.platform.core.settings).cert });
      expect(secure.greeting).toMatch(/AUTH=PLAIN/);
      secure.close();
    } finally {
      await server.stop();
    }
  });
});
