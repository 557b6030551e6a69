// parseMessage on well-formed mail: messages built by nodemailer's MailComposer (what real
// senders produce) and a few hand-written ones for the header forms a composer never emits.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { describe, expect, it } from 'vitest';
import { formatAddress, ParseRefusal, parseMessage, safeFilename } from './parse.ts';

function compose(mail: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  return new MailComposer(mail).compile().build();
}

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

describe('parseMessage: normal messages', () => {
  it('reads a multipart/alternative message with its envelope fields', async () => {
    const raw = await compose({
      from: 'Alice Example <alice@example.com>',
      to: ['bob@example.org', 'Carol <carol@example.org>'],
      cc: 'dave@example.org',
      replyTo: 'replies@example.com',
      subject: 'Quarterly numbers',
      messageId: '<q3-report@example.com>',
      inReplyTo: '<parent@example.org>',
      references: ['<root@example.org>', '<parent@example.org>'],
      date: new Date('2025-04-01T10:00:00Z'),
      text: 'Plain version',
      html: '<p>HTML <b>version</b></p>',
    });
    const m = await parseMessage(raw);
    expect(m.messageId).toBe('q3-report@example.com');
    expect(m.inReplyTo).toBe('parent@example.org');
    expect(m.references).toEqual(['root@example.org', 'parent@example.org']);
    expect(m.subject).toBe('Quarterly numbers');
    expect(m.from).toEqual({ name: 'Alice Example', address: 'alice@example.com' });
    expect(m.fromHeader).toBe('Alice Example <alice@example.com>');
    expect(m.to).toEqual([
      { name: '', address: 'bob@example.org' },
      { name: 'Carol', address: 'carol@example.org' },
    ]);
    expect(m.cc).toEqual([{ name: '', address: 'dave@example.org' }]);
    expect(m.bcc).toEqual([]);
    expect(m.replyTo).toEqual([{ name: '', address: 'replies@example.com' }]);
    expect(m.date).toBe(Date.parse('2025-04-01T10:00:00Z'));
    expect(m.text?.trim()).toBe('Plain version');
    expect(m.html).toContain('<p>HTML <b>version</b></p>');
    expect(m.attachments).toEqual([]);
    // Every header, lower-cased, in order; values decoded and unfolded.
    const names = m.headers.map((h) => h.name);
    expect(names).toContain('content-type');
    expect(names.every((n) => n === n.toLowerCase())).toBe(true);
    expect(m.headers.find((h) => h.name === 'subject')?.value).toBe('Quarterly numbers');
  });

  it('keeps attachments with their bytes, size, type and disposition', async () => {
    const pdf = Buffer.from('%PDF-1.4 fake but binary \x00\x01\x02\xff', 'latin1');
    const raw = await compose({
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 'files',
      text: 'two files',
      attachments: [
        { filename: 'report.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'notes.txt', content: 'line one\nline two\n', contentType: 'text/plain' },
      ],
    });
    const m = await parseMessage(raw);
    expect(m.text?.trim()).toBe('two files');
    expect(m.attachments).toHaveLength(2);
    const [a, b] = m.attachments;
    expect(a).toMatchObject({ position: 0, filename: 'report.pdf', contentType: 'application/pdf', disposition: 'attachment', size: pdf.length, contentId: null });
    expect(Buffer.isBuffer(a.content)).toBe(true);
    expect(a.content.equals(pdf)).toBe(true);
    expect(b).toMatchObject({ position: 1, filename: 'notes.txt', contentType: 'text/plain', disposition: 'attachment' });
    expect(b.content.toString('utf8')).toBe('line one\nline two\n');
  });

  it('reads an inline cid image in multipart/related', async () => {
    const raw = await compose({
      from: 'a@example.com',
      to: 'b@example.com',
      subject: 'logo',
      html: '<p>Logo: <img src="cid:logo@example.com"></p>',
      attachments: [{ filename: 'logo.png', content: PNG, cid: 'logo@example.com', contentType: 'image/png' }],
    });
    const m = await parseMessage(raw);
    expect(m.html).toContain('cid:logo@example.com');
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]).toMatchObject({ contentId: 'logo@example.com', contentType: 'image/png', disposition: 'inline', size: PNG.length });
    expect(m.attachments[0].content.equals(PNG)).toBe(true);
  });

  it('decodes RFC 2047 encoded words in subjects, names and file names', async () => {
    const raw = await compose({
      from: { name: 'Jürgen Müller', address: 'juergen@example.de' },
      to: { name: '山田太郎', address: 'taro@example.jp' },
      subject: 'Grüße aus Köln — 👋',
      text: 'Hallo',
      attachments: [{ filename: 'Übersicht €.txt', content: 'x' }],
    });
    expect(raw.toString('latin1')).toMatch(/=\?UTF-8\?[BQ]\?/i); // really encoded on the wire
    const m = await parseMessage(raw);
    expect(m.subject).toBe('Grüße aus Köln — 👋');
    expect(m.from).toEqual({ name: 'Jürgen Müller', address: 'juergen@example.de' });
    expect(m.fromHeader).toBe('Jürgen Müller <juergen@example.de>');
    expect(m.to).toEqual([{ name: '山田太郎', address: 'taro@example.jp' }]);
    expect(m.attachments[0].filename).toBe('Übersicht €.txt');
    expect(m.headers.find((h) => h.name === 'subject')?.value).toBe('Grüße aus Köln — 👋');
  });

  it('decodes hand-written encoded words, folding and ISO-8859-1 bodies', async () => {
    const raw = Buffer.from(
      [
        'From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
        'To: Keld =?ISO-8859-1?Q?J=F8rn_Simonsen?= <keld@dkuug.dk>',
        'Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=',
        '  =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=',
        'Message-ID:',
        '  <folded@example.com>',
        'Content-Type: text/plain; charset=iso-8859-1',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'caf=E9 cr=E8me, soft=',
        'break',
        '',
      ].join('\r\n'),
    );
    const m = await parseMessage(raw);
    // RFC 2047 §8 examples: whitespace between adjacent encoded words is dropped.
    expect(m.subject).toBe('If you can read this you understand the example.');
    expect(m.from).toEqual({ name: 'André Pirard', address: 'PIRARD@vm1.ulg.ac.be' });
    expect(m.to).toEqual([{ name: 'Keld Jørn Simonsen', address: 'keld@dkuug.dk' }]);
    expect(m.messageId).toBe('folded@example.com');
    expect(m.text).toBe('café crème, softbreak\n');
  });

  it('expands address groups and drops empty ones', async () => {
    const raw = Buffer.from(
      [
        'From: "Doe, Jane" <jane@example.com>',
        'To: Team: ann@example.com, "Ben B" <ben@example.com>;, solo@example.com',
        'Cc: undisclosed-recipients:;',
        'Bcc: hidden@example.com',
        'Subject: groups',
        '',
        'hi',
      ].join('\r\n'),
    );
    const m = await parseMessage(raw);
    expect(m.from).toEqual({ name: 'Doe, Jane', address: 'jane@example.com' });
    expect(m.fromHeader).toBe('"Doe, Jane" <jane@example.com>');
    expect(m.to).toEqual([
      { name: '', address: 'ann@example.com' },
      { name: 'Ben B', address: 'ben@example.com' },
      { name: '', address: 'solo@example.com' },
    ]);
    expect(m.cc).toEqual([]);
    expect(m.bcc).toEqual([{ name: '', address: 'hidden@example.com' }]);
  });

  it('splits References into ids, oldest first, with or without brackets and folding', async () => {
    const raw = Buffer.from(
      ['From: a@example.com', 'Message-ID: <<odd>@example.com>', 'In-Reply-To: <p2@x> (comment) <p1@x>', 'References: <r1@x>', '\t<r2@x><r3@x>  <r1@x>', 'Subject: refs', '', 'x'].join('\r\n'),
    );
    const m = await parseMessage(raw);
    expect(m.references).toEqual(['r1@x', 'r2@x', 'r3@x']); // duplicates dropped, order kept
    expect(m.inReplyTo).toBe('p2@x');
    expect(m.messageId).toBe('odd'); // the first <…> token, never a bracket inside an id
    const bare = await parseMessage(Buffer.from('From: a@example.com\r\nMessage-ID: bare-id@example.com\r\nReferences: one@x two@x\r\n\r\nx'));
    expect(bare.messageId).toBe('bare-id@example.com');
    expect(bare.references).toEqual(['one@x', 'two@x']);
  });

  it('gives null for absent or unparseable fields', async () => {
    const m = await parseMessage(Buffer.from('X-Only: header\r\nDate: not a date at all\r\n\r\nbody\r\n'));
    expect(m).toMatchObject({ messageId: null, inReplyTo: null, references: [], subject: null, from: null, fromHeader: null, to: [], date: null, html: null });
    expect(m.text).toBe('body\n');
  });

  it('treats a message with no header block as all body', async () => {
    const m = await parseMessage(Buffer.from('hello there\r\nsecond line\r\n'));
    expect(m.headers).toEqual([]);
    expect(m.text).toBe('hello there\nsecond line\n');
  });

  it('skips an mbox From_ separator line (RFC 4155) before the header', async () => {
    const m = await parseMessage(Buffer.from('From ann@example.com Tue Apr  1 10:00:00 2025\nFrom: Ann <ann@example.com>\nSubject: mbox\n\nbody\n'));
    expect(m.subject).toBe('mbox');
    expect(m.from).toEqual({ name: 'Ann', address: 'ann@example.com' });
    expect(m.headers.map((h) => h.name)).toEqual(['from', 'subject']);
  });

  it('reads raw Latin-1 header bytes as windows-1252 instead of replacement characters', async () => {
    const m = await parseMessage(Buffer.from('From: Ren\xe9 <rene@example.net>\r\nSubject: caf\xe9 \x80 5\r\n\r\nx', 'latin1'));
    expect(m.subject).toBe('café € 5');
    expect(m.from?.name).toBe('René');
  });

  it('refuses only what cannot make a record', async () => {
    await expect(parseMessage(Buffer.alloc(0))).rejects.toBeInstanceOf(ParseRefusal);
    await expect(parseMessage(Buffer.from('\r\n\r\n  \t\0'))).rejects.toBeInstanceOf(ParseRefusal);
    await expect(parseMessage('From: a@b\r\n\r\nx' as unknown as Buffer)).rejects.toBeInstanceOf(ParseRefusal);
  });
});

describe('parse helpers', () => {
  it('formatAddress quotes names with specials', () => {
    expect(formatAddress({ name: '', address: 'a@b.c' })).toBe('a@b.c');
    expect(formatAddress({ name: 'Ann', address: 'a@b.c' })).toBe('Ann <a@b.c>');
    expect(formatAddress({ name: 'Doe, J. "JD"', address: 'a@b.c' })).toBe('"Doe, J. \\"JD\\"" <a@b.c>');
  });

  it('safeFilename keeps a base name only', () => {
    expect(safeFilename('../../etc/passwd')).toBe('passwd');
    expect(safeFilename('C:\\Windows\\evil.dll')).toBe('evil.dll');
    expect(safeFilename('..')).toBeNull();
    expect(safeFilename('.htaccess')).toBe('htaccess');
    expect(safeFilename('a\u0000b\u001b[31m.txt')).toBe('ab[31m.txt');
    expect(safeFilename('rapport final.pdf')).toBe('rapport final.pdf');
    expect(safeFilename(null)).toBeNull();
  });
});
