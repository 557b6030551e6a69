// SRS0 addresses (srs.ts), the address rules (address.ts) and trace headers (trace.ts): round
// trips, expiry, forgeries and hostile input.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import type { Core } from '../core/core.ts';
import { useTestCore } from '../testkit/core.ts';
import { normalizeHostedAddress, splitAddress, subaddressBase } from './address.ts';
import { SRS_MAX_AGE_DAYS, srsDecode, srsEncode } from './srs.ts';
import { headerValues, receivedCount, receivedHeader, returnPathHeader } from './trace.ts';

const DAY = 86_400_000;
const clock = new ManualClock();
let core: Core;
useTestCore(
  (c) => {
    core = c;
  },
  { clock },
);

const localOf = (a: string) => a.slice(0, a.lastIndexOf('@'));

describe('SRS0', () => {
  it('round-trips, ignoring case changes by MTAs, and keeps the original local part', async () => {
    const a = await srsEncode(core, 'John.Doe+x=y@Example.ORG', 'send.hosted.test');
    expect(a).toMatch(/^SRS0=[a-z2-7]{8}=[a-z2-7]{2}=example\.org=John\.Doe\+x=y@send\.hosted\.test$/);
    expect(await srsDecode(core, localOf(a))).toEqual({ ok: true, original: 'John.Doe+x=y@example.org' });
    expect(await srsDecode(core, localOf(a).toUpperCase())).toEqual({ ok: true, original: 'JOHN.DOE+X=Y@example.org' });
  });

  it('refuses a changed hash, domain or local part', async () => {
    const local = localOf(await srsEncode(core, 'ann@example.org', 'send.hosted.test'));
    const [, h, tt, d, l] = local.split('=');
    const flip = (s: string) => (s[0] === 'a' ? 'b' : 'a') + s.slice(1);
    expect(await srsDecode(core, `SRS0=${flip(h)}=${tt}=${d}=${l}`)).toEqual({ ok: false, reason: 'bad_hash' });
    expect(await srsDecode(core, `SRS0=${h}=${tt}=evil.org=${l}`)).toEqual({ ok: false, reason: 'bad_hash' });
    expect(await srsDecode(core, `SRS0=${h}=${tt}=${d}=bob`)).toEqual({ ok: false, reason: 'bad_hash' });
    expect(await srsDecode(core, `SRS0=${h}=${flip(tt)}=${d}=${l}`)).toMatchObject({ ok: false });
  });

  it(`expires after ${SRS_MAX_AGE_DAYS} days, and is not valid before it was made`, async () => {
    const local = localOf(await srsEncode(core, 'ann@example.org', 'send.hosted.test'));
    clock.advance(SRS_MAX_AGE_DAYS * DAY);
    expect((await srsDecode(core, local)).ok).toBe(true);
    clock.advance(2 * DAY);
    expect(await srsDecode(core, local)).toEqual({ ok: false, reason: 'expired' });
    // Made "tomorrow" (a clock moved back): too new is as bad as too old.
    const future = localOf(await srsEncode(core, 'ann@example.org', 'send.hosted.test'));
    clock.advance(-5 * DAY);
    expect(await srsDecode(core, future)).toEqual({ ok: false, reason: 'expired' });
  });

  it('gives a clean no for hostile local parts', async () => {
    for (const s of ['', 'SRS0', 'SRS0=', 'SRS0====', 'srs0=a=b', 'SRS0=aaaaaaaa=zz=d', 'SRS1=x=y=z=w=v', 'SRS0=' + '='.repeat(5000), 'SRS0=aaaaaaaa=99=x=y', 'SRS0=\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000=aa=d=l', 'SRS0=' + 'a'.repeat(100_000)]) {
      const r = await srsDecode(core, s);
      expect(r.ok, JSON.stringify(s.slice(0, 40))).toBe(false);
    }
  });
});

describe('addresses', () => {
  it('splits and lower-cases, and refuses what is not local@domain', () => {
    expect(splitAddress(' Ann@Example.COM. ')).toEqual({ local: 'ann', host: 'example.com' });
    for (const bad of ['', '@', 'a@', '@b', 'ann', 'a@b..c', 'a@-b.c', 'a b@c.d\r\nRCPT', `${'x'.repeat(400)}@a.b`, 'a@b c', 'a<b@c.d', 'a@\u0000.d']) {
      expect(splitAddress(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(subaddressBase('user+tag')).toBe('user');
    expect(subaddressBase('+tag')).toBeNull();
    expect(subaddressBase('user')).toBeNull();
    expect(normalizeHostedAddress('Sales.Team@Example.com')).toBe('sales.team@example.com');
    for (const bad of ['.a@b.c', 'a.@b.c', 'a..b@b.c', '"q"@b.c', 'a@@b.c', 5, null, `${'x'.repeat(65)}@b.c`]) {
      expect(normalizeHostedAddress(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe('trace headers', () => {
  it('writes a Received line no client input can break out of', () => {
    const h = receivedHeader({ heloName: 'evil\r\nBcc: x@y.z', clientHostname: null, remoteAddress: '::ffff:10.0.0.1', hostname: 'mx.test', recipients: ['a@b.c'], now: Date.UTC(2025, 6, 1, 12, 0, 0) });
    expect(h).toMatch(/^Received: from evilBcc: x@y\.z \(\[10\.0\.0\.1\]\)\r\n\tby mx\.test \(Mailstack\) with ESMTP id [0-9a-f-]{36}\r\n\tfor <a@b\.c>;\r\n\tTue, 01 Jul 2025 12:00:00 \+0000\r\n$/);
    expect(h.split('\r\n').filter((l) => l && !l.startsWith('\t'))).toHaveLength(1);
    const v6 = receivedHeader({ heloName: null, remoteAddress: '2001:db8::1', hostname: 'mx.test', recipients: ['a@b.c', 'd@e.f'], now: 0, secure: true });
    expect(v6).toContain('from unknown ([IPv6:2001:db8::1])');
    expect(v6).toContain('with ESMTPS');
    expect(v6).not.toContain('for <');
    expect(returnPathHeader('')).toBe('Return-Path: <>\r\n');
    expect(returnPathHeader('a@b.c>\r\nX: y')).toBe('Return-Path: <a@b.cX:y>\r\n');
  });

  it('reads header fields from the header section only, unfolded, bounded', () => {
    const raw = Buffer.from('Received: a\r\nX-Mailstack-Forwarded: one\r\n two\r\nreceived: b\r\nSubject: s\r\n\r\nReceived: in the body\r\nX-Mailstack-Forwarded: body\r\n');
    expect(receivedCount(raw)).toBe(2);
    expect(headerValues(raw, 'x-mailstack-forwarded')).toEqual(['one two']);
    expect(receivedCount(Buffer.from('no header end at all\nReceived: x'))).toBe(1);
    const huge = Buffer.concat([Buffer.from('Subject: '), Buffer.alloc(5 * 1024 * 1024, 'a'), Buffer.from('\r\nReceived: late\r\n\r\n')]);
    expect(receivedCount(huge)).toBe(0);
    expect(headerValues(Buffer.alloc(0), 'received')).toEqual([]);
  });
});
