// For the receiving tests: three real SMTP clients (nodemailer, Python's smtplib, swaks) that send
// one message to the MX over a real socket and report the server's replies, and store look-ups.
// The clients run asynchronously: the MX answering them lives in the test's own process.
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';
import type { Core } from '../core/core.ts';
import { blobStore } from '../outbound/accept.ts';

export interface SendResult {
  /** The final reply code (250 on success; the refusing reply otherwise). */
  code: number;
  response: string;
  /** Recipients the server refused at RCPT (nodemailer and smtplib report them). */
  rejected: string[];
}

/** nodemailer: one transaction, the raw message as given (dot-stuffed by nodemailer). */
export async function sendWithNodemailer(port: number, envelope: { from: string; to: string[] }, raw: Buffer | string): Promise<SendResult> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, name: 'client.remote.test', connectionTimeout: 20_000, socketTimeout: 60_000 });
  try {
    const info = await transport.sendMail({ envelope, raw });
    return { code: Number(/^(\d{3})/.exec(info.response)?.[1] ?? 0), response: info.response, rejected: (info.rejected as string[]) ?? [] };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string; rejected?: string[] };
    return { code: e.responseCode ?? 0, response: e.response ?? e.message, rejected: e.rejected ?? [] };
  } finally {
    transport.close();
  }
}

/** Runs a client process (swaks, python3) without blocking this process: the server answering it runs here. */
export function runClient(cmd: string, args: string[], input?: string | Buffer, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const PY = `
import smtplib, sys, json
port = int(sys.argv[1]); sender = sys.argv[2]; rcpts = sys.argv[3:]
msg = sys.stdin.buffer.read()
try:
    with smtplib.SMTP('127.0.0.1', port, local_hostname='py.remote.test', timeout=60) as s:
        refused = s.sendmail(sender, rcpts, msg)
        print(json.dumps({'code': 250, 'response': 'ok', 'rejected': list(refused.keys())}))
except smtplib.SMTPRecipientsRefused as e:
    first = list(e.recipients.values())[0]
    print(json.dumps({'code': first[0], 'response': first[1].decode('latin1'), 'rejected': list(e.recipients.keys())}))
except smtplib.SMTPResponseException as e:
    print(json.dumps({'code': e.smtp_code, 'response': e.smtp_error.decode('latin1'), 'rejected': []}))
`;

/** Python's smtplib: sendmail() with the raw bytes. */
export async function sendWithPython(port: number, envelope: { from: string; to: string[] }, raw: Buffer | string): Promise<SendResult> {
  const out = await runClient('python3', ['-c', PY, String(port), envelope.from, ...envelope.to], Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
  if (out.code !== 0) throw new Error(`python smtplib failed: ${out.stderr}`);
  return JSON.parse(out.stdout.trim());
}

/** swaks: `--data -` with the raw message on stdin; the transcript tells the replies. */
export async function sendWithSwaks(port: number, envelope: { from: string; to: string[] }, raw: Buffer | string): Promise<SendResult & { transcript: string }> {
  const out = await runClient(
    'swaks',
    ['--server', '127.0.0.1', '--port', String(port), '--ehlo', 'swaks.remote.test', '--from', envelope.from, '--to', envelope.to.join(','), '--data', '-', '--timeout', '60'],
    Buffer.isBuffer(raw) ? raw : Buffer.from(raw),
  );
  // Server lines are `<-  250 …` (plain), `<~  …` (TLS), `<** …` / `<~* …` (an error reply).
  const replies = out.stdout
    .split('\n')
    .map((l) => /^\s*<(?:-|~|\*\*|~\*)\s+(\d{3})[ -](.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ code: Number(m[1]), text: `${m[1]} ${m[2]}` }))
    .filter((r) => r.code !== 221);
  const final = replies.find((r) => r.code >= 400) ?? replies.at(-1) ?? { code: 0, text: out.stderr };
  return { code: final.code, response: final.text, rejected: [], transcript: out.stdout };
}

/** The messages stored in a mailbox (any folder), oldest first, with their raw bytes. */
export async function storedMessages(core: Core, mailboxId: string) {
  const rows = await core.db.selectFrom('messages').selectAll().where('mailbox_id', '=', mailboxId).orderBy('created_at').orderBy('id').execute();
  const blobs = blobStore(core);
  return Promise.all(rows.map(async (r) => ({ ...r, raw: await blobs.get(r.blob_id) })));
}
