// A corpus of hostile and broken MIME, shared by every door's tests (parser, MX, IMAP, POP3).
//
// Implementation notes:
// - Each item is a whole RFC 5322 message as bytes, under ~1 MB, so the MX's SIZE limit and a
//   test's time budget never decide the outcome. Big items are generated here, not checked in.
// - Items are built deterministically (no randomness, no clock): the same bytes on every run, so
//   a failure reproduces by name.
// - Line ends are CRLF unless an item is about line ends. A consumer that sends an item over SMTP
//   must dot-stuff it (nodemailer and smtplib do) — some items have lines starting with '.'.
// - `note` says what the item attacks; tests print it when an item fails.

export interface HostileItem {
  name: string;
  raw: Buffer;
  note: string;
}

const CRLF = '\r\n';

function msg(headers: string[], body: string): Buffer {
  return Buffer.from(headers.join(CRLF) + CRLF + CRLF + body, 'utf8');
}

const basic = [
  'From: Mallory <mallory@example.net>',
  'To: victim@example.com',
  'Date: Tue, 01 Apr 2025 10:00:00 +0000',
];

function deepMultipart(depth: number): Buffer {
  const parts: string[] = [...basic, 'Subject: 300 deep', 'Message-ID: <deep@example.net>', 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="b0"`, '', ''];
  for (let i = 1; i < depth; i++) parts.push(`--b${i - 1}`, `Content-Type: multipart/mixed; boundary="b${i}"`, '', '');
  parts.push(`--b${depth - 1}`, 'Content-Type: text/plain', '', 'the bottom', '');
  for (let i = depth - 1; i >= 0; i--) parts.push(`--b${i}--`, '');
  return Buffer.from(parts.join(CRLF));
}

function manyAttachments(count: number): Buffer {
  const parts: string[] = [...basic, 'Subject: many parts', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="x"', '', '--x', 'Content-Type: text/plain', '', 'see attached', ''];
  for (let i = 0; i < count; i++) {
    parts.push('--x', `Content-Type: application/octet-stream; name="a${i}.bin"`, 'Content-Disposition: attachment', '', `${i}`);
  }
  parts.push('--x--', '');
  return Buffer.from(parts.join(CRLF));
}

function nestedRfc822(levels: number): Buffer {
  let inner = msg([...basic, 'Subject: level 0', 'Content-Type: text/plain'], 'innermost body\r\n');
  for (let i = 1; i <= levels; i++) {
    inner = Buffer.concat([
      Buffer.from(
        [...basic, `Subject: level ${i}`, 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="n${i}"`, '', `--n${i}`, 'Content-Type: text/plain', '', `wrapper ${i}`, `--n${i}`, 'Content-Type: message/rfc822', '', ''].join(CRLF),
      ),
      inner,
      Buffer.from(`${CRLF}--n${i}--${CRLF}`),
    ]);
  }
  return inner;
}

function rfc2231Continuations(count: number): Buffer {
  const params: string[] = [];
  for (let i = 0; i < count; i++) params.push(` filename*${i}*=utf-8''%E2%82%AC${'x'.repeat(40)}`);
  return Buffer.from(
    [
      ...basic,
      'Subject: rfc2231',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="c"',
      '',
      '--c',
      'Content-Type: application/octet-stream',
      `Content-Disposition: attachment;${params.join(';\r\n')}`,
      'Content-Transfer-Encoding: base64',
      '',
      'aGVsbG8=',
      '--c--',
      '',
    ].join(CRLF),
  );
}

const KB = 1024;

export const HOSTILE_CORPUS: HostileItem[] = [
  {
    name: 'broken-base64',
    note: 'base64 body with invalid characters, bad padding and a truncated quantum',
    raw: msg([...basic, 'Subject: broken base64', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], 'SGVsbG8g!!!d29y*bGQ===\r\n====\r\nQUJD\r\nQQ\r\n'),
  },
  {
    name: 'broken-base64-attachment',
    note: 'attachment whose base64 is pure garbage',
    raw: msg(
      [...basic, 'Subject: broken attachment', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="q"'],
      '--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n--q\r\nContent-Type: image/png; name=x.png\r\nContent-Transfer-Encoding: base64\r\n\r\n\u00ff\u00fe%%%%====----\r\n--q--\r\n',
    ),
  },
  {
    name: 'broken-quoted-printable',
    note: 'quoted-printable with invalid escapes, a lone = at the end and soft breaks everywhere',
    raw: msg([...basic, 'Subject: broken qp', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable'], 'caf=E9 =ZZ =4 =\r\n=\r\n=3D=3=\r\nend ='),
  },
  {
    name: 'unknown-charset',
    note: 'body and encoded-word charsets no decoder knows',
    raw: msg([...basic, 'Subject: =?x-klingon?B?SGVsbG8=?= and =?utf-99?Q?w=C3=B6rld?=', 'Content-Type: text/plain; charset="x-klingon"', 'Content-Transfer-Encoding: 8bit'], 'nuqneH \u00e9\r\n'),
  },
  {
    name: 'unknown-transfer-encoding',
    note: 'a Content-Transfer-Encoding that does not exist',
    raw: msg([...basic, 'Subject: x-cte', 'Content-Type: text/plain', 'Content-Transfer-Encoding: x-uuencode-rot13'], 'begin 644 x\r\nend\r\n'),
  },
  {
    name: 'multipart-300-deep',
    note: 'multipart/mixed nested 300 levels (postal-mime default limit is 256; we cap at 64)',
    raw: deepMultipart(300),
  },
  {
    name: 'header-line-200kb',
    note: 'a single 200 KB Subject line without folding',
    raw: msg([...basic, `Subject: ${'A'.repeat(200 * KB)}`], 'body\r\n'),
  },
  {
    name: 'header-line-200kb-spaces',
    note: 'a 200 KB header of spaces and tabs (trim/split regex backtracking)',
    raw: msg([...basic, 'Subject: x', `X-Spaces: a${' \t'.repeat(100 * KB)}b`], 'body\r\n'),
  },
  {
    name: 'header-line-200kb-encoded-words',
    note: '200 KB of adjacent RFC 2047 encoded words',
    raw: msg([...basic, `Subject: ${'=?utf-8?Q?=C3=A9?= '.repeat(Math.floor((200 * KB) / 19))}`], 'body\r\n'),
  },
  {
    name: 'header-line-200kb-references',
    note: '200 KB References of message ids and unbalanced angle brackets',
    raw: msg([...basic, 'Subject: refs', `References: ${'<a@b> <<<'.repeat(Math.floor((200 * KB) / 9))}`, `In-Reply-To: ${'<'.repeat(50 * KB)}`], 'body\r\n'),
  },
  {
    name: 'header-line-200kb-addresses',
    note: 'a 200 KB To line of quotes, commas, groups and comments (address parser)',
    raw: msg(['From: "a\\"b(c' + '"(,'.repeat(30 * KB) + ' <x@y>', `To: ${'g:, "q", (c), <a@b>;, '.repeat(Math.floor((200 * KB) / 24))}`, 'Subject: addresses'], 'body\r\n'),
  },
  {
    name: 'header-line-200kb-content-type',
    note: 'a 200 KB Content-Type of empty parameters and quotes',
    raw: msg([...basic, 'Subject: ct', `Content-Type: text/plain;${';'.repeat(100 * KB)}charset="${'"'.repeat(50 * KB)}`], 'body\r\n'),
  },
  {
    name: 'many-headers',
    note: '20,000 short header fields',
    raw: msg([...basic, 'Subject: many headers', ...Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v`)], 'body\r\n'),
  },
  {
    name: 'nul-bytes',
    note: 'NUL bytes in header names, header values and the body (PostgreSQL text refuses U+0000)',
    raw: Buffer.from(`From: Nul\0l <nul@example.net>\r\nTo: victim@example.com\r\nX-N\0ul: a\0b\r\nSubject: nul\0 subject\r\nMessage-ID: <nul\0@example.net>\r\n\r\nbody\0with\0nuls\r\n\0\0\0\r\n`, 'latin1'),
  },
  {
    name: 'bare-cr-lf-mix',
    note: 'header and body lines ending in CRLF, bare LF, bare CR and LFCR',
    raw: Buffer.from('From: a@example.net\rTo: b@example.com\nSubject: line ends\r\nContent-Type: multipart/mixed; boundary=z\n\r\n--z\rContent-Type: text/plain\n\rone\rtwo\n\rthree\r\n--z--\r', 'latin1'),
  },
  {
    name: 'no-from-date-message-id',
    note: 'a message with no From, Date or Message-ID',
    raw: msg(['To: victim@example.com', 'Subject: anonymous'], 'who sent this?\r\n'),
  },
  {
    name: 'no-header-at-all',
    note: 'only a body, no header block',
    raw: Buffer.from('just a body line\r\nand another\r\n'),
  },
  {
    name: 'body-starts-with-blank-line',
    note: 'an empty header block: the first line is empty',
    raw: Buffer.from('\r\nFrom: not-a-header@example.net\r\nbody\r\n'),
  },
  {
    name: 'headers-only',
    note: 'a header block and no blank line or body',
    raw: Buffer.from('From: a@example.net\r\nTo: b@example.com\r\nSubject: no body'),
  },
  {
    name: 'garbage-header-lines',
    note: 'header lines without colons, a colon-only line, a continuation first',
    raw: Buffer.from(' continuation first\r\nno colon here\r\n:\r\n: empty name\r\nFrom: a@example.net\r\nSubject: garbage\r\n\r\nbody\r\n'),
  },
  {
    name: 'html-with-scripts',
    note: 'HTML part full of XSS vectors; parse keeps it, sanitize must neuter it',
    raw: msg(
      [...basic, 'Subject: click me', 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8'],
      '<html><head><script>alert(1)</script><meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/"></head>' +
        '<body onload="alert(2)"><img src=x onerror=alert(3)><a href="jav&#x09;ascript:alert(4)">x</a><svg onload=alert(5)></svg>' +
        '<iframe srcdoc="<script>alert(6)</script>"></iframe><form action="https://evil.example"><input name=p></form>' +
        '<div style="background:url(https://track.example/p.gif)">hi</div></body></html>\r\n',
    ),
  },
  {
    name: 'boundary-never-closed',
    note: 'a multipart whose closing boundary never comes',
    raw: msg([...basic, 'Subject: unclosed', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="open"'], '--open\r\nContent-Type: text/plain\r\n\r\npart one\r\n--open\r\nContent-Type: text/html\r\n\r\n<p>part two'),
  },
  {
    name: 'boundary-inside-body',
    note: 'the boundary string appears inside part bodies and as a prefix of other lines',
    raw: msg(
      [...basic, 'Subject: boundary in body', 'MIME-Version: 1.0', 'Content-Type: multipart/alternative; boundary="bb"'],
      'preamble --bb inline\r\n--bb\r\nContent-Type: text/plain\r\n\r\nthe text mentions --bb and\r\n--bbX is not a boundary\r\n--bb-- is the end? no, it is in the body\r\n--bb\r\nContent-Type: text/html\r\n\r\n<p>--bb</p>\r\n--bb--\r\nepilogue --bb--\r\n',
    ),
  },
  {
    name: 'multipart-without-boundary',
    note: 'multipart/mixed with no boundary parameter, and one with an empty boundary',
    raw: msg([...basic, 'Subject: no boundary', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed'], '--\r\nContent-Type: text/plain\r\n\r\nx\r\n----\r\n'),
  },
  {
    name: 'multipart-empty-boundary',
    note: 'multipart/mixed with boundary=""',
    raw: msg([...basic, 'Subject: empty boundary', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=""'], '--\r\nContent-Type: text/plain\r\n\r\nx\r\n----\r\n'),
  },
  {
    name: 'duplicate-headers',
    note: 'two From, Subject, Message-ID, Date and Content-Type headers',
    raw: msg(
      ['From: first@example.net', 'From: second@example.net', 'To: victim@example.com', 'Subject: first subject', 'Subject: second subject', 'Message-ID: <one@example.net>', 'Message-ID: <two@example.net>', 'Date: Tue, 01 Apr 2025 10:00:00 +0000', 'Date: garbage', 'Content-Type: text/plain', 'Content-Type: text/html'],
      'dup\r\n',
    ),
  },
  {
    name: 'attachments-5000',
    note: '5000 tiny attachments in one multipart',
    raw: manyAttachments(5000),
  },
  {
    name: 'rfc2231-overlong-continuations',
    note: 'a filename split into 2000 RFC 2231 continuations',
    raw: rfc2231Continuations(2000),
  },
  {
    name: 'rfc2231-out-of-order',
    note: 'RFC 2231 continuations out of order, with gaps and a bad charset',
    raw: msg(
      [...basic, 'Subject: 2231 order', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="o"'],
      "--o\r\nContent-Type: text/plain; name*3=c; name*0*=x-bad''%ZZ; name*99=z; name*1=b\r\nContent-Disposition: attachment; filename*=''\r\n\r\nx\r\n--o--\r\n",
    ),
  },
  {
    name: 'invalid-rfc2047',
    note: 'encoded words with bad encodings, unterminated, empty and nested',
    raw: msg(
      ['From: =?utf-8?B?!!!?= <a@example.net>', 'To: =?utf-8?Q?unterminated <b@example.com>', `Subject: =?utf-8?X?abc?= =??B??= =?utf-8?B?=?= =?utf-8?Q?=?utf-8?B?QQ==?=?= =?${'a'.repeat(5000)}?B?QQ==?=`, 'X-Enc: =?utf-8*en?Q?lang?= =?iso-2022-jp?B?GyRCJCIbKEI=?='],
      'body\r\n',
    ),
  },
  {
    name: '8bit-headers',
    note: 'raw Latin-1 bytes in Subject and From (invalid UTF-8)',
    raw: Buffer.from('From: Ren\xe9 M\xfcller <rene@example.net>\r\nTo: victim@example.com\r\nSubject: caf\xe9 cr\xe8me \xff\xfe\r\n\r\nbody \xe9\r\n', 'latin1'),
  },
  {
    name: 'utf8-headers',
    note: 'raw UTF-8 (RFC 6532) in Subject, a display name and a local part',
    raw: msg(['From: Jürgen Ωmega <jürgen@bücher.example>', 'To: 用户@例子.广告', 'Subject: Grüße 👋 — ünïcödé', 'Date: Tue, 01 Apr 2025 10:00:00 +0000'], 'Hallo 👋\r\n'),
  },
  {
    name: 'invalid-utf8-body',
    note: 'text/plain declared utf-8 with overlong sequences, lone continuation bytes and surrogates',
    raw: Buffer.concat([msg([...basic, 'Subject: bad utf8', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], ''), Buffer.from([0xc0, 0xaf, 0x80, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x0d, 0x0a])]),
  },
  {
    name: 'rfc822-nested-5',
    note: 'message/rfc822 nested in itself five levels (past our inline depth of 3)',
    raw: nestedRfc822(5),
  },
  {
    name: 'rfc822-empty',
    note: 'a message/rfc822 part with an empty body',
    raw: msg([...basic, 'Subject: empty rfc822', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="e"'], '--e\r\nContent-Type: message/rfc822\r\n\r\n\r\n--e--\r\n'),
  },
  {
    name: 'path-traversal-filename',
    note: 'attachment file names ../../etc/passwd, an absolute Windows path and control characters',
    raw: msg(
      [...basic, 'Subject: traversal', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="p"'],
      '--p\r\nContent-Type: text/plain\r\n\r\nsee\r\n' +
        '--p\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nroot:x:0:0\r\n' +
        '--p\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="C:\\\\Windows\\\\system32\\\\evil.dll"\r\n\r\nMZ\r\n' +
        '--p\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="=?utf-8?Q?=2E=2E=2F=0A=1B[31mred?="\r\n\r\nx\r\n--p--\r\n',
    ),
  },
  {
    name: 'absurd-dates',
    note: 'Date headers that do not parse or are out of range',
    raw: msg(['From: a@example.net', 'Subject: dates', 'Date: Mon, 99 Foo 99999999 99:99:99 +9999'], 'x\r\n'),
  },
  {
    name: 'long-body-line',
    note: 'a 900 KB body line with no line break',
    raw: msg([...basic, 'Subject: long line', 'Content-Type: text/plain'], 'x'.repeat(900 * KB)),
  },
  {
    name: 'long-html-nesting',
    note: '50,000 nested <div> elements in an HTML part (HTML-to-text recursion)',
    raw: msg([...basic, 'Subject: divs', 'Content-Type: text/html'], '<div>'.repeat(50_000) + 'deep' + '</div>'.repeat(50_000)),
  },
  {
    name: 'content-id-garbage',
    note: 'Content-ID values with no brackets, many brackets, and spaces',
    raw: msg(
      [...basic, 'Subject: cids', 'MIME-Version: 1.0', 'Content-Type: multipart/related; boundary="r"'],
      '--r\r\nContent-Type: text/html\r\n\r\n<img src="cid:a">\r\n--r\r\nContent-Type: image/gif\r\nContent-ID: <<<a>>>\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--r\r\nContent-Type: image/gif\r\nContent-ID: no brackets here\r\n\r\nx\r\n--r--\r\n',
    ),
  },
  {
    name: 'mbox-from-lines',
    note: 'an mbox "From " separator first, then 20,000 more "From " lines before the headers',
    raw: Buffer.from('From sender@example.net Tue Apr  1 10:00:00 2025\r\n'.repeat(20_000) + 'From: a@example.net\r\nSubject: mbox\r\n\r\nx\r\n'),
  },
  {
    name: 'empty-message',
    note: 'zero bytes (the parser refuses it; an SMTP DATA of nothing)',
    raw: Buffer.alloc(0),
  },
  {
    name: 'binary-garbage',
    note: '64 KB of deterministic pseudo-random bytes',
    raw: (() => {
      const b = Buffer.alloc(64 * KB);
      let x = 0x2545f491;
      for (let i = 0; i < b.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b[i] = x & 0xff;
      }
      return b;
    })(),
  },
];
