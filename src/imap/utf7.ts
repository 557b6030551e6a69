// Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) for IMAP4rev1 clients, UTF-8 once
// IMAP4rev2 (RFC 9051 §5.1) or UTF8=ACCEPT (RFC 6855 §3) is enabled. The store keeps UTF-8.
//
// Implementation notes:
// - Decoding is tolerant: a name that is not valid modified UTF-7 (a stray '&', 8-bit bytes sent by
//   a client that never enabled UTF-8) is taken as UTF-8 as written, never refused for its encoding.
// - Encoding is exact: printable US-ASCII except '&' passes through, '&' becomes "&-", every other
//   run becomes '&' + modified BASE64 of its UTF-16BE + '-'.

export function encodeMutf7(name: string): string {
  let out = '';
  let run = '';
  const flush = () => {
    if (!run) return;
    const b = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) b.writeUInt16BE(run.charCodeAt(i), i * 2);
    out += '&' + b.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    run = '';
  };
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0x20 && c <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else {
      run += ch;
    }
  }
  flush();
  return out;
}

/** Modified UTF-7 → UTF-8; returns the input unchanged when it is not valid modified UTF-7. */
export function decodeMutf7(name: string): string {
  if (!name.includes('&') || /[^\x20-\x7e]/.test(name)) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch !== '&') {
      out += ch;
      continue;
    }
    const end = name.indexOf('-', i + 1);
    if (end < 0) return name;
    const b64 = name.slice(i + 1, end);
    i = end;
    if (!b64) {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) return name;
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2) return name;
    for (let j = 0; j < bytes.length; j += 2) out += String.fromCharCode(bytes.readUInt16BE(j));
  }
  return out;
}
