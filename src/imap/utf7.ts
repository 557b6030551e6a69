// Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) for IMAP4rev1 clients, UTF-8 once
// IMAP4rev2 (RFC 9051 §5.1) or UTF8=ACCEPT (RFC 6855 §3) is enabled. The store keeps UTF-8.
//
// Implementation notes:
// - Decoding is tolerant: a name that is not valid modified UTF-7 (a stray '&', 8-bit bytes sent by
//   a client that never enabled UTF-8) is taken as UTF-8 as written, never refused for its encoding.
// - A name a client asks us to create (CREATE, RENAME's target) must be valid modified UTF-7 in a
//   session that has not enabled UTF-8 (RFC 3501 §5.1.3): mutf7Error() says why it is not, so the
//   store never gets a name that no client can write back.
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

/**
 * Why `name` is not valid modified UTF-7 (RFC 3501 §5.1.3), or null when it is: every '&' opens a
 * shift closed by '-'; the shift holds modified BASE64 of whole UTF-16 units with zero padding bits,
 * well-formed surrogate pairs, and no printable US-ASCII (which must represent itself).
 */
export function mutf7Error(name: string): string | null {
  if (/[^\x20-\x7e]/.test(name)) return null; // 8-bit: taken as UTF-8, see above
  for (let i = 0; i < name.length; i++) {
    if (name[i] !== '&') continue;
    const end = name.indexOf('-', i + 1);
    if (end < 0) return 'an "&" shift is not closed by "-"';
    const b64 = name.slice(i + 1, end);
    i = end;
    if (!b64) continue; // "&-" is "&"
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) return 'a shift holds characters outside modified BASE64';
    const bits = b64.length * 6;
    const units = Math.floor(bits / 16);
    if (bits % 16 >= 6 || units === 0) return 'a shift does not hold whole UTF-16 characters';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    // Padding bits must be zero: re-encoding the decoded units gives the same text.
    if (Buffer.from(bytes.subarray(0, units * 2)).toString('base64').replace(/=+$/, '').replace(/\//g, ',') !== b64) return 'a shift has non-zero padding bits';
    for (let j = 0; j < units * 2; j += 2) {
      const u = bytes.readUInt16BE(j);
      if (u >= 0x20 && u <= 0x7e) return 'printable US-ASCII must not be encoded';
      if (u >= 0xd800 && u <= 0xdbff) {
        const next = j + 2 < units * 2 ? bytes.readUInt16BE(j + 2) : -1;
        if (next < 0xdc00 || next > 0xdfff) return 'a lone surrogate';
        j += 2;
      } else if (u >= 0xdc00 && u <= 0xdfff) return 'a lone surrogate';
    }
  }
  return null;
}
