// For TLS tests that need a certificate a client verifies: a throwaway certificate authority made
// with the openssl command, and leaf certificates it signs for given DNS names.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM) and the file holding it. */
  cert: string;
  certFile: string;
  /** A key and certificate for `names` (subjectAltName DNS entries), signed by this CA. */
  issue(names: string[]): { key: Buffer; cert: Buffer };
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailstack-ca-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=Mailstack Test CA', '-keyout', 'ca.key', '-out', 'ca.crt', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let n = 0;
  return {
    dir,
    cert: readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    certFile: path.join(dir, 'ca.crt'),
    issue(names) {
      const id = `leaf${n++}`;
      writeFileSync(path.join(dir, `${id}.ext`), `subjectAltName=${names.map((x) => `DNS:${x}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', `/CN=${names[0]}`, '-keyout', `${id}.key`, '-out', `${id}.csr`]);
      run(['x509', '-req', '-in', `${id}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${id}.ext`, '-out', `${id}.crt`]);
      return { key: readFileSync(path.join(dir, `${id}.key`)), cert: readFileSync(path.join(dir, `${id}.crt`)) };
    },
  };
}
