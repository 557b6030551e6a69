// Decoding header text for SEARCH and for display: charsets and RFC 2047 encoded words.
//
// Implementation notes:
// - Never throws: an unknown charset decodes as UTF-8 when the bytes are valid UTF-8, else as
//   latin1 (every byte maps to a character); broken base64/Q text decodes as far as it goes.
// - Raw 8-bit header bytes (RFC 6532) are read as UTF-8 when valid, else latin1.
// - Adjacent encoded words separated only by white space are joined (RFC 2047 §6.2).

import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  const key = charset.trim().toLowerCase();
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key === 'utf8' ? 'utf-8' : key);
    } catch {
      d = null;
    }
    if (decoders.size < 200) decoders.set(key, d);
  }
  return d;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Raw bytes as text: UTF-8 when valid, else latin1. */
export function bytesToText(bytes: Buffer): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      try {
        return fatalUtf8.decode(bytes);
      } catch {
        return bytes.toString('latin1');
      }
    }
  }
  return bytes.toString('latin1');
}

/** Decodes bytes in a MIME charset; unknown charsets fall back as described above. */
export function decodeCharset(bytes: Buffer, charset: string): string {
  const star = charset.indexOf('*'); // RFC 2231 §5 language suffix: utf-8*en
  const cs = star >= 0 ? charset.slice(0, star) : charset;
  const d = decoderFor(cs || 'us-ascii');
  if (!d) return bytesToText(bytes);
  try {
    return d.decode(bytes);
  } catch {
    return bytesToText(bytes);
  }
}

function decodeQ(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '_') out.push(0x20);
    else if (c === '=' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

const WORD = /=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * Decodes RFC 2047 encoded words in an unfolded header value. Words in the same charset next to
 * each other are decoded together, so multi-byte characters split across words survive.
 */
export function decodeWords(text: string): string {
  if (!text.includes('=?')) return text;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | null = null;
  const flush = () => {
    if (pending) out += decodeCharset(Buffer.concat(pending.bytes), pending.charset);
    pending = null;
  };
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m; m = WORD.exec(text)) {
    const between = text.slice(last, m.index);
    const adjacent = pending !== null && /^[ \t\r\n]*$/.test(between);
    const charset = m[1].toLowerCase();
    const bytes = m[2].toLowerCase() === 'b' ? Buffer.from(m[3], 'base64') : decodeQ(m[3]);
    if (adjacent && pending!.charset === charset) pending!.bytes.push(bytes);
    else {
      flush();
      if (!adjacent) out += between;
      pending = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  flush();
  return out + text.slice(last);
}
