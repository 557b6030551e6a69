// Secrets at rest: AES-256-GCM with the context bound as associated data, ciphertexts that name
// their key, and the data folder's key file made once with mode 0600.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Vault, beginKeyFileRotation, finishKeyFileRotation, keyId, loadVault } from './vault.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'mailstack-vault-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Flips one bit of one base64url part of a sealed value. */
function tamper(sealed: string, part: 2 | 3 | 4): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[0] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('Vault', () => {
  const vault = new Vault(randomBytes(32));

  it('round-trips a secret, sealed as v1.<keyId>.<iv>.<tag>.<data>', () => {
    const secret = 'DKIM private key ✉ -----BEGIN PRIVATE KEY-----';
    const sealed = vault.encrypt(secret, 'dkim:dom_1');
    const [version, id, iv, tag, data] = sealed.split('.');
    expect(version).toBe('v1');
    expect(id).toBe(vault.current.id);
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    expect(data.length).toBeGreaterThan(0);
    expect(sealed).not.toContain('PRIVATE');
    expect(vault.decrypt(sealed, 'dkim:dom_1')).toBe(secret);
    expect(vault.decrypt(vault.encrypt('', 'c'), 'c')).toBe('');
  });

  it('uses a fresh IV each time: the same secret seals differently', () => {
    const a = vault.encrypt('same', 'ctx');
    const b = vault.encrypt('same', 'ctx');
    expect(a).not.toBe(b);
    expect(vault.decrypt(a, 'ctx')).toBe(vault.decrypt(b, 'ctx'));
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const sealed = vault.encrypt('webhook signing secret', 'webhook:wh_1');
    for (const part of [2, 3, 4] as const) {
      expect(() => vault.decrypt(tamper(sealed, part), 'webhook:wh_1')).toThrow();
    }
    const truncated = sealed.split('.').slice(0, 4).join('.');
    expect(() => vault.decrypt(truncated, 'webhook:wh_1')).toThrow();
  });

  it('refuses a secret copied into another context (associated data)', () => {
    const sealed = vault.encrypt('relay password', 'relay:dom_1');
    expect(() => vault.decrypt(sealed, 'relay:dom_2')).toThrow();
    expect(() => vault.decrypt(sealed, '')).toThrow();
    expect(() => new Vault(randomBytes(32)).decrypt(vault.encrypt('x'), '')).toThrow(/not loaded/);
  });

  it('reads secrets sealed with an older key and says which are current', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const sealedOld = new Vault(oldKey).encrypt('kept', 'ctx');
    const rotated = new Vault(newKey, [oldKey]);
    expect(rotated.current.id).toBe(keyId(newKey));
    expect(rotated.decrypt(sealedOld, 'ctx')).toBe('kept');
    expect(rotated.isCurrent(sealedOld)).toBe(false);
    expect(rotated.isCurrent(rotated.encrypt('kept', 'ctx'))).toBe(true);
    // Without the old key the old secret is unreadable, and a wrong key is never tried.
    expect(() => new Vault(newKey).decrypt(sealedOld, 'ctx')).toThrow(/not loaded/);
  });
});

describe('the master key file', () => {
  it('is generated once into the data folder with mode 0600 and reused afterwards', () => {
    const dataDir = path.join(tempDir(), 'data');
    const first = loadVault(dataDir, null);
    const file = path.join(dataDir, 'master.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    expect(key).toHaveLength(32);
    expect(first.current.id).toBe(keyId(key));
    const second = loadVault(dataDir, null);
    expect(second.current.id).toBe(first.current.id);
    expect(second.decrypt(first.encrypt('s', 'c'), 'c')).toBe('s');
  });

  it('is not written when MAILSTACK_MASTER_KEY is given', () => {
    const dataDir = tempDir();
    const key = randomBytes(32);
    expect(loadVault(dataDir, key).current.id).toBe(keyId(key));
    expect(existsSync(path.join(dataDir, 'master.key'))).toBe(false);
  });

  it('is switched by a rotation, the old key kept (0600) until the rotation finishes', () => {
    const dataDir = tempDir();
    const before = loadVault(dataDir, null);
    const sealed = before.encrypt('secret', 'ctx');
    const newKey = randomBytes(32);
    const { oldKeyFile } = beginKeyFileRotation(dataDir, newKey);
    expect(oldKeyFile).toBe(path.join(dataDir, `master.key.old-${before.current.id}`));
    expect(statSync(oldKeyFile!).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    const during = loadVault(dataDir, null);
    expect(during.current.id).toBe(keyId(newKey));
    expect(during.decrypt(sealed, 'ctx')).toBe('secret');
    finishKeyFileRotation(dataDir);
    expect(readdirSync(dataDir)).toEqual(['master.key']);
    expect(() => loadVault(dataDir, null).decrypt(sealed, 'ctx')).toThrow(/not loaded/);
  });

  it('follows a rotation made by another process without a restart', async () => {
    const dataDir = tempDir();
    const running = loadVault(dataDir, null);
    const oldId = running.current.id;
    const sealedBefore = running.encrypt('before', 'ctx');
    // Let the file's mtime move on even on coarse-grained filesystems.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const newKey = randomBytes(32);
    beginKeyFileRotation(dataDir, newKey);
    // The rotating process re-seals with the new key; the running node reads that…
    const rotator = loadVault(dataDir, null);
    const resealed = rotator.encrypt(rotator.decrypt(sealedBefore, 'ctx'), 'ctx');
    expect(running.decrypt(resealed, 'ctx')).toBe('before');
    // …and seals anything new with the new key, so forgetting the old one loses nothing.
    const sealedAfter = running.encrypt('after', 'ctx');
    expect(sealedAfter.split('.')[1]).toBe(keyId(newKey));
    expect(running.current.id).not.toBe(oldId);
    finishKeyFileRotation(dataDir);
    expect(loadVault(dataDir, null).decrypt(sealedAfter, 'ctx')).toBe('after');
  });
});
