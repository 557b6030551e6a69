// Secrets at rest: AES-256-GCM under a master key.
//
// The master key comes from MAILSTACK_MASTER_KEY or from `<data>/master.key` (generated once,
// mode 0600). Each ciphertext names the key that made it (`v1.<keyId>.<iv>.<tag>.<data>`), so a
// rotation interrupted half-way stays readable: `mailstack keys rotate` keeps the old key beside the new
// one (`master.key.old-<id>`) until every stored secret has been re-encrypted.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class Vault {
  private cur: { id: string; key: Buffer };
  private readonly keys = new Map<string, Buffer>();

  /**
   * `reload`, when given, re-reads the key files and answers null when nothing changed: a node
   * that keeps running through `mailstack keys rotate` then seals with the new key and reads
   * secrets re-sealed under it, without a restart.
   */
  constructor(
    current: Buffer,
    older: Buffer[] = [],
    private readonly reload?: () => { current: Buffer; older: Buffer[] } | null,
  ) {
    this.cur = { id: keyId(current), key: current };
    for (const k of [current, ...older]) this.keys.set(keyId(k), k);
  }

  get current(): { id: string; key: Buffer } {
    return this.cur;
  }

  private refresh(): void {
    const fresh = this.reload?.();
    if (!fresh) return;
    this.cur = { id: keyId(fresh.current), key: fresh.current };
    for (const k of [fresh.current, ...fresh.older]) this.keys.set(keyId(k), k);
  }

  encrypt(plaintext: string, context = ''): string {
    this.refresh();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.cur.key, iv);
    // The context (e.g. "dkim:<domain id>") is bound as associated data: a ciphertext copied into
    // another row does not decrypt there.
    cipher.setAAD(Buffer.from(context));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.cur.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  decrypt(sealed: string, context = ''): string {
    const [version, id, iv, tag, data] = sealed.split('.');
    if (!this.keys.has(id)) this.refresh();
    const key = this.keys.get(id);
    if (version !== 'v1' || !key || data === undefined) {
      throw new Error(`cannot decrypt a secret sealed with key ${id ?? '?'}: that master key is not loaded`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** True when the ciphertext is sealed with the current key. */
  isCurrent(sealed: string): boolean {
    return sealed.split('.')[1] === this.cur.id;
  }
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

const KEY_FILE = 'master.key';

/** Loads the vault: the configured key, or the data folder's key file (made on first use). */
export function loadVault(dataDir: string, configured: Buffer | null, previous: Buffer[] = []): Vault {
  const older = [...previous, ...readOldKeys(dataDir)];
  if (configured) return new Vault(configured, older);
  const file = path.join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    // 'wx' fails if another process created it first; then we read theirs.
    try {
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  let seen = mtimeOf(file);
  const reload = () => {
    const now = mtimeOf(file);
    if (now === seen) return null;
    seen = now;
    return { current: readKeyFile(file), older: [...previous, ...readOldKeys(dataDir)] };
  };
  return new Vault(readKeyFile(file), older, reload);
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function readKeyFile(file: string): Buffer {
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}

function readOldKeys(dataDir: string): Buffer[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir)
    .filter((f) => f.startsWith(KEY_FILE + '.old-'))
    .map((f) => readKeyFile(path.join(dataDir, f)));
}

/**
 * Steps of a rotation, around the re-encryption the caller does: `begin` installs the new key as
 * current and keeps the old one readable; `finish` forgets the old key once nothing uses it.
 */
export function beginKeyFileRotation(dataDir: string, newKey: Buffer): { oldKeyFile: string | null } {
  const file = path.join(dataDir, KEY_FILE);
  let oldKeyFile: string | null = null;
  if (existsSync(file)) {
    const old = readKeyFile(file);
    oldKeyFile = path.join(dataDir, `${KEY_FILE}.old-${keyId(old)}`);
    writeFileSync(oldKeyFile, old.toString('base64') + '\n', { mode: 0o600 });
  }
  const tmp = file + '.tmp';
  writeFileSync(tmp, newKey.toString('base64') + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { oldKeyFile };
}

export function finishKeyFileRotation(dataDir: string): void {
  for (const f of readdirSync(dataDir)) {
    if (f.startsWith(KEY_FILE + '.old-')) rmSync(path.join(dataDir, f));
  }
}
