// mbox files (RFC 4155 "default" format, mboxrd quoting) for exports: one message after another,
// each opened by a `From ` separator line, body lines that look like separators (`>*From `)
// quoted with one more `>` so a reader can undo it, lines ended by LF, a blank line after each.
//
// Implementation notes:
// - A message is streamed from its blob chunk by chunk; only the current unfinished line is held.
// - The separator's date is asctime-style in UTC (RFC 4155 §2: `From sender Thu Dec  3 17:35:29 2026`).
import type { Readable } from 'node:stream';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

export function asctime(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** The separator line; the sender is reduced to one token without spaces (RFC 4155 §2). */
export function separatorLine(sender: string | null, ms: number): string {
  const s = (sender ?? '').replace(/[\s<>]+/g, '') || 'MAILER-DAEMON';
  return `From ${s} ${asctime(ms)}\n`;
}

const FROM_LINE = /^>*From /;

function quoteLine(line: Buffer): Buffer {
  let end = line.length;
  if (end && line[end - 1] === 13) end--;
  const text = line.subarray(0, end);
  // Cheap test on the first bytes: only lines starting with '>' or 'F' can need quoting.
  if ((text[0] === 0x3e || text[0] === 0x46) && FROM_LINE.test(text.subarray(0, 64).toString('latin1'))) {
    return Buffer.concat([Buffer.from('>'), text, Buffer.from('\n')]);
  }
  return Buffer.concat([text, Buffer.from('\n')]);
}

/** One message as mbox bytes: separator, quoted lines, a blank line. */
export async function* mboxMessage(body: Readable | AsyncIterable<Buffer> | Iterable<Buffer>, sender: string | null, ms: number): AsyncGenerator<Buffer> {
  yield Buffer.from(separatorLine(sender, ms));
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (let i = buf.indexOf(10, start); i !== -1; i = buf.indexOf(10, start)) {
      out.push(quoteLine(buf.subarray(start, i)));
      start = i + 1;
    }
    rest = Buffer.from(buf.subarray(start));
    if (out.length) yield Buffer.concat(out);
  }
  if (rest.length) yield quoteLine(rest);
  yield Buffer.from('\n');
}

/** Splits an mbox back into messages, undoing the quoting (tests and readers of exports). */
export function parseMbox(text: string): { separator: string; message: string }[] {
  const out: { separator: string; message: string }[] = [];
  const lines = text.split('\n');
  let cur: { separator: string; lines: string[] } | null = null;
  for (const line of lines) {
    if (line.startsWith('From ')) {
      if (cur) out.push({ separator: cur.separator, message: cur.lines.join('\n') });
      cur = { separator: line, lines: [] };
      continue;
    }
    cur?.lines.push(FROM_LINE.test(line) && line.startsWith('>') ? line.slice(1) : line);
  }
  if (cur) out.push({ separator: cur.separator, message: cur.lines.join('\n') });
  // Each message ends with the blank line the writer added (and the file's last newline).
  return out.map((m) => ({ ...m, message: m.message.replace(/\n\n?$/, '') }));
}
