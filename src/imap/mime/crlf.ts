// Line-ending normalisation for messages that arrive with bare LF or bare CR (APPEND from some
// clients, files imported from Unix mailboxes). IMAP clients expect CRLF (RFC 9051 §2.3.1 and
// RFC 5322 §2.1); a store that normalises at ingest keeps RFC822.SIZE, BODYSTRUCTURE sizes and
// BODY[] bytes consistent. Every CR LF pair is kept; any other CR or LF becomes CR LF.

export function normalizeCrlf(raw: Buffer): Buffer {
  let needed = false;
  for (let i = raw.indexOf(10); i >= 0; i = raw.indexOf(10, i + 1)) {
    if (i === 0 || raw[i - 1] !== 13) {
      needed = true;
      break;
    }
  }
  if (!needed) {
    for (let i = raw.indexOf(13); i >= 0; i = raw.indexOf(13, i + 1)) {
      if (raw[i + 1] !== 10) {
        needed = true;
        break;
      }
    }
  }
  if (!needed) return raw;
  const out = Buffer.allocUnsafe(raw.length * 2);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 13) {
      out[n++] = 13;
      out[n++] = 10;
      if (raw[i + 1] === 10) i++;
    } else if (c === 10) {
      out[n++] = 13;
      out[n++] = 10;
    } else out[n++] = c;
  }
  return Buffer.from(out.subarray(0, n));
}
