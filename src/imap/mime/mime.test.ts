// The message-structure toolkit on its own: part tree, sections, BINARY, header helpers, the
// serialiser and the limits. (Agreement with Dovecot is in dovecot.test.ts, fuzzing in fuzz.test.ts.)
import { describe, expect, it } from 'vitest';
import { HOSTILE_CORPUS } from '../../testkit/hostile-mail.ts';
import {
  MAX_DEPTH,
  MAX_PARTS,
  atom,
  binarySection,
  binarySize,
  bodyStructure,
  decodeWords,
  envelope,
  findPart,
  headerField,
  indexMime,
  literal,
  literal8,
  messageDate,
  normalizeCrlf,
  parseDate,
  parseSection,
  partial,
  section,
  sectionName,
  serialize,
  type MimeNode,
} from './index.ts';
import { CORPUS } from '../../testkit/mime/corpus.ts';
import { partPaths } from '../../testkit/mime/items.ts';
import { parseValue } from '../../testkit/mime/imap-value.ts';

const corpus = (name: string) => CORPUS.find((c) => c.name === name)!.raw;
const hostile = (name: string) => HOSTILE_CORPUS.find((c) => c.name === name)!.raw;
const sec = (raw: Buffer, spec: string) => section(raw, indexMime(raw), parseSection(spec)!).toString('latin1');

function nodes(root: MimeNode): MimeNode[] {
  const out: MimeNode[] = [];
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    stack.push(...n.children);
    if (n.message) stack.push(n.message);
  }
  return out;
}

function checkInvariants(raw: Buffer, root: MimeNode): void {
  const bad: string[] = [];
  for (const n of nodes(root)) {
    const at = `part ${n.path.join('.') || '(top)'} depth ${n.depth}`;
    if (!(0 <= n.headerStart && n.headerStart <= n.fieldsEnd && n.fieldsEnd <= n.headerEnd)) bad.push(`${at}: header offsets`);
    if (n.headerEnd !== n.bodyStart) bad.push(`${at}: headerEnd != bodyStart`);
    if (!(n.bodyStart <= n.bodyEnd && n.bodyEnd <= raw.length)) bad.push(`${at}: body offsets`);
    for (const c of [...n.children, ...(n.message ? [n.message] : [])]) {
      if (!(c.headerStart >= n.bodyStart && c.bodyEnd <= n.bodyEnd)) bad.push(`${at}: child outside the body`);
    }
  }
  expect(bad).toEqual([]);
}

describe('indexMime', () => {
  it('keeps every part inside its parent, for the corpus and the hostile corpus', () => {
    for (const { raw } of [...CORPUS, ...HOSTILE_CORPUS]) checkInvariants(raw, indexMime(raw));
  });

  it('numbers parts per RFC 9051 §6.4.5, message/rfc822 parts included', () => {
    const raw = corpus('message-rfc822');
    expect(sec(raw, '1')).toBe('Forwarding two messages.');
    expect(sec(raw, '2.HEADER')).toMatch(/^From: Carol <carol@example.net>\r\n[\s\S]*boundary="I"\r\n\r\n$/);
    expect(sec(raw, '2.1')).toBe('inner plain');
    expect(sec(raw, '2.2.MIME')).toBe('Content-Type: text/html\r\n\r\n');
    expect(sec(raw, '2.2')).toBe('<b>inner html</b>');
    expect(sec(raw, '2.TEXT')).toMatch(/^--I\r\n[\s\S]*--I--\r\n$/);
    // a non-multipart encapsulated message: its part 1 is its body
    expect(sec(raw, '3.1')).toBe('single part body\r\ntwo lines');
    expect(sec(raw, '3.TEXT')).toBe('single part body\r\ntwo lines');
    expect(sec(raw, '3.HEADER.FIELDS (SUBJECT)')).toBe('Subject: inner single\r\n\r\n');
    expect(sec(raw, '3')).toBe('From: dave@example.com\r\nSubject: inner single\r\n\r\nsingle part body\r\ntwo lines');
    // a non-multipart top-level message: part 1 is its body
    const plain = corpus('plain');
    expect(sec(plain, '1')).toBe(sec(plain, 'TEXT'));
    expect(sec(plain, '2')).toBe('');
    expect(sec(plain, '1.1')).toBe('');
    // a top-level message/rfc822
    const top = corpus('top-rfc822');
    expect(sec(top, '1.1')).toBe('part one');
    expect(sec(top, '1.2')).toBe('<p>two</p>');
    expect(sec(top, '1.HEADER.FIELDS (subject)')).toBe('Subject: inside\r\n\r\n');
  });

  it('handles preamble, epilogue, transport padding and a missing close delimiter', () => {
    const alt = corpus('alternative');
    expect(sec(alt, '1')).toBe('Caf=E9 =3D coffee, soft=\r\nbreak here.   \r\n');
    expect(sec(alt, 'TEXT')).toMatch(/^This is a preamble[\s\S]*--ALT--\r\nAn epilogue.\r\n$/);
    const open = corpus('missing-close');
    const root = indexMime(open);
    expect(root.children.map((c) => sec(open, c.path.join('.')))).toEqual(['one', 'two without end\r\n']);
  });

  it('gives LF-only mail the same tree as CRLF mail', () => {
    const lf = corpus('lf-only');
    const crlf = corpus('message-rfc822');
    const shape = (raw: Buffer) => partPaths(indexMime(raw)).map(({ path, node }) => `${path.join('.')} ${node.type}/${node.subtype}`);
    expect(shape(lf)).toEqual(shape(crlf));
    const lfRoot = indexMime(lf);
    for (const { path } of partPaths(lfRoot)) {
      for (const suffix of ['', '.MIME']) {
        const p = path.join('.') + suffix;
        expect(normalizeCrlf(Buffer.from(sec(lf, p), 'latin1')).toString('latin1'), p).toBe(sec(crlf, p));
      }
    }
    expect(normalizeCrlf(lf).equals(crlf)).toBe(true);
  });

  it('defaults to text/plain us-ascii and, in a digest, to message/rfc822', () => {
    const none = indexMime(corpus('no-content-type'));
    expect([none.type, none.subtype, none.params]).toEqual(['text', 'plain', [['charset', 'us-ascii']]]);
    const digest = indexMime(corpus('digest'));
    expect(digest.children.map((c) => `${c.type}/${c.subtype}`)).toEqual(['message/rfc822', 'text/plain']);
    expect(sec(corpus('digest'), '1.1')).toBe('first body');
  });

  it('reads RFC 2231 parameters: continuations joined, extended values kept encoded', () => {
    const root = indexMime(corpus('rfc2231'));
    expect(root.children[1].params).toEqual([['name*', "utf-8''%E2%82%AC%20rates.txt"]]);
    expect(root.children[2].params[0]).toEqual(['title*', "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!"]);
  });

  it(`stops descending at depth ${MAX_DEPTH} and stays usable`, () => {
    const raw = hostile('multipart-300-deep');
    const root = indexMime(raw);
    const all = nodes(root);
    expect(Math.max(...all.map((n) => n.depth))).toBe(MAX_DEPTH);
    const deepest = all.find((n) => n.depth === MAX_DEPTH)!;
    expect(deepest.opaque).toBe(true);
    expect(raw.toString('latin1', deepest.bodyStart, deepest.bodyEnd)).toContain('the bottom');
    const bs = serialize(bodyStructure(root, raw, true));
    expect(bs.toString()).toContain('"application" "octet-stream"');
    expect(() => parseValue(bs)).not.toThrow();
  });

  it('survives 20,000 levels of message/rfc822 and multipart nesting without deep recursion', () => {
    const levels = 20_000;
    const head = Array.from({ length: levels }, (_, i) => (i % 2 ? 'Content-Type: message/rfc822\r\n\r\n' : `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`)).join('');
    const raw = Buffer.from(head + 'bottom\r\n');
    const root = indexMime(raw);
    checkInvariants(raw, root);
    expect(Math.max(...nodes(root).map((n) => n.depth))).toBe(MAX_DEPTH);
    expect(() => parseValue(serialize(bodyStructure(root, raw, true)))).not.toThrow();
  });

  it(`counts at most ${MAX_PARTS} parts; the rest stays in the last part`, () => {
    const count = MAX_PARTS + 500;
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=x\r\n\r\n' + Array.from({ length: count }, (_, i) => `--x\r\n\r\n${i}\r\n`).join('') + '--x--\r\n');
    const root = indexMime(raw);
    expect(root.children.length).toBe(MAX_PARTS - 1);
    checkInvariants(raw, root);
    expect(sec(raw, `${MAX_PARTS - 1}`)).toMatch(/^9998\r\n--x\r\n\r\n9999\r\n[\s\S]*\r\n10499$/);
  });

  it('indexes a 200 KB header line and keeps it whole', () => {
    const raw = hostile('header-line-200kb');
    const root = indexMime(raw);
    expect(headerField(root, raw, 'subject')[0].length).toBe(200 * 1024);
    expect(sec(raw, 'TEXT')).toBe('body\r\n');
  });

  it('handles the empty message and a header without body', () => {
    const empty = Buffer.alloc(0);
    const root = indexMime(empty);
    expect([root.bodyStart, root.bodyEnd]).toEqual([0, 0]);
    expect(serialize(bodyStructure(root, empty, false)).toString()).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)');
    const hdr = corpus('header-only');
    expect(sec(hdr, 'HEADER')).toBe(hdr.toString('latin1'));
    expect(sec(hdr, 'TEXT')).toBe('');
  });
});

describe('sections', () => {
  it('parses section specs and refuses malformed ones', () => {
    expect(parseSection('')).toEqual({ part: [], text: '', fields: [] });
    expect(parseSection('1.2.3')).toEqual({ part: [1, 2, 3], text: '', fields: [] });
    expect(parseSection('header')).toEqual({ part: [], text: 'HEADER', fields: [] });
    expect(parseSection('2.mime')).toEqual({ part: [2], text: 'MIME', fields: [] });
    expect(parseSection('1.HEADER.FIELDS.NOT (From "X-Y z")')).toEqual({ part: [1], text: 'HEADER.FIELDS.NOT', fields: ['From', 'X-Y z'] });
    for (const bad of ['MIME', '0', '1.', '1..2', '01', 'HEADER.FIELDS', 'HEADER.FIELDS ()', 'HEADER.FIELDS (a', '1.FOO', 'TEXT (A)', '1MIME', 'HEADER.FIELDS (a(b)']) {
      expect(parseSection(bad), bad).toBeNull();
    }
    expect(sectionName(parseSection('1.header.fields (from "x y")')!)).toBe('1.HEADER.FIELDS (FROM "x y")');
  });

  it('HEADER.FIELDS and HEADER.FIELDS.NOT split the header between them', () => {
    for (const { raw } of [...CORPUS, ...HOSTILE_CORPUS]) {
      const root = indexMime(raw);
      const yes = section(raw, root, parseSection('HEADER.FIELDS (From Subject Content-Type)')!);
      const no = section(raw, root, parseSection('HEADER.FIELDS.NOT (From Subject Content-Type)')!);
      // each side ends with the blank line when there is one; an unterminated last line gets CRLF
      const blank = root.headerEnd > root.fieldsEnd ? 2 : 0;
      const unterminated = root.fieldsEnd > root.headerStart && raw[root.fieldsEnd - 1] !== 10 ? 2 : 0;
      expect(yes.length + no.length).toBe(root.fieldsEnd - root.headerStart + 2 * blank + unterminated);
    }
    const raw = corpus('plain');
    expect(sec(raw, 'HEADER.FIELDS (to SUBJECT)')).toBe('To: Bob <bob@example.com>, carol@example.com,\r\n "Doe, John" <john.doe@example.net>\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= plans\r\n  for the weekend\r\n\r\n');
  });

  it('slices <origin.count>', () => {
    const b = Buffer.from('0123456789');
    expect(partial(b, 2, 3).toString()).toBe('234');
    expect(partial(b, 8, 100).toString()).toBe('89');
    expect(partial(b, 10, 1).length).toBe(0);
    expect(partial(b, 99).length).toBe(0);
    expect(partial(b, 0, 0).length).toBe(0);
  });
});

describe('BINARY', () => {
  const raw = corpus('alternative');
  const root = indexMime(raw);
  it('undoes quoted-printable and base64', () => {
    const qp = binarySection(raw, root, [1]);
    expect(qp.ok && qp.data.toString('latin1')).toBe('Caf\u00e9 = coffee, softbreak here.\r\n');
    const b64 = binarySection(raw, root, [2]);
    expect(b64.ok && b64.data.toString('utf8')).toBe('<p>Caf\u00e9 = coffee</p>\r\n');
    expect(binarySize(raw, root, [2])).toEqual({ ok: true, size: Buffer.byteLength('<p>Caf\u00e9 = coffee</p>\r\n') });
  });

  it('reports an unknown encoding and a missing part', () => {
    const u = corpus('unknown-cte');
    const ur = indexMime(u);
    expect(binarySection(u, ur, [1])).toEqual({ ok: false, code: 'UNKNOWN-CTE' });
    const qp = binarySection(u, ur, [2]);
    expect(qp.ok && qp.data.toString('utf8')).toBe('a=bc \u00e9');
    expect(binarySection(raw, root, [7])).toEqual({ ok: false, code: 'NONEXISTENT' });
    expect(binarySize(raw, root, [7])).toEqual({ ok: false, code: 'NONEXISTENT' });
  });

  it('decodes broken quoted-printable tolerantly', () => {
    const b = hostile('broken-quoted-printable');
    const r = binarySection(b, indexMime(b), [1]);
    expect(r.ok && r.data.toString('latin1')).toBe('caf\u00e9 =ZZ =4 ==3end ');
  });
});

describe('header helpers', () => {
  it('decodes RFC 2047 words for SEARCH and reads the Date header', () => {
    const raw = corpus('plain');
    const root = indexMime(raw);
    expect(headerField(root, raw, 'Subject')).toEqual(['Caf\u00e9 plans  for the weekend']);
    expect(headerField(root, raw, 'x-absent')).toEqual([]);
    expect(messageDate(root, raw)).toBe(Date.UTC(2025, 3, 1, 8, 0, 0));
    const utf8 = corpus('utf8-headers');
    expect(headerField(indexMime(utf8), utf8, 'subject')).toEqual(['Gr\u00fc\u00dfe']);
  });

  it('decodes encoded words: adjacent words joined, split characters rebuilt, unknown charsets survive', () => {
    expect(decodeWords('=?utf-8?q?a?= =?utf-8?q?b?=  c')).toBe('ab  c');
    expect(decodeWords('=?UTF-8?B?w6k=?=')).toBe('\u00e9');
    expect(decodeWords('=?utf-8?Q?=C3?= =?utf-8?Q?=A9?=')).toBe('\u00e9');
    expect(decodeWords('=?iso-8859-1?q?caf=E9_au_lait?=')).toBe('caf\u00e9 au lait');
    expect(decodeWords('=?x-klingon?B?SGVsbG8=?=')).toBe('Hello');
    expect(decodeWords('plain =?bad')).toBe('plain =?bad');
  });

  it('parses RFC 5322 dates, obsolete forms included', () => {
    expect(parseDate('Tue, 1 Jul 2003 10:52:37 +0200')).toBe(Date.UTC(2003, 6, 1, 8, 52, 37));
    expect(parseDate('2 Apr 2025 11:00 -0500')).toBe(Date.UTC(2025, 3, 2, 16, 0, 0));
    expect(parseDate('Sun, 06 Apr 25 08:00:00 EST (comment)')).toBe(Date.UTC(2025, 3, 6, 13, 0, 0));
    expect(parseDate('06 Apr 99 08:00 GMT')).toBe(Date.UTC(1999, 3, 6, 8, 0, 0));
    expect(parseDate('garbage')).toBeNull();
    expect(parseDate('32 Jan 2025 10:00')).toBeNull();
  });

  it('builds ENVELOPE with group syntax and Sender/Reply-To defaulting to From', () => {
    const raw = corpus('plain');
    const env = serialize(envelope(indexMime(raw), raw)).toString('latin1');
    expect(env).toBe(
      '("Tue, 01 Apr 2025 10:00:00 +0200" "=?UTF-8?Q?Caf=C3=A9?= plans  for the weekend" (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.com")(NIL NIL "carol" "example.com")("Doe, John" NIL "john.doe" "example.net")) ((NIL NIL "Team" NIL)(NIL NIL "dave" "example.com")("Eve" NIL "eve" "example.com")(NIL NIL NIL NIL)(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL "<earlier@example.com>" "<plain-1@example.org>")',
    );
  });
});

describe('hostile headers', () => {
  it('reads address headers with stray specials (a fuzz finding: this used to loop forever)', () => {
    const raw = Buffer.from('From: a@b]c.d, x)y <z@w>, ((, ]], "unclosed\r\nTo: <<<@>>>, @, :;, ;\r\n\r\nbody');
    const env = serialize(envelope(indexMime(raw), raw));
    expect(() => parseValue(env)).not.toThrow();
    expect(env.toString()).toContain('"z" "w"');
  });

  it('stays linear on 100,000 header lines without a colon', () => {
    const raw = Buffer.from('x\r\n'.repeat(100_000) + 'Subject: last\r\n\r\nbody');
    const root = indexMime(raw);
    expect(headerField(root, raw, 'subject')).toEqual(['last']);
    expect(section(raw, root, parseSection('HEADER.FIELDS.NOT (subject)')!).length).toBe(300_002);
  });
});

describe('serialize', () => {
  it('writes NIL, numbers, quoted strings, atoms and lists', () => {
    expect(serialize([null, 7, 'a"b\\c', atom('\\Seen'), [Buffer.from('x'), []]]).toString()).toBe('(NIL 7 "a\\"b\\\\c" \\Seen ("x" ()))');
  });

  it('writes a literal for CR, LF, 8-bit and long strings, counting bytes', () => {
    expect(serialize('a\r\nb').toString()).toBe('{4}\r\na\r\nb');
    expect(serialize('\u00e9').toString('latin1')).toBe('{2}\r\n\u00c3\u00a9');
    expect(serialize(Buffer.from([0xe9])).toString('latin1')).toBe('{1}\r\n\u00e9');
    expect(serialize('x'.repeat(2000)).toString().startsWith('{2000}\r\nxx')).toBe(true);
    expect(serialize(literal('short')).toString()).toBe('{5}\r\nshort');
  });

  it('never sends NUL in a literal, but does in literal8', () => {
    const data = Buffer.from([0x61, 0, 0x62]);
    expect([...serialize(literal(data))]).toEqual([...Buffer.from('{3}\r\n'), 0x61, 0x80, 0x62]);
    expect([...serialize(literal8(data))]).toEqual([...Buffer.from('~{3}\r\n'), 0x61, 0, 0x62]);
    expect([...data]).toEqual([0x61, 0, 0x62]); // the caller's buffer is untouched
  });
});
