// The mbox writer (RFC 4155, mboxrd quoting) against awkward input: separators split across
// chunks, CRLF and bare LF, no final newline, long lines, bytes that are not UTF-8.
import { describe, expect, it } from 'vitest';
import { asctime, mboxMessage, parseMbox, separatorLine } from './mbox.ts';

async function write(chunks: Buffer[], sender: string | null = 'a@b.example'): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of mboxMessage(chunks, sender, Date.UTC(2026, 11, 3, 7, 5, 9))) out.push(c);
  return Buffer.concat(out);
}

describe('mbox', () => {
  it('writes the RFC 4155 separator with an asctime date and a one-token sender', () => {
    expect(asctime(Date.UTC(2026, 11, 3, 7, 5, 9))).toBe('Thu Dec  3 07:05:09 2026');
    expect(separatorLine('Some One <x@y>', 0)).toBe('From SomeOnex@y Thu Jan  1 00:00:00 1970\n');
    expect(separatorLine(null, 0)).toMatch(/^From MAILER-DAEMON /);
  });

  it('quotes From lines even when split across chunks, and round-trips', async () => {
    const raw = 'Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From deep\r\nFromage\r\n From not at start\r\nend';
    const pieces = [raw.slice(0, 17), raw.slice(17, 19), raw.slice(19, 40), raw.slice(40)].map((s) => Buffer.from(s));
    const text = (await write(pieces)).toString();
    expect(text.split('\n').filter((l) => l.startsWith('From ')).length).toBe(1);
    expect(text).toContain('\n>From here\n>>From there\n>>>From deep\nFromage\n From not at start\nend\n\n');
    expect(parseMbox(text).map((m) => m.message)).toEqual([raw.replace(/\r\n/g, '\n')]);
  });

  it('keeps bytes that are not UTF-8 and long lines intact', async () => {
    const bin = Buffer.concat([Buffer.from('X: y\n\n'), Buffer.from([0xff, 0xfe, 0x00, 0x80]), Buffer.from('\n' + 'a'.repeat(200_000) + '\n')]);
    const out = await write([bin.subarray(0, 3), bin.subarray(3, 9), bin.subarray(9)]);
    expect(out.includes(Buffer.from([0xff, 0xfe, 0x00, 0x80]))).toBe(true);
    expect(out.toString('latin1')).toContain('a'.repeat(200_000) + '\n');
  });

  it('writes an empty message as a separator and a blank line', async () => {
    expect((await write([], '')).toString()).toBe('From MAILER-DAEMON Thu Dec  3 07:05:09 2026\n\n');
  });
});
