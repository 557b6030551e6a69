// Hostile input for parseMessage: every item of the shared corpus, then a seeded mutation fuzz of
// valid messages. Each input must give a ParsedMessage that keeps the output invariants (safe
// strings, bounded lists, consistent attachments) or a ParseRefusal — never any other exception.
// Nothing here asserts a duration: the big items only have to finish inside vitest's timeout.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { PARSE_LIMITS, ParseRefusal, type ParsedMessage, parseMessage } from './parse.ts';
import { HOSTILE_CORPUS } from '../testkit/hostile-mail.ts';

/**
 * The output invariants every consumer (both stores, JSON, IMAP) relies on. Violations are
 * collected and asserted once (an expect() per string makes the 5000-part item slow).
 */
function checkInvariants(m: ParsedMessage): void {
  const problems: string[] = [];
  const fail = (what: string, value: unknown) => problems.push(`${what}: ${JSON.stringify(value)?.slice(0, 120)}`);
  const str = (what: string, s: string | null, nullable = true) => {
    if (s === null) {
      if (!nullable) fail(`${what} is null`, s);
      return;
    }
    if (typeof s !== 'string') return fail(`${what} not a string`, s);
    if (s.includes('\u0000')) fail(`${what} has NUL`, s);
    if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) fail(`${what} not well-formed`, s);
  };
  const id = (what: string, s: string | null) => {
    str(what, s);
    if (s !== null && /[<>\s]/.test(s)) fail(`${what} has brackets or spaces`, s);
  };
  id('messageId', m.messageId);
  id('inReplyTo', m.inReplyTo);
  m.references.forEach((r) => id('reference', r));
  if (m.references.length > PARSE_LIMITS.maxReferences) fail('too many references', m.references.length);
  str('subject', m.subject);
  if (m.subject !== null && m.subject.length > PARSE_LIMITS.maxSubjectChars) fail('subject too long', m.subject.length);
  str('fromHeader', m.fromHeader);
  if ((m.from === null) !== (m.fromHeader === null)) fail('from and fromHeader disagree', [m.from, m.fromHeader]);
  str('text', m.text);
  str('html', m.html);
  for (const [field, list] of Object.entries({ to: m.to, cc: m.cc, bcc: m.bcc, replyTo: m.replyTo })) {
    if (list.length > PARSE_LIMITS.maxAddresses) fail(`too many ${field}`, list.length);
  }
  for (const a of [...(m.from ? [m.from] : []), ...m.to, ...m.cc, ...m.bcc, ...m.replyTo]) {
    str('address name', a.name, false);
    str('address', a.address, false);
    if (a.address === '') fail('empty address', a);
  }
  if (m.headers.length > PARSE_LIMITS.maxHeaders) fail('too many headers', m.headers.length);
  for (const h of m.headers) {
    str('header name', h.name, false);
    str('header value', h.value, false);
    if (!/^[!-9;-~]+$/.test(h.name) || h.name !== h.name.toLowerCase()) fail('bad header name', h.name);
    if (h.value.length > PARSE_LIMITS.maxHeaderValueChars) fail('header value too long', h.value.length);
  }
  if (m.date !== null && !Number.isFinite(m.date)) fail('date', m.date);
  if (m.attachments.length > PARSE_LIMITS.maxAttachments) fail('too many attachments', m.attachments.length);
  m.attachments.forEach((a, i) => {
    if (a.position !== i) fail('position', [a.position, i]);
    if (!Buffer.isBuffer(a.content)) fail('content not a Buffer', typeof a.content);
    else if (a.size !== a.content.length) fail('size', [a.size, a.content.length]);
    str('filename', a.filename);
    if (a.filename !== null && /[/\\\u0000-\u001f]/.test(a.filename)) fail('unsafe filename', a.filename);
    str('contentId', a.contentId);
    if (a.contentId !== null && /^<|>$/.test(a.contentId)) fail('contentId brackets', a.contentId);
    str('disposition', a.disposition);
    str('contentType', a.contentType, false);
    if (!/^[^/\s]+\/[^/\s]+$/.test(a.contentType)) fail('contentType', a.contentType);
  });
  // The API hands the record to JSON.stringify; it must survive a round trip.
  try {
    JSON.parse(JSON.stringify({ ...m, attachments: m.attachments.map(({ content: _c, ...rest }) => rest) }));
  } catch (err) {
    fail('JSON round trip', String(err));
  }
  expect(problems).toEqual([]);
}

async function parseOrRefuse(raw: Buffer): Promise<ParsedMessage | ParseRefusal> {
  try {
    return await parseMessage(raw);
  } catch (err) {
    if (err instanceof ParseRefusal) return err;
    throw err; // any other exception fails the test with its stack
  }
}

describe('hostile corpus', () => {
  it('has the items other doors rely on, each under ~1 MB', () => {
    const names = HOSTILE_CORPUS.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    for (const required of ['multipart-300-deep', 'header-line-200kb', 'nul-bytes', 'unknown-charset', 'html-with-scripts', 'attachments-5000', 'path-traversal-filename', 'no-header-at-all', 'rfc822-nested-5']) {
      expect(names).toContain(required);
    }
    for (const item of HOSTILE_CORPUS) expect(item.raw.length, item.name).toBeLessThanOrEqual(1024 * 1024);
  });

  for (const item of HOSTILE_CORPUS) {
    it(`${item.name}: parses or is refused (${item.note})`, async () => {
      const result = await parseOrRefuse(item.raw);
      if (!(result instanceof ParseRefusal)) checkInvariants(result);
    });
  }

  it('keeps the facts that matter from the worst items', async () => {
    const byName = (n: string) => HOSTILE_CORPUS.find((i) => i.name === n)!.raw;

    const deep = await parseMessage(byName('multipart-300-deep'));
    expect(deep.subject).toBe('300 deep'); // header-only fallback still makes a record
    expect(deep.messageId).toBe('deep@example.net');

    const long = await parseMessage(byName('header-line-200kb'));
    expect(long.subject).toBe('A'.repeat(PARSE_LIMITS.maxSubjectChars));
    expect(long.text).toBe('body\n');

    const nul = await parseMessage(byName('nul-bytes'));
    expect(nul.subject).toBe('nul subject');
    expect(nul.text).toContain('bodywithnuls');

    const many = await parseMessage(byName('attachments-5000'));
    expect(many.attachments).toHaveLength(5000);
    expect(many.attachments[4999].filename).toBe('a4999.bin');

    const traversal = await parseMessage(byName('path-traversal-filename'));
    expect(traversal.attachments.map((a) => a.filename)).toEqual(['passwd', 'evil.dll', '[31mred']);

    const dup = await parseMessage(byName('duplicate-headers'));
    expect(dup.from?.address).toBe('first@example.net');
    expect(dup.subject).toBe('first subject');
    expect(dup.messageId).toBe('one@example.net');
    expect(dup.headers.filter((h) => h.name === 'subject')).toHaveLength(2);

    const eightBit = await parseMessage(byName('8bit-headers'));
    expect(eightBit.subject).toBe('café crème ÿþ');
    expect(eightBit.from).toEqual({ name: 'René Müller', address: 'rene@example.net' });

    const utf8 = await parseMessage(byName('utf8-headers'));
    expect(utf8.subject).toBe('Grüße 👋 — ünïcödé');
    expect(utf8.from?.address).toBe('jürgen@bücher.example');

    const html = await parseMessage(byName('html-with-scripts'));
    expect(html.html).toContain('<script>'); // parse keeps the HTML as sent; sanitize.ts neuters it

    const many2231 = await parseMessage(byName('rfc2231-overlong-continuations'));
    expect(many2231.attachments[0].filename!.length).toBeLessThanOrEqual(PARSE_LIMITS.maxFilenameChars);
    expect(many2231.attachments[0].filename!.startsWith('€x')).toBe(true);

    const refs = await parseMessage(byName('header-line-200kb-references'));
    expect(refs.references).toContain('a@b');
  });

  it('falls back to a header-only record past postal-mime header budget (3 MB of headers)', async () => {
    // Too big for the shared corpus (kept under 1 MB for the SMTP doors), so built here.
    const filler = Array.from({ length: 3000 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(1000)}`).join('\r\n');
    const raw = Buffer.from(`From: Big <big@example.net>\r\nSubject: big headers\r\nMessage-ID: <big@example.net>\r\n${filler}\r\n\r\nbody\r\n`);
    const m = await parseMessage(raw);
    checkInvariants(m);
    expect(m).toMatchObject({ subject: 'big headers', messageId: 'big@example.net', from: { name: 'Big', address: 'big@example.net' }, text: null, attachments: [] });
    expect(m.headers.length).toBeLessThanOrEqual(PARSE_LIMITS.maxHeaders);
  });
});

// ---------------------------------------------------------------------------------------------
// Seeded mutation fuzz

/** xorshift32: deterministic, so a failing iteration reproduces from its seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { int: (n: number) => next() % n, pick: <T>(a: readonly T[]) => a[next() % a.length] };
}

const TOKENS = ['\r\n', '\n', '\r', '\0', '--', '=?utf-8?B?', '?=', '=?', '<', '>', '"', ';', ':', ' boundary="', '\r\n\r\n', '=\r\n', '=FF', 'Content-Type: multipart/mixed; boundary=x\r\n', '--x\r\n', 'charset=x-unknown', '\xff\xfe', '(', ')', '\\'];

function mutate(seed: number, base: Buffer): Buffer {
  const r = rng(seed);
  let b = Buffer.from(base);
  const ops = 1 + r.int(8);
  for (let k = 0; k < ops; k++) {
    const at = r.int(b.length + 1);
    switch (r.int(6)) {
      case 0: // flip bytes
        for (let i = 0; i < 1 + r.int(16) && b.length; i++) b[r.int(b.length)] = r.int(256);
        break;
      case 1: // insert a MIME-significant token
        b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(TOKENS), 'latin1'), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + r.int(200))]);
        break;
      case 3: {
        // duplicate a range somewhere else
        const len = r.int(300);
        b = Buffer.concat([b.subarray(0, at), b.subarray(r.int(b.length + 1)).subarray(0, len), b.subarray(at)]);
        break;
      }
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      default: {
        // a long run of one byte (long lines, long headers)
        const run = Buffer.alloc(r.int(20_000), r.pick([0x41, 0x20, 0x3d, 0x2d, 0x3c, 0x22, 0x00]));
        b = Buffer.concat([b.subarray(0, at), run, b.subarray(at)]);
      }
    }
  }
  return b;
}

describe('mutation fuzz', () => {
  let seeds: Buffer[] = [];
  beforeAll(async () => {
    const build = (mail: ConstructorParameters<typeof MailComposer>[0]) => new MailComposer(mail).compile().build();
    seeds = [
      await build({ from: 'Ann <ann@example.com>', to: 'bob@example.org', subject: 'Grüße', text: 'plain', html: '<p>html <img src="cid:c1"></p>', attachments: [{ filename: 'a.png', content: Buffer.alloc(300, 7), cid: 'c1' }, { filename: 'r.txt', content: 'x'.repeat(500) }], messageId: '<m1@example.com>', references: ['<r1@x>', '<r2@x>'] }),
      await build({ from: '"Doe, J" <j@example.com>', to: 'Team: a@x.com, b@x.com;', subject: 'x'.repeat(200), text: 'café =\nline\n'.repeat(40), textEncoding: 'quoted-printable' }),
      await build({ from: 'a@example.com', to: 'b@example.com', subject: 'fwd', text: 'see attached', attachments: [{ content: 'From: c@example.com\r\nSubject: inner\r\n\r\ninner body\r\n', contentType: 'message/rfc822' }] }),
      ...HOSTILE_CORPUS.filter((i) => i.raw.length < 8192).slice(0, 6).map((i) => i.raw),
    ];
  });

  it('400 seeded mutations each parse or are refused', async () => {
    let parsed = 0;
    let refused = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const raw = mutate(seed * 2654435761, seeds[seed % seeds.length]);
      let result: ParsedMessage | ParseRefusal;
      try {
        result = await parseOrRefuse(raw);
        if (result instanceof ParseRefusal) refused++;
        else {
          checkInvariants(result);
          parsed++;
        }
      } catch (err) {
        throw new Error(`seed ${seed} (base ${seed % seeds.length}): ${err instanceof Error ? err.stack : String(err)}`);
      }
    }
    expect(parsed + refused).toBe(400);
    expect(parsed).toBeGreaterThan(350); // mutations of real mail are still mail, not refusals
  });
});
