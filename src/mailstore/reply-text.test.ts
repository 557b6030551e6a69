// extractReplyText on reply bodies as real clients write them (text/plain parts of Gmail, Apple
// Mail, Outlook, Thunderbird and a few localised clients), plus hostile input.
import { describe, expect, it } from 'vitest';
import { extractReplyText } from './reply-text.ts';

const lines = (...l: string[]) => l.join('\r\n');

describe('extractReplyText: real clients', () => {
  it('Gmail top-post with a wrapped attribution line', () => {
    const body = lines(
      'Sounds good, see you Thursday.',
      '',
      'Best,',
      'Ann',
      '',
      'On Tue, Apr 1, 2025 at 10:02 AM Bob Example <bob.example@example.com>',
      'wrote:',
      '',
      '> Can we meet on Thursday?',
      '>',
      '> On Mon, Mar 31, 2025 at 9:00 AM Ann <ann@example.com> wrote:',
      '> > Hi Bob,',
      '> > when are you free?',
      '',
    );
    expect(extractReplyText(body)).toBe('Sounds good, see you Thursday.\n\nBest,\nAnn');
  });

  it('Gmail single-line attribution', () => {
    const body = 'Yes.\n\nOn Tue, 1 Apr 2025 at 10:02, Bob <bob@example.com> wrote:\n> Is it done?\n';
    expect(extractReplyText(body)).toBe('Yes.');
  });

  it('Apple Mail', () => {
    const body = lines(
      'Thanks, got it.',
      '',
      'Sent from my iPhone',
      '',
      '> On 1 Apr 2025, at 10:02, Bob Example <bob@example.com> wrote:',
      '> ',
      '> Here is the file.',
      '',
    );
    expect(extractReplyText(body)).toBe('Thanks, got it.\n\nSent from my iPhone');
  });

  it('Outlook with -----Original Message-----', () => {
    const body = lines(
      'Approved.',
      '',
      'Regards,',
      'Carol',
      '',
      '-----Original Message-----',
      'From: Bob Example <bob@example.com>',
      'Sent: Tuesday, April 1, 2025 10:02 AM',
      'To: Carol <carol@example.com>',
      'Subject: Budget',
      '',
      'Please approve the budget.',
    );
    expect(extractReplyText(body)).toBe('Approved.\n\nRegards,\nCarol');
  });

  it('Outlook desktop with an underscore rule and a From/Sent block (no quote marks)', () => {
    const body = lines(
      'I will join.',
      '',
      '________________________________',
      'From: Bob Example <bob@example.com>',
      'Sent: Tuesday, April 1, 2025 10:02',
      'To: Carol',
      'Subject: RE: Meeting',
      '',
      'Are you joining?',
    );
    expect(extractReplyText(body)).toBe('I will join.');
  });

  it('Outlook HTML-to-text with bold header names', () => {
    const body = 'Done!\n\n*From:* Bob <bob@example.com>\n*Sent:* Tuesday, April 1, 2025 10:02 AM\n*To:* Carol\n*Subject:* Task\n\nPlease do the task.\n';
    expect(extractReplyText(body)).toBe('Done!');
  });

  it('Thunderbird with "date, name wrote:" and a signature', () => {
    const body = lines(
      'Works for me.',
      '',
      '-- ',
      'Dave Example',
      'Example Corp',
      '',
      'On 01/04/2025 10:02, Bob Example wrote:',
      '> Does 3pm work?',
      '',
    );
    expect(extractReplyText(body)).toBe('Works for me.\n\n--\nDave Example\nExample Corp');
    expect(extractReplyText(body, { stripSignature: true })).toBe('Works for me.');
  });

  it('Thunderbird "Name wrote:" form', () => {
    expect(extractReplyText('ok\n\nBob Example wrote:\n> question\n')).toBe('ok');
  });

  it('interleaved (inline) replies keep every answer', () => {
    const body = lines(
      'On Tue, Apr 1, 2025 at 10:02 AM Bob <bob@example.com> wrote:',
      '> 1. Can you send the report?',
      '',
      'Sent this morning.',
      '',
      '> 2. Are you free on Friday?',
      '',
      'No, Monday instead.',
    );
    expect(extractReplyText(body)).toBe('Sent this morning.\n\n\nNo, Monday instead.');
  });

  it('French, German, Spanish and Dutch attributions', () => {
    expect(extractReplyText("D'accord.\n\nLe mar. 1 avr. 2025 à 10:02, Bob <bob@example.com> a écrit :\n> Question ?\n")).toBe("D'accord.");
    expect(extractReplyText('Passt.\n\nAm 01.04.2025 um 10:02 schrieb Bob Example <bob@example.com>:\n> Passt das?\n')).toBe('Passt.');
    expect(extractReplyText('Vale.\n\nEl mar, 1 abr 2025 a las 10:02, Bob (<bob@example.com>) escribió:\n> ¿Vale?\n')).toBe('Vale.');
    expect(extractReplyText('Prima.\n\nOp di 1 apr 2025 om 10:02 schreef Bob <bob@example.com>:\n> Goed?\n')).toBe('Prima.');
    expect(extractReplyText('Ja.\n\n-----Ursprüngliche Nachricht-----\nVon: Bob\nGesendet: Dienstag\n\nFrage\n')).toBe('Ja.');
    expect(extractReplyText('Oui.\n\nDe : Bob <bob@example.com>\nEnvoyé : mardi 1 avril 2025 10:02\nÀ : Carol\n\nQuestion\n')).toBe('Oui.');
  });

  it('an attribution with no quote after it cuts the unquoted original', () => {
    const body = 'Fine by me.\n\nOn Apr 1, 2025, at 10:02, Bob <bob@example.com> wrote:\n\nThe original text, not quoted.\n';
    expect(extractReplyText(body)).toBe('Fine by me.');
  });
});

describe('extractReplyText: what it keeps', () => {
  it('keeps a message with no quote as it is (trimmed)', () => {
    expect(extractReplyText('\n\nHello,\n\nA new message.  \n\n')).toBe('Hello,\n\nA new message.');
  });

  it('does not cut on prose that only looks like an attribution', () => {
    const body = 'Here is what I wrote:\n\nthe plan is fine.\nFrom: the team\nThanks';
    expect(extractReplyText(body)).toBe(body);
  });

  it('keeps forwarded messages (a forward is not a quoted reply)', () => {
    const body = 'FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Tue, Apr 1, 2025 at 10:02 AM\nSubject: Report\n\nThe report.';
    expect(extractReplyText(body)).toBe(body); // its From/Date block is not taken for Outlook's
    const apple = 'See below.\n\nBegin forwarded message:\n\n> From: Bob <bob@example.com>\n> Subject: Report\n>\n> The report.';
    expect(extractReplyText(apple)).toBe(apple);
  });

  it('gives an empty string for a reply that is all quote, and for empty input', () => {
    expect(extractReplyText('> only quoted\n> lines\n')).toBe('');
    expect(extractReplyText('')).toBe('');
    expect(extractReplyText(null)).toBe('');
  });
});

describe('extractReplyText: hostile input', () => {
  it('is linear on huge lines and many lines', () => {
    const long = 'On ' + 'x '.repeat(300_000) + ' wrote:';
    expect(extractReplyText(long)).toBe(long); // too long to be an attribution: kept as text
    const many = ('On a, b wrote\n' + '>'.repeat(10) + '\n').repeat(50_000);
    expect(typeof extractReplyText(many)).toBe('string');
    const bare = 'a\r'.repeat(200_000);
    expect(extractReplyText(bare).split('\n')).toHaveLength(200_000);
  });

  it('survives the shapes that break naive implementations', () => {
    // /[ \t]+$/ is quadratic on a long whitespace run; 400 K of it must still return.
    expect(extractReplyText('a' + ' \t'.repeat(400_000) + 'b')).toBe('a' + ' \t'.repeat(400_000) + 'b');
    // A forward followed by a million lines (an argument spread would overflow the stack).
    const forward = 'fyi\n---------- Forwarded message ---------\n' + 'x\n'.repeat(1_000_000);
    expect(extractReplyText(forward).length).toBe(forward.length - 1);
    // Many whitespace-only and attribution-like lines.
    expect(extractReplyText((' '.repeat(999) + '\n').repeat(20_000))).toBe('');
    expect(typeof extractReplyText((' '.repeat(900) + 'x wrote:\n').repeat(20_000))).toBe('string');
  });
});
