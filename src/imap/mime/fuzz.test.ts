// Seeded mutation fuzzing: mutated corpus messages never make indexMime, ENVELOPE, BODY,
// BODYSTRUCTURE, any BODY[section] or BINARY throw; every section lies within the message's bytes;
// every structure serialises to a value an IMAP parser reads back whole. A failure names its seed.
import { describe, expect, it } from 'vitest';
import { HOSTILE_CORPUS } from '../../testkit/hostile-mail.ts';
import { binarySection, bodyStructure, envelope, indexMime, parseSection, section, serialize, type MimeNode } from './index.ts';
import { CORPUS } from '../../testkit/mime/corpus.ts';
import { partPaths } from '../../testkit/mime/items.ts';
import { Cursor } from '../../testkit/mime/imap-value.ts';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SNIPPETS = [
  '\r\n',
  '\n',
  '\r',
  '\r\n\r\n',
  '--',
  '--x\r\n',
  '--x--\r\n',
  'Content-Type: multipart/mixed; boundary=x\r\n\r\n',
  'Content-Type: message/rfc822\r\n\r\n',
  'Content-Type: multipart/digest; boundary="x"\r\n',
  'Content-Transfer-Encoding: base64\r\n',
  'Content-Transfer-Encoding: quoted-printable\r\n',
  'Content-Disposition: attachment; filename*0*=utf-8\'\'%E2; filename*1=x\r\n',
  ' folded',
  '=?utf-8?q?=C3?=',
  '\0',
  '"',
  '(',
  ':',
  '<',
  ';',
  '=',
];

function mutate(src: Buffer, r: () => number): Buffer {
  let b = Buffer.from(src);
  const steps = 1 + Math.floor(r() * 6);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(r() * (b.length + 1));
    const kind = Math.floor(r() * 6);
    if (kind === 0 && b.length) {
      b[Math.min(at, b.length - 1)] = Math.floor(r() * 256);
    } else if (kind === 1) {
      const len = Math.floor(r() * 64);
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]);
    } else if (kind === 2) {
      const from = Math.floor(r() * b.length);
      const len = Math.floor(r() * 200);
      b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)]);
    } else if (kind === 3) {
      // a boundary the message already uses, or a made-up one
      const m = /boundary="?([^";\r\n]+)/.exec(b.toString('latin1'));
      const line = `\r\n--${m ? m[1] : 'x'}${r() < 0.3 ? '--' : ''}\r\n`;
      b = Buffer.concat([b.subarray(0, at), Buffer.from(line, 'latin1'), b.subarray(at)]);
    } else {
      const snip = SNIPPETS[Math.floor(r() * SNIPPETS.length)];
      b = Buffer.concat([b.subarray(0, at), Buffer.from(snip, 'latin1'), b.subarray(at)]);
    }
  }
  return b;
}

function within(raw: Buffer, out: Buffer): boolean {
  if (out.length === 0) return true;
  return out.buffer === raw.buffer && out.byteOffset >= raw.byteOffset && out.byteOffset + out.length <= raw.byteOffset + raw.length;
}

function readsBackWhole(bytes: Buffer): boolean {
  const c = new Cursor(bytes);
  c.value();
  return c.i === bytes.length;
}

function exercise(raw: Buffer): void {
  const root: MimeNode = indexMime(raw);
  expect(readsBackWhole(serialize(bodyStructure(root, raw, true)))).toBe(true);
  expect(readsBackWhole(serialize(bodyStructure(root, raw, false)))).toBe(true);
  expect(readsBackWhole(serialize(envelope(root, raw)))).toBe(true);
  const paths = partPaths(root).map((p) => p.path.join('.'));
  paths.push('99', '1.99', '1.1.1.1');
  for (const text of ['', 'HEADER', 'TEXT']) expect(within(raw, section(raw, root, parseSection(text)!))).toBe(true);
  for (const p of paths) {
    for (const suffix of ['', '.MIME', '.HEADER', '.TEXT']) {
      expect(within(raw, section(raw, root, parseSection(p + suffix)!)), p + suffix).toBe(true);
    }
    const fields = section(raw, root, parseSection(`${p}.HEADER.FIELDS (FROM SUBJECT)`)!);
    expect(fields.length).toBeLessThanOrEqual(raw.length + 4);
    const bin = binarySection(raw, root, p.split('.').map(Number));
    if (bin.ok) expect(bin.data.length).toBeLessThanOrEqual(raw.length);
  }
}

describe('mutation fuzz', () => {
  const seeds = [...CORPUS, ...HOSTILE_CORPUS.filter((h) => h.raw.length < 64 * 1024)];
  const ROUNDS = 1500;
  it(`${ROUNDS} mutated messages from ${seeds.length} seeds`, () => {
    for (let i = 0; i < ROUNDS; i++) {
      const r = rng(0x5eed + i);
      const seed = seeds[Math.floor(r() * seeds.length)];
      const raw = mutate(seed.raw, r);
      try {
        exercise(raw);
      } catch (err) {
        throw new Error(`fuzz round ${i} (seed message ${seed.name}): ${(err as Error).message}`);
      }
    }
  });

  it('subarrays of a larger buffer stay within their own bytes', () => {
    // The store may hand over a slice of a bigger buffer: offsets must stay relative to it.
    const big = Buffer.concat([Buffer.from('junk before\r\n'), CORPUS[4].raw, Buffer.from('junk after')]);
    const raw = big.subarray(13, 13 + CORPUS[4].raw.length);
    exercise(raw);
    expect(section(raw, indexMime(raw), parseSection('')!).equals(CORPUS[4].raw)).toBe(true);
  });
});
