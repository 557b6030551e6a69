// Real mail clients against the IMAP door: mbsync (isync) pulling the whole mailbox into a Maildir
// and then finding nothing to do, Python's imaplib (implicit TLS and STARTTLS), and curl (imaps://).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapWorld, deliver, rawMessage, startImapWorld } from '../testkit/imap.ts';

const run = promisify(execFile);
let w: ImapWorld;
let tmp: string;
const originals: Buffer[] = [];

beforeAll(async () => {
  w = await startImapWorld();
  tmp = mkdtempSync(path.join(tmpdir(), 'imap-clients-'));
  for (let i = 1; i <= 3; i++) {
    const raw = rawMessage({ subject: `Sync ${i}`, text: `sync body ${i}` });
    originals.push(raw);
    await deliver(w, raw);
  }
  const withAttachment = await new MailComposer({ from: 'a@sender.example', to: w.address, subject: 'With file', text: 'see file', attachments: [{ filename: 'x.bin', content: Buffer.alloc(5000, 7) }] }).compile().build();
  originals.push(withAttachment);
  await deliver(w, withAttachment);
  await deliver(w, rawMessage({ subject: 'Old sent', text: 'sent copy' }), { folder: 'Sent', flags: ['\\Seen'] });
});
afterAll(async () => {
  await w?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Every file under a Maildir tree, with its content. */
function maildirFiles(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\/(cur|new)\//.test(p)) out.set(path.relative(root, p), readFileSync(p));
    }
  };
  walk(root);
  return out;
}

describe('mbsync', () => {
  it('pulls every folder into a Maildir, then a second sync changes nothing', async () => {
    const maildir = path.join(tmp, 'mail');
    const cfg = path.join(tmp, 'mbsyncrc');
    mkdirSync(maildir);
    writeFileSync(
      cfg,
      [
        'IMAPAccount test',
        'Host localhost',
        `Port ${w.secure.port}`,
        `User ${w.address}`,
        `Pass ${w.password}`,
        'SSLType IMAPS',
        `CertificateFile ${w.caFile}`,
        '',
        'IMAPStore remote',
        'Account test',
        '',
        'MaildirStore local',
        `Path ${maildir}/`,
        `Inbox ${maildir}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel test',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Near',
        'Sync Pull',
        'SyncState *',
        '',
      ].join('\n'),
    );
    const first = await run('mbsync', ['-c', cfg, '-a'], { timeout: 60_000 });
    expect(first.stderr).not.toMatch(/error/i);
    const files = maildirFiles(maildir);
    const inbox = [...files].filter(([p]) => p.startsWith('INBOX/'));
    expect(inbox.length).toBe(4);
    // Every original arrives byte for byte, give or take what mbsync itself does to Maildir files:
    // LF line ends and its own X-TUID tracking header.
    const lf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const own = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/^X-TUID: [^\n]*\n/m, ''), 'latin1');
    for (const raw of originals) expect(inbox.some(([, data]) => own(data).equals(lf(raw)))).toBe(true);
    expect([...files.keys()].some((p) => p.startsWith('Sent/cur/') && /,S$/.test(p))).toBe(true);
    const highest = async () => (await w.core.db.selectFrom('folders').select(['name', 'highest_modseq']).where('mailbox_id', '=', w.box.mailbox.id).orderBy('name').execute()).map((f) => `${f.name}:${f.highest_modseq}`);
    const before = await highest();

    const second = await run('mbsync', ['-V', '-c', cfg, '-a'], { timeout: 60_000 });
    expect(second.stderr + second.stdout).not.toMatch(/error/i);
    const after = maildirFiles(maildir);
    expect([...after.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [p, data] of after) expect(data.equals(files.get(p)!)).toBe(true);
    // Nothing was written on the server either.
    expect(await highest()).toEqual(before);
  }, 90_000);
});

describe('Python imaplib', () => {
  const script = String.raw`
import imaplib, ssl, json, sys
host, port, plain_port, user, pw, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(cafile=ca)
out = {}
M = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
out['login'] = M.login(user, pw)[0]
typ, data = M.select('INBOX')
out['exists'] = int(data[0])
typ, data = M.search(None, 'SUBJECT', '"Sync 2"')
out['search'] = data[0].decode()
typ, data = M.fetch('1', '(RFC822)')
out['rfc822'] = data[0][1].decode('latin1')
typ, data = M.store('1', '+FLAGS', '(\\Flagged)')
out['store'] = data[0].decode()
out['create'] = M.create('PyFolder')[0]
typ, data = M.append('PyFolder', '(\\Seen)', None, b'From: a@b.example\r\nSubject: py\r\n\r\nhello from python\r\n')
out['append'] = data[0].decode()
typ, data = M.copy('1:2', 'PyFolder')
out['copy'] = data[0].decode()
typ, data = M.list()
out['list'] = [d.decode() for d in data]
typ, data = M.status('PyFolder', '(MESSAGES UNSEEN)')
out['status'] = data[0].decode()
M.select('PyFolder')
M.store('1', '+FLAGS', '(\\Deleted)')
typ, data = M.expunge()
out['expunge'] = [d.decode() for d in data if d]
M.logout()
P = imaplib.IMAP4(host, plain_port)
P.starttls(ssl_context=ctx)
out['starttls_login'] = P.login(user, pw)[0]
P.logout()
print(json.dumps(out))
`;

  it('logs in over TLS and STARTTLS, selects, searches, fetches, stores, appends, copies, expunges', async () => {
    const { stdout } = await run('python3', ['-c', script, 'localhost', String(w.secure.port), String(w.plain.port), w.address, w.password, w.caFile], { timeout: 30_000 });
    const out = JSON.parse(stdout);
    expect(out.login).toBe('OK');
    expect(out.exists).toBe(4);
    expect(out.search).toBe('2');
    expect(Buffer.from(out.rfc822, 'latin1').equals(originals[0])).toBe(true);
    expect(out.store).toMatch(/^1 \(FLAGS \((\\Seen )?\\Flagged\)\)$/);
    expect(out.create).toBe('OK');
    expect(out.append).toMatch(/^\[APPENDUID \d+ 1\] APPEND completed$/);
    expect(out.copy).toMatch(/^\[COPYUID \d+ \d+:\d+ 2:3\] COPY completed$/);
    expect(out.list).toContain('(\\HasNoChildren) "/" "PyFolder"');
    expect(out.status).toBe('"PyFolder" (MESSAGES 3 UNSEEN 1)');
    expect(out.expunge).toEqual(['1']);
    expect(out.starttls_login).toBe('OK');
  });
});

describe('curl', () => {
  it('lists, fetches a message by UID and runs a raw command over imaps://', async () => {
    const base = `imaps://127.0.0.1:${w.secure.port}`;
    const auth = ['--ssl-reqd', '-k', '-s', '-u', `${w.address}:${w.password}`];
    const list = await run('curl', [...auth, `${base}/`], { timeout: 20_000 });
    expect(list.stdout).toContain('* LIST (\\HasNoChildren \\Trash) "/" "Trash"');
    const uid = (await w.core.db.selectFrom('messages').innerJoin('folders', 'folders.id', 'messages.folder_id').select('messages.uid').where('folders.mailbox_id', '=', w.box.mailbox.id).where('folders.name', '=', 'INBOX').orderBy('messages.uid').executeTakeFirstOrThrow()).uid;
    const msg = await run('curl', [...auth, `${base}/INBOX;UID=${uid}`], { timeout: 20_000, encoding: 'buffer' } as never);
    expect((msg.stdout as unknown as Buffer).equals(originals[0])).toBe(true);
    const flags = await run('curl', [...auth, `${base}/INBOX`, '-X', 'UID FETCH 1:* (FLAGS)'], { timeout: 20_000 });
    expect(flags.stdout.trim().split('\r\n').length).toBeGreaterThanOrEqual(4);
    expect(flags.stdout).toMatch(/\* \d+ FETCH \(UID \d+ FLAGS \(/);
  });
});
