// TLS material for the mail doors (SMTP STARTTLS and implicit TLS, later IMAP and POP3): the
// operator's certificate from MAILSTACK_TLS_CERT / MAILSTACK_TLS_KEY, or a self-signed one made on
// first start (with the openssl command) and kept in <data>/tls so clients can pin it.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/settings.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Where the certificate came from, for logs and docs. */
  source: 'configured' | 'self-signed';
  certFile: string;
}

export function loadTlsMaterial(settings: Settings): TlsMaterial {
  if (settings.tlsCert && settings.tlsKey) {
    try {
      return { cert: readFileSync(settings.tlsCert), key: readFileSync(settings.tlsKey), source: 'configured', certFile: settings.tlsCert };
    } catch (err) {
      throw new Error(`cannot read MAILSTACK_TLS_CERT/MAILSTACK_TLS_KEY: ${(err as Error).message}`);
    }
  }
  const dir = path.join(settings.dataDir, 'tls');
  const certFile = path.join(dir, 'self-signed.crt');
  const keyFile = path.join(dir, 'self-signed.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `.tmp-${process.pid}`;
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
        '-keyout', keyFile + tmp, '-out', certFile + tmp,
        '-subj', `/CN=${settings.hostname}`,
        '-addext', `subjectAltName=DNS:${settings.hostname},DNS:localhost,IP:127.0.0.1,IP:::1`,
      ],
      { stdio: 'ignore' },
    );
    chmodSync(keyFile + tmp, 0o600);
    // Key first: a reader that sees the certificate always finds its key.
    renameSync(keyFile + tmp, keyFile);
    renameSync(certFile + tmp, certFile);
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), source: 'self-signed', certFile };
}
