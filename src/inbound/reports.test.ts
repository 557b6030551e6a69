// The report parsers on their own: DSN (RFC 3464) and ARF (RFC 5965) fields, the RFC 3463 status
// mapping, and a fuzz test: no mutation of a report makes the parser throw anything but
// UnparseableMessage, and nothing it returns carries a control character.
import { describe, expect, it } from 'vitest';
import { UnparseableMessage, bounceOf, parseFieldGroups, parseReport, reportTypeOf, subTypeOf } from './reports.ts';
import { arf, dsn } from '../testkit/reports.ts';

const VERP = 'bounce+0123456789abcdef01234567@send.example.com';

describe('DSN (RFC 3464)', () => {
  it('reads the per-message and per-recipient fields, unfolding Diagnostic-Code', async () => {
    const r = await parseReport(Buffer.from(dsn({ to: VERP, finalRecipient: 'Hard@Remote.test', original: { messageId: '<m1@example.com>', returnPath: VERP } })));
    expect(r).toMatchObject({ kind: 'dsn', reportingMta: 'dns; mx.remote.test', original: { messageId: '<m1@example.com>', returnPath: VERP } });
    if (r?.kind !== 'dsn') throw new Error('not a dsn');
    expect(r.recipients).toEqual([
      {
        finalRecipient: 'hard@remote.test',
        originalRecipient: 'hard@remote.test',
        action: 'failed',
        status: '5.1.1',
        diagnostic: 'smtp; 550 5.1.1 <Hard@Remote.test>: Recipient address rejected: User unknown in virtual mailbox table',
        remoteMta: 'dns; inbox.remote.test',
      },
    ]);
    expect(bounceOf(r.recipients[0])).toEqual({ type: 'Permanent', subType: 'NoEmail', message: r.recipients[0].diagnostic });
  });

  it('classifies by status class (RFC 3463 §3.1): 4.x.x Transient, missing Undetermined', async () => {
    const t = await parseReport(Buffer.from(dsn({ to: VERP, finalRecipient: 'full@remote.test', status: '4.2.2' })));
    if (t?.kind !== 'dsn') throw new Error('not a dsn');
    expect(bounceOf(t.recipients[0])).toMatchObject({ type: 'Transient', subType: 'MailboxFull' });
    const u = await parseReport(Buffer.from(dsn({ to: VERP, finalRecipient: 'x@remote.test', status: 'garbage', diagnostic: 'x' })));
    if (u?.kind !== 'dsn') throw new Error('not a dsn');
    expect(u.recipients[0].status).toBeNull();
    expect(bounceOf(u.recipients[0])).toMatchObject({ type: 'Undetermined', subType: 'General' });
  });

  it('maps RFC 3463 subjects to Resend bounce sub-types', () => {
    expect(subTypeOf('5.1.1')).toBe('NoEmail');
    expect(subTypeOf('5.1.10')).toBe('NoEmail');
    expect(subTypeOf('5.2.2')).toBe('MailboxFull');
    expect(subTypeOf('5.3.4')).toBe('MessageTooLarge');
    expect(subTypeOf('5.7.1')).toBe('ContentRejected');
    expect(subTypeOf('5.6.0')).toBe('ContentRejected');
    expect(subTypeOf('5.0.0')).toBe('General');
    expect(subTypeOf(null)).toBe('General');
  });

  it('reads the report-type parameter, quoted or not, and field groups with odd spacing', () => {
    expect(reportTypeOf('multipart/report; report-type=delivery-status; boundary=x')).toBe('delivery-status');
    expect(reportTypeOf('Multipart/Report;\tREPORT-TYPE="feedback-report"')).toBe('feedback-report');
    expect(reportTypeOf('multipart/mixed; report-type=delivery-status')).toBeNull();
    expect(reportTypeOf(undefined)).toBeNull();
    const groups = parseFieldGroups('A: 1\r\n\r\n\r\nB : 2\n  continued\nnot a field\nb: ignored duplicate\n');
    expect(groups.map((g) => Object.fromEntries(g))).toEqual([{ a: '1' }, { b: '2 continued' }]);
  });

  it('is not fooled by a plain-text bounce or an ordinary message', async () => {
    expect(await parseReport(Buffer.from('From: a@b.c\r\nSubject: Out of office\r\n\r\nI am away.\r\n'))).toBeNull();
    expect(await parseReport(Buffer.from('Subject: Returned mail\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n'))).toBeNull();
  });
});

describe('ARF (RFC 5965)', () => {
  it('reads Feedback-Type, Original-Rcpt-To and the returned message', async () => {
    const r = await parseReport(Buffer.from(arf({ to: 'abuse@send.example.com', originalRcptTo: 'User@Remote.test', originalMailFrom: VERP, original: { messageId: 'm2@example.com', returnPath: VERP } })));
    expect(r).toEqual({
      kind: 'arf',
      feedbackType: 'abuse',
      userAgent: 'RemoteFBL/1.0',
      reportingMta: 'dns; mail.remote.test',
      originalRcptTo: 'user@remote.test',
      originalMailFrom: VERP,
      original: { messageId: '<m2@example.com>', returnPath: VERP },
    });
  });
});

describe('hostile input', () => {
  it('refuses what the MIME parser cannot read with UnparseableMessage, and reads the rest', async () => {
    const deep = `Content-Type: multipart/mixed; boundary=b0\r\n\r\n${Array.from({ length: 300 }, (_, i) => `--b${i}\r\nContent-Type: multipart/mixed; boundary=b${i + 1}\r\n\r\n`).join('')}`;
    await expect(parseReport(Buffer.from(deep))).rejects.toBeInstanceOf(UnparseableMessage);
    const hugeHeader = `X-Big: ${'a'.repeat(600 * 1024)}\r\nSubject: x\r\n\r\nbody\r\n`;
    await expect(parseReport(Buffer.from(hugeHeader))).rejects.toBeInstanceOf(UnparseableMessage);
    for (const raw of [
      '',
      '\r\n\r\n',
      'Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary at all\r\n',
      'Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n',
      `Subject: nul\u0000bytes\r\n\r\n\u0000\u0000\u0000`,
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1'),
    ]) {
      const r = await parseReport(Buffer.from(raw, 'latin1'));
      expect(r === null || typeof r === 'object').toBe(true);
    }
  });

  it('cleans NUL and control characters out of everything it returns', async () => {
    const raw = dsn({ to: VERP, finalRecipient: 'x@remote.test', diagnostic: 'smtp; 550 bad\u0000\u0007 mailbox\u001b[31m' });
    const r = await parseReport(Buffer.from(raw));
    if (r?.kind !== 'dsn') throw new Error('not a dsn');
    expect(r.recipients[0].diagnostic).toBe('smtp; 550 bad mailbox [31m');
  });

  it('fuzz: no mutation of a DSN or an ARF report makes the parser throw anything else', async () => {
    // A small deterministic PRNG (mulberry32), so a failure reproduces.
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const seeds = [
      Buffer.from(dsn({ to: VERP, finalRecipient: 'a@remote.test', original: { messageId: '<m@x>', returnPath: VERP } })),
      Buffer.from(arf({ to: VERP, originalRcptTo: 'a@remote.test', original: { messageId: '<m@x>' } })),
    ];
    const noControl = (v: unknown): void => {
      if (typeof v === 'string') expect(/[\u0000-\u001f\u007f]/.test(v), JSON.stringify(v)).toBe(false);
      else if (v && typeof v === 'object') for (const x of Object.values(v)) noControl(x);
    };
    for (let i = 0; i < 400; i++) {
      const base = Buffer.from(seeds[i % 2]);
      const ops = 1 + Math.floor(rand() * 8);
      let buf = base;
      for (let k = 0; k < ops; k++) {
        const at = Math.floor(rand() * buf.length);
        const op = Math.floor(rand() * 4);
        if (op === 0) buf[at] = Math.floor(rand() * 256);
        else if (op === 1) buf = buf.subarray(0, at);
        else if (op === 2) buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at, at + Math.floor(rand() * 200)), buf.subarray(at)]);
        else buf = Buffer.concat([buf.subarray(0, at), Buffer.from(['\r\n', '--', ':', '\u0000', ';', '"', '\r\n\r\n'][Math.floor(rand() * 7)]), buf.subarray(at)]);
      }
      try {
        noControl(await parseReport(buf));
      } catch (err) {
        expect(err, `mutation ${i}`).toBeInstanceOf(UnparseableMessage);
      }
    }
  });
});
