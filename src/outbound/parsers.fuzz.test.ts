// Fuzz tests of the send API's parsers of outside input (seeded, so a failure reproduces): the
// mailbox parser, the scheduled_at grammar and the whole request validator never throw anything
// but a 4xx CoreError, and whatever they accept is safe to put in a header.
import { describe, expect, it } from 'vitest';
import { CoreError } from '../core/core.ts';
import { formatMailbox, parseMailbox } from './addresses.ts';
import { validateSendRequest } from './compose.ts';
import { parseScheduledAt } from './schedule.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'Z', '0', '9', '@', '.', '-', '_', ' ', '<', '>', '"', '\\', ',', ':', ';', '\r', '\n', '\t', '\u0000', 'é', '😀', '=', '?', '+', '(', ')', '[', ']', 'in ', ' min', 'am', 'pm', 'tomorrow', 'T', 'Z', '2024-08-07', '12:30', 'xn--'];

function randomText(r: () => number, max = 40): string {
  const n = Math.floor(r() * max);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * 8);
  if (depth > 2 || k < 3) return randomText(r);
  if (k === 3) return Math.floor(r() * 1000) - 500;
  if (k === 4) return null;
  if (k === 5) return r() < 0.5;
  if (k === 6) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, () => [randomText(r, 8), randomValue(r, depth + 1)]));
}

describe('fuzz: parsers of send requests', () => {
  it('parseMailbox never throws, and what it accepts has no line breaks or brackets left in it', () => {
    const r = rng(1);
    for (let i = 0; i < 20_000; i++) {
      const input = randomText(r);
      const mb = parseMailbox(input);
      if (!mb) continue;
      expect(mb.address).toMatch(/^[^\s<>",\u0000-\u001f]+@[a-z0-9.-]+$/);
      expect(/[\r\n\u0000]/.test(mb.name)).toBe(false);
      expect(parseMailbox(formatMailbox(mb))).toEqual(mb);
    }
  });

  it('parseScheduledAt never throws and returns null or a finite time', () => {
    const r = rng(2);
    const now = Date.UTC(2024, 7, 7, 10, 15, 30);
    for (let i = 0; i < 20_000; i++) {
      const t = parseScheduledAt(randomText(r, 12), now);
      if (t !== null) expect(Number.isFinite(t)).toBe(true);
    }
  });

  it('validateSendRequest throws only 4xx CoreErrors on arbitrary bodies', () => {
    const r = rng(3);
    const fields = ['from', 'to', 'cc', 'bcc', 'reply_to', 'subject', 'html', 'text', 'headers', 'tags', 'attachments', 'scheduled_at'];
    for (let i = 0; i < 5000; i++) {
      const body: Record<string, unknown> = { from: 'a@example.com', to: 'b@example.net', subject: 's', text: 't' };
      for (const f of fields) if (r() < 0.3) body[f] = randomValue(r);
      try {
        const req = validateSendRequest(body, { now: Date.now() });
        for (const v of Object.values(req.headers)) expect(/[\r\n]/.test(v)).toBe(false);
        expect(/[\r\n]/.test(req.subject)).toBe(false);
      } catch (err) {
        expect(err).toBeInstanceOf(CoreError);
        expect((err as CoreError).status).toBeGreaterThanOrEqual(400);
        expect((err as CoreError).status).toBeLessThan(500);
      }
    }
  });
});
