// Full-text search on both stores: a body word is found and a missing one is not, substring
// semantics are confirmed against the stored text, fields and folders narrow, other mailboxes are
// never searched, and hostile needles (FTS5 and tsquery syntax) are plain text.
import { describe, expect, it } from 'vitest';
import type { Core } from '../core/core.ts';
import { appendRaw, createTestMailbox, rawMessage } from '../testkit/mailbox.ts';
import { useTestCore } from '../testkit/core.ts';
import type { AppendedMessage } from './messages.ts';
import { folderBySpecialUse } from './folders.ts';
import { ftsQuery, needleWords, searchText } from './search.ts';
import { htmlToText } from './text.ts';

let core: Core;
let mailboxId: string;
let otherMailboxId: string;
let m: Record<string, AppendedMessage>;

useTestCore(async (c) => {
  core = c;
  const a = await createTestMailbox(core);
  const b = await createTestMailbox(core, { workspaceId: a.workspaceId });
  mailboxId = a.mailbox.id;
  otherMailboxId = b.mailbox.id;
  m = {
    quarterly: await appendRaw(core, a.mailbox, rawMessage({ from: 'Olga Ivanova <olga@corp.example>', to: 'Team <team@corp.example>', subject: 'Quarterly report', text: 'The aardvark budget grew by 12% (see "appendix-B").\nRegards, Olga' })),
    lunch: await appendRaw(core, a.mailbox, rawMessage({ from: 'pat@food.example', to: 'olga@corp.example', subject: 'Lunch?', text: 'Pizza at noon? Contact me at pat.smith@food.example' }), { specialUse: 'archive' }),
    unicode: await appendRaw(core, a.mailbox, rawMessage({ subject: 'Grüße aus München', text: 'Straße und Café. 東京で会いましょう' })),
    other: await appendRaw(core, b.mailbox, rawMessage({ subject: 'aardvark in another mailbox', text: 'aardvark' })),
  };
});

const find = async (needle: string, field: Parameters<typeof searchText>[1]['field'] = 'text', folderId?: string) =>
  [...(await searchText(core.db, { mailboxId, field, needle, folderId }))].map((id) => Object.keys(m).find((k) => m[k].id === id)).sort();

describe('searchText', () => {
  it('finds a word in a body and not a word that is absent', async () => {
    expect(await find('aardvark', 'body')).toEqual(['quarterly']);
    expect(await find('AARDVARK', 'text')).toEqual(['quarterly']);
    expect(await find('wombat', 'body')).toEqual([]);
    expect(await find('wombat')).toEqual([]);
  });

  it('confirms the substring: prefixes and phrases match, words in the wrong order do not', async () => {
    expect(await find('aard', 'body')).toEqual(['quarterly']);
    expect(await find('budget grew', 'body')).toEqual(['quarterly']);
    expect(await find('grew budget', 'body')).toEqual([]);
    expect(await find('12% (see', 'body')).toEqual(['quarterly']);
    expect(await find('"appendix-B"', 'body')).toEqual(['quarterly']);
  });

  it('keeps fields apart and narrows to a folder', async () => {
    expect(await find('quarterly', 'subject')).toEqual(['quarterly']);
    expect(await find('quarterly', 'body')).toEqual([]);
    expect(await find('olga', 'from')).toEqual(['quarterly']);
    expect(await find('olga', 'to')).toEqual(['lunch']);
    expect(await find('olga', 'cc')).toEqual([]);
    expect(await find('olga')).toEqual(['lunch', 'quarterly']);
    expect(await find('corp.example', 'to')).toEqual(['lunch', 'quarterly']);
    const archive = await folderBySpecialUse(core.db, mailboxId, 'archive');
    expect(await find('olga', 'text', archive.id)).toEqual(['lunch']);
    // An address inside body text is found by its parts and whole (PostgreSQL indexes it as one token).
    expect(await find('pat.smith@food.example', 'body')).toEqual(['lunch']);
    expect(await find('food.example', 'body')).toEqual(['lunch']);
  });

  it('handles non-ASCII text', async () => {
    expect(await find('münchen', 'subject')).toEqual(['unicode']);
    expect(await find('STRASSE', 'body')).toEqual([]);
    expect(await find('straße', 'body')).toEqual(['unicode']);
    expect(await find('café', 'body')).toEqual(['unicode']);
    expect(await find('東京', 'body')).toEqual(['unicode']);
  });

  it('never searches another mailbox', async () => {
    const hits = await searchText(core.db, { mailboxId, field: 'text', needle: 'aardvark' });
    expect(hits.has(m.other.id)).toBe(false);
    expect(await searchText(core.db, { mailboxId: otherMailboxId, field: 'body', needle: 'aardvark' })).toEqual(new Set([m.other.id]));
  });

  it('treats hostile needles as text, with no SQL or FTS syntax error', async () => {
    const hostile = [
      '"', '""', '*', '-', '--', 'NEAR(', 'NEAR(a b, 2)', 'a OR b', 'NOT aardvark', 'aardvark AND', '^aardvark', 'body:aardvark', 'sender : x',
      "'", "'; drop table messages; --", '\\', ':*', '!', '&', '|', '<->', 'aardvark:*', 'aardvark & !budget', '(', ')', '{body}', '\u0000', '\u0301', '%', '_',
      '😀', 'x'.repeat(10_000), 'a '.repeat(500),
    ];
    for (const needle of hostile) {
      for (const field of ['text', 'body', 'subject', 'from', 'to'] as const) {
        await expect(searchText(core.db, { mailboxId, field, needle }), `${field} ${JSON.stringify(needle.slice(0, 20))}`).resolves.toBeInstanceOf(Set);
      }
    }
    // The operators are not operators: "NOT aardvark" finds nothing, "aardvark:*" finds no literal match.
    expect(await find('NOT aardvark', 'body')).toEqual([]);
    expect(await find('aardvark OR wombat', 'body')).toEqual([]);
    expect(await find('aardvark:*', 'body')).toEqual([]);
  });

  it('falls back to a scan for needles without word characters', async () => {
    expect(await find('%', 'body')).toEqual(['quarterly']);
    expect(await find('(', 'body')).toEqual(['quarterly']);
    expect(await find('?', 'subject')).toEqual(['lunch']);
    expect(await find('@', 'body')).toEqual(['lunch']);
    expect(await find('#', 'body')).toEqual([]);
    expect((await find('', 'body')).length).toBe(3);
  });

  it('builds FTS5 queries only from word characters', () => {
    expect(needleWords('Hello, "World" NEAR(x*) -y')).toEqual(['hello', 'world', 'near', 'x', 'y']);
    expect(ftsQuery(['a', 'b'], 'body')).toBe('body : ("a"* "b"*)');
  });

  it('turns HTML into text linearly, even when hostile', () => {
    expect(htmlToText('<p>a &amp; b</p><script>x</script><p>c&#233;&#x41;</p>')).toBe('a & b\n\ncéA');
    const start = Date.now();
    htmlToText('<script>'.repeat(50_000));
    htmlToText('<'.repeat(200_000));
    htmlToText('<!--'.repeat(100_000));
    htmlToText('<a '.repeat(100_000) + '>');
    expect(Date.now() - start).toBeLessThan(3000);
    expect(htmlToText('<p>unterminated <b')).toBe('unterminated');
  });
});
