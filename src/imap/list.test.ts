// Subscriptions and LIST-EXTENDED over a raw socket: CREATE does not subscribe, a deleted folder's
// subscription is kept (\NonExistent \Subscribed, RFC 5258 §3.1; RFC 9051 §6.3.7), LSUB's \Noselect
// parents (RFC 3501 §6.3.9), RECURSIVEMATCH's syntax rule and CHILDINFO (RFC 5258 §3.5), the
// rules Dovecot's imaptest groups `listext` and `subscribe` check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapWorld, RawImap, startImapWorld } from '../testkit/imap.ts';

let w: ImapWorld;
let c: RawImap;

beforeAll(async () => {
  w = await startImapWorld();
  c = await RawImap.connect(w.plain.port);
  expect(await c.cmd('L', `LOGIN "${w.address}" "${w.password}"`)).toMatch(/^L OK /m);
  for (const n of ['t/a', 't/b/a', 't/c', 't/d/d', 't/e/e', 't/e/f', 't/gone']) expect(await c.cmd('c', `CREATE ${n}`)).toBe('c OK CREATE completed\r\n');
  for (const n of ['t/a', 't/b/a', 't/d/d', 't/e/f', 't/gone']) expect(await c.cmd('s', `SUBSCRIBE ${n}`)).toBe('s OK SUBSCRIBE completed\r\n');
  expect(await c.cmd('d', 'DELETE t/gone')).toBe('d OK DELETE completed\r\n');
});
afterAll(async () => {
  c?.close();
  await w?.stop();
});

const lines = (r: string) => r.split('\r\n').filter((l) => l.startsWith('* '));

describe('subscriptions', () => {
  it('CREATE does not subscribe (nor the parents it creates); LSUB shows unsubscribed levels with subscribed names below as \\Noselect', async () => {
    expect(lines(await c.cmd('l', 'LSUB "" t/%'))).toEqual(['* LSUB () "/" "t/a"', '* LSUB (\\Noselect) "/" "t/b"', '* LSUB (\\Noselect) "/" "t/d"', '* LSUB (\\Noselect) "/" "t/e"', '* LSUB (\\Noselect) "/" "t/gone"']);
    expect(lines(await c.cmd('l', 'LSUB "" t/*'))).toEqual(['* LSUB () "/" "t/a"', '* LSUB () "/" "t/b/a"', '* LSUB () "/" "t/d/d"', '* LSUB () "/" "t/e/f"', '* LSUB (\\Noselect) "/" "t/gone"']);
    expect(lines(await c.cmd('l', 'LIST "" t/% RETURN (SUBSCRIBED)'))).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "t/a"', '* LIST (\\HasChildren) "/" "t/b"', '* LIST (\\HasNoChildren) "/" "t/c"', '* LIST (\\HasChildren) "/" "t/d"', '* LIST (\\HasChildren) "/" "t/e"']);
  });

  it('a deleted folder stays subscribed as \\NonExistent; creating it again takes the subscription back; UNSUBSCRIBE drops it', async () => {
    expect(lines(await c.cmd('l', 'LIST (SUBSCRIBED) "" t/*'))).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "t/a"', '* LIST (\\HasNoChildren \\Subscribed) "/" "t/b/a"', '* LIST (\\HasNoChildren \\Subscribed) "/" "t/d/d"', '* LIST (\\HasNoChildren \\Subscribed) "/" "t/e/f"', '* LIST (\\NonExistent \\Subscribed) "/" "t/gone"']);
    // Plain LIST shows only folders that exist.
    expect(await c.cmd('l', 'LIST "" t/gone')).toBe('l OK LIST completed\r\n');
    expect(await c.cmd('c', 'CREATE t/gone')).toBe('c OK CREATE completed\r\n');
    expect(lines(await c.cmd('l', 'LIST "" t/gone RETURN (SUBSCRIBED)'))).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "t/gone"']);
    expect(await c.cmd('d', 'DELETE t/gone')).toBe('d OK DELETE completed\r\n');
    expect(await c.cmd('u', 'UNSUBSCRIBE t/gone')).toBe('u OK UNSUBSCRIBE completed\r\n');
    expect(await c.cmd('l', 'LSUB "" t/gone')).toBe('l OK LSUB completed\r\n');
    expect(await c.cmd('u', 'UNSUBSCRIBE t/gone')).toMatch(/^u NO /);
    expect(await c.cmd('c', 'CREATE t/gone')).toBe('c OK CREATE completed\r\n');
    expect(lines(await c.cmd('l', 'LIST "" t/gone RETURN (SUBSCRIBED)'))).toEqual(['* LIST (\\HasNoChildren) "/" "t/gone"']);
    expect(await c.cmd('d', 'DELETE t/gone')).toBe('d OK DELETE completed\r\n');
  });
});

describe('LIST-EXTENDED', () => {
  it('RECURSIVEMATCH alone or with only REMOTE is BAD; unknown options are BAD', async () => {
    for (const cmd of ['LIST (RECURSIVEMATCH) "" ""', 'LIST (RECURSIVEMATCH REMOTE) "" "*"', 'LIST (IMAPTEST) "" "*"', 'LIST "" "*" RETURN (IMAPTEST)']) expect(await c.cmd('b', cmd), cmd).toMatch(/^b BAD /);
    expect(await c.cmd('r', 'LIST (REMOTE) "" t/c')).toBe('* LIST (\\HasNoChildren) "/" "t/c"\r\nr OK LIST completed\r\n');
  });

  it('RECURSIVEMATCH gives CHILDINFO to a level whose subscribed descendant the pattern does not return', async () => {
    // t/b is not subscribed: returned for its child, with its own attributes and no \Subscribed.
    expect(lines(await c.cmd('l', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" t/b% RETURN (CHILDREN)'))).toEqual(['* LIST (\\HasChildren) "/" "t/b" ("CHILDINFO" ("SUBSCRIBED"))']);
    // The pattern returns t/d/d itself, so t/d gets no CHILDINFO and is not listed.
    expect(lines(await c.cmd('l', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" t*d'))).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "t/d/d"']);
    // t/e/f is subscribed but does not match: t/e carries CHILDINFO; t/e/e matches but is not subscribed.
    expect(lines(await c.cmd('l', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" t*e'))).toEqual(['* LIST (\\HasChildren) "/" "t/e" ("CHILDINFO" ("SUBSCRIBED"))']);
    expect(lines(await c.cmd('l', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" (t/b t/b/a)'))).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "t/b/a"']);
    // Without RECURSIVEMATCH the unsubscribed level is not returned at all.
    expect(lines(await c.cmd('l', 'LIST (SUBSCRIBED) "" t/b'))).toEqual([]);
  });

  it('several patterns in one LIST', async () => {
    expect(lines(await c.cmd('l', 'LIST "" (t/*a t/c)'))).toEqual(['* LIST (\\HasNoChildren) "/" "t/a"', '* LIST (\\HasNoChildren) "/" "t/b/a"', '* LIST (\\HasNoChildren) "/" "t/c"']);
  });
});
