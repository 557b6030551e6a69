// mutt in batch mode (under `script` for the terminal it needs) against the IMAPS door: it logs
// in, opens INBOX, flags the first message and quits; the flag is in the store afterwards.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapWorld, deliver, rawMessage, startImapWorld } from '../testkit/imap.ts';

const run = promisify(execFile);
let w: ImapWorld;
let tmp: string;

beforeAll(async () => {
  w = await startImapWorld();
  tmp = mkdtempSync(path.join(tmpdir(), 'imap-mutt-'));
  await deliver(w, rawMessage({ subject: 'For mutt', text: 'hello mutt' }));
});
afterAll(async () => {
  await w?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('mutt', () => {
  it('opens INBOX over imaps:// and flags a message', async () => {
    const rc = path.join(tmp, 'muttrc');
    writeFileSync(
      rc,
      [
        `set imap_user = "${w.address}"`,
        `set imap_pass = "${w.password}"`,
        `set certificate_file = "${w.caFile}"`,
        'set ssl_verify_host = no',
        `set folder = "imaps://localhost:${w.secure.port}/"`,
        'set spoolfile = "+INBOX"',
        'set header_cache = ""',
        'set message_cachedir = ""',
        'set imap_check_subscribed = no',
        'set mail_check = 0',
        'set timeout = 1',
        'set quit = yes',
        'set move = no',
        'set confirmappend = no',
        'set sort = date',
        '',
      ].join('\n'),
    );
    const cmd = `TERM=dumb HOME=${tmp} mutt -n -F ${rc} -e 'push "<flag-message><sync-mailbox><quit>"'`;
    await run('script', ['-qec', cmd, '/dev/null'], { timeout: 30_000, env: { ...process.env, TERM: 'dumb', HOME: tmp } });
    const row = await w.core.db
      .selectFrom('messages')
      .innerJoin('folders', 'folders.id', 'messages.folder_id')
      .select('messages.flagged')
      .where('folders.mailbox_id', '=', w.box.mailbox.id)
      .where('folders.name', '=', 'INBOX')
      .executeTakeFirstOrThrow();
    expect(Number(row.flagged)).toBe(1);
  }, 60_000);
});
