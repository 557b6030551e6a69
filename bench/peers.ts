// The peers the benchmarks compare against, run on this machine on loopback ports: Postfix taking
// mail into a Maildir, and Dovecot serving IMAP over a Maildir. Each is optional; a missing peer
// is reported and its ratios are left out.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const POSTFIX_PORT = 10025;

/** Postfix with the prototype main.cf plus our settings (Debian's "No configuration" install). */
function postconf(...kv: string[]): void {
  if (!existsSync('/etc/postfix/main.cf')) copyFileSync('/etc/postfix/main.cf.proto', '/etc/postfix/main.cf');
  execFileSync('postconf', ['-e', ...kv]);
}

const POSTFIX_BASE = [
  'inet_interfaces=127.0.0.1',
  'inet_protocols=ipv4',
  'mynetworks=127.0.0.0/8',
  'smtp_tls_security_level=none',
  'smtpd_tls_security_level=none',
  'maillog_file=/var/log/postfix-bench.log',
  'compatibility_level=3.6',
  // Debian's prototype leaves these empty; postfix will not start without them.
  'setgid_group=postdrop',
  'sendmail_path=/usr/sbin/sendmail',
  'newaliases_path=/usr/bin/newaliases',
  'mailq_path=/usr/bin/mailq',
  'html_directory=no',
  'manpage_directory=/usr/share/man',
  'sample_directory=/usr/share/doc/postfix/examples',
  'readme_directory=no',
  'alias_maps=',
  'alias_database=',
];

/** Runs Postfix on 127.0.0.1:POSTFIX_PORT with `extra` settings until `fn` is done. */
export async function withPostfix<T>(extra: string[], fn: () => Promise<T>): Promise<T | string> {
  if (!existsSync('/usr/sbin/postfix')) return 'Postfix is not installed (apt-get install postfix, "No configuration")';
  postconf(...POSTFIX_BASE, ...extra);
  // Listen on 10025 rather than 25 so nothing else on the machine is disturbed.
  try {
    execFileSync('postconf', ['-MX', 'smtp/inet'], { stdio: 'ignore' });
  } catch {}
  execFileSync('postconf', ['-M', `127.0.0.1:${POSTFIX_PORT}/inet=127.0.0.1:${POSTFIX_PORT} inet n - n - - smtpd`]);
  try {
    execFileSync('postfix', ['stop'], { stdio: 'ignore' });
  } catch {}
  // Mail left in the queue by an earlier, interrupted run would be counted into this one.
  try {
    execFileSync('postsuper', ['-d', 'ALL'], { stdio: 'ignore' });
  } catch {}
  execFileSync('postfix', ['start'], { stdio: 'ignore' });
  try {
    await waitForPort(POSTFIX_PORT);
    return await fn();
  } finally {
    execFileSync('postfix', ['stop'], { stdio: 'ignore' });
  }
}

/** Postfix settings that deliver every address of `domain` into the Maildir `dir` (virtual(8)). */
export function postfixMaildir(domain: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  chownSync(dir, 5000, 5000);
  // mkdtemp makes 0700 folders; postfix's virtual(8) runs unprivileged and must read the map.
  chmodSync(path.dirname(dir), 0o755);
  const maps = path.join(path.dirname(dir), 'vmailbox');
  // A catch-all for the domain; the trailing slash makes virtual(8) write Maildir.
  writeFileSync(maps, `@${domain} ${path.basename(dir)}/\n`);
  return [
    'mydestination=',
    'relayhost=',
    `virtual_mailbox_domains=${domain}`,
    `virtual_mailbox_base=${path.dirname(dir)}`,
    `virtual_mailbox_maps=texthash:${maps}`,
    'virtual_uid_maps=static:5000',
    'virtual_gid_maps=static:5000',
    'virtual_minimum_uid=100',
    'virtual_mailbox_limit=0',
    'message_size_limit=0',
    'virtual_destination_concurrency_limit=20',
  ];
}

export function maildirCount(dir: string): number {
  try {
    return readdirSync(path.join(dir, 'new')).length + readdirSync(path.join(dir, 'cur')).length;
  } catch {
    return 0;
  }
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Dovecot {
  port: number;
  user: string;
  password: string;
  stop(): void;
}

/**
 * Dovecot (dovecot-imapd) in a private base directory on 127.0.0.1:`port`, one passwd-file user
 * whose mail is the Maildir `maildir`, plaintext login allowed on loopback (no TLS: the
 * benchmark compares the stores, not ciphers; our side runs without TLS too).
 */
export async function startDovecot(base: string, maildir: string, port: number): Promise<Dovecot | string> {
  if (!existsSync('/usr/sbin/dovecot')) return 'Dovecot is not installed (apt-get install dovecot-imapd)';
  mkdirSync(base, { recursive: true });
  const user = 'bench';
  const password = 'bench-password';
  writeFileSync(path.join(base, 'passwd'), `${user}:{PLAIN}${password}:5000:5000::${base}::\n`);
  const conf = path.join(base, 'dovecot.conf');
  writeFileSync(
    conf,
    [
      `base_dir = ${base}/run`,
      `state_dir = ${base}/state`,
      'protocols = imap',
      `listen = 127.0.0.1`,
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      `log_path = ${base}/dovecot.log`,
      `mail_location = maildir:${maildir}`,
      'mail_uid = 5000',
      'mail_gid = 5000',
      'first_valid_uid = 100',
      'default_internal_user = dovenull',
      'default_login_user = dovenull',
      `passdb {\n  driver = passwd-file\n  args = ${base}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${base}/passwd\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
      'protocol imap {\n  mail_max_userip_connections = 100\n}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    user,
    password,
    stop: () => {
      child.kill('SIGTERM');
    },
  };
}
