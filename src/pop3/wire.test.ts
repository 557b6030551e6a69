// The POP3 wire helpers on their own: CRLF + byte-stuffing however a message is cut into chunks,
// TOP's cut, and the line reader's limits (hostile input: long lines, NULs, bare CRs).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CrlfEncoder, LineReader, crlfSize, topOf } from './wire.ts';

function encodeWhole(input: Buffer, stuff: boolean): Buffer {
  const e = new CrlfEncoder(stuff);
  return Buffer.concat([e.push(input), e.end()]);
}

function encodeChunked(input: Buffer, stuff: boolean, cuts: number[]): Buffer {
  const e = new CrlfEncoder(stuff);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, input.length]) {
    out.push(e.push(input.subarray(from, c)));
    from = c;
  }
  out.push(e.end());
  return Buffer.concat(out);
}

describe('CrlfEncoder', () => {
  it('turns bare LF and CR into CRLF, stuffs leading dots, and ends the last line', () => {
    const out = encodeWhole(Buffer.from('a\nb\rc\r\n.d\n..e\r\n.\nend'), true).toString();
    expect(out).toBe('a\r\nb\r\nc\r\n..d\r\n...e\r\n..\r\nend\r\n');
    expect(encodeWhole(Buffer.from('.first line\r\n'), true).toString()).toBe('..first line\r\n');
    expect(encodeWhole(Buffer.from('x.y\r\n'), true).toString()).toBe('x.y\r\n');
    expect(encodeWhole(Buffer.alloc(0), true).length).toBe(0);
    expect(crlfSize([Buffer.from('a\nb\r\n')])).toBe(6);
  });

  it('gives the same bytes whatever the chunk boundaries (CR|LF, |.)', () => {
    const samples = [Buffer.from('ab\r\n.cd\r\r\n\n.\r.x\n'), Buffer.concat([randomBytes(4000), Buffer.from('\r\n.\r\n\r')])];
    for (const s of samples) {
      for (const stuff of [true, false]) {
        const whole = encodeWhole(s, stuff);
        for (let i = 0; i < 200; i++) {
          const cuts = Array.from({ length: 1 + (i % 7) }, () => Math.floor(Math.random() * s.length)).sort((a, b) => a - b);
          expect(encodeChunked(s, stuff, cuts).equals(whole)).toBe(true);
        }
        // Every single cut position, for the small sample.
        if (s.length < 100) for (let c = 0; c <= s.length; c++) expect(encodeChunked(s, stuff, [c]).equals(whole)).toBe(true);
      }
    }
  });

  it('produces output where no line end is bare and every dot-led line is stuffed', () => {
    const out = encodeWhole(randomBytes(20_000), true).toString('latin1');
    expect(/[^\r]\n|\r[^\n]/.test(out)).toBe(false);
    for (const line of out.split('\r\n')) if (line.startsWith('.')) expect(line.startsWith('..')).toBe(true);
  });
});

describe('topOf', () => {
  const msg = Buffer.from('A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n');
  it('keeps the header, the blank line and n body lines', () => {
    expect(topOf(msg, 0).toString()).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(topOf(msg, 2).toString()).toBe('A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n');
    expect(topOf(msg, 99).toString()).toBe(msg.toString());
    expect(topOf(Buffer.from('Only: header\r\n'), 3).toString()).toBe('Only: header\r\n');
  });
});

describe('LineReader', () => {
  function read(chunks: Buffer[], max = 16) {
    const out: string[] = [];
    const r = new LineReader(max, (l) => out.push(l.toString('latin1')), () => out.push('<too long>'));
    for (const c of chunks) r.push(c);
    return out;
  }

  it('splits on LF across chunks, drops one CR before it', () => {
    expect(read([Buffer.from('US'), Buffer.from('ER a\r'), Buffer.from('\nPASS b\nNOOP\r\r\n')])).toEqual(['USER a', 'PASS b', 'NOOP\r']);
  });

  it('reports a long line once and drops it to its end, then reads on', () => {
    expect(read([Buffer.from('x'.repeat(10)), Buffer.from('y'.repeat(100)), Buffer.from('z'.repeat(100) + '\nNOOP\n')])).toEqual(['<too long>', 'NOOP']);
    expect(read([Buffer.from('a'.repeat(16) + '\n' + 'b'.repeat(17) + '\nok\n')])).toEqual(['a'.repeat(16), '<too long>', 'ok']);
  });

  it('passes NUL bytes and binary through for the session to judge', () => {
    expect(read([Buffer.from([0x4e, 0x00, 0x4f, 0x0a, 0xff, 0x0a])]).map((l) => Buffer.from(l, 'latin1'))).toEqual([Buffer.from([0x4e, 0, 0x4f]), Buffer.from([0xff])]);
  });
});
