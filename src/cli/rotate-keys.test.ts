// `mailstack keys rotate`: every stored secret re-encrypted under a new master key, and a node
// started afterwards still reads them. The secret used is the CSRF key in instance_secrets: a
// cookie-authenticated write only passes if the node can decrypt it, and the CSRF token of a
// session only stays the same if the secret's value survived the rotation.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../db/database.ts';
import { Vault, keyId } from '../secrets/vault.ts';
import { type TestServer, api, runCli, startTestServer } from '../testkit/server.ts';
import { type TestDatabase, createTestDatabase } from '../testkit/store.ts';

const SLOW = 180_000;

/** Signs up (which makes the CSRF secret), returning the cookie and its CSRF token. */
async function signup(server: TestServer, email: string) {
  const r = await api(server.url, 'POST', '/v1/auth/signup', { body: { email, password: 'a good password', workspace_name: 'Rotating' } });
  expect(r.status).toBe(201);
  const cookie = /mailstack_session=[^;]+/.exec(r.headers.get('set-cookie') ?? '')![0];
  return { cookie, csrf: r.json.csrf_token as string };
}

/** A cookie-authenticated write: passes only with the right CSRF token, which needs the secret. */
async function cookieWrite(server: TestServer, s: { cookie: string; csrf: string }) {
  const session = await api(server.url, 'GET', '/v1/auth/session', { headers: { cookie: s.cookie } });
  expect(session.status).toBe(200);
  expect(session.json.csrf_token).toBe(s.csrf);
  const made = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, body: { name: 'after rotation' } });
  expect(made.status).toBe(201);
  const forged = await api(server.url, 'POST', '/v1/api-keys', { headers: { cookie: s.cookie, 'x-csrf-token': 'forged' }, body: { name: 'x' } });
  expect(forged.status).toBe(403);
}

async function readSecret(db: TestDatabase): Promise<string> {
  const store = openStore(db.url);
  try {
    const row = await store.db.selectFrom('instance_secrets').select('value_enc').where('name', '=', 'csrf').executeTakeFirstOrThrow();
    return row.value_enc;
  } finally {
    await store.close();
  }
}

async function auditActions(db: TestDatabase): Promise<{ action: string; data: string | null }[]> {
  const store = openStore(db.url);
  try {
    return (await store.db.selectFrom('audit_log').selectAll().where('action', '=', 'master_key.rotated').execute()) as any;
  } finally {
    await store.close();
  }
}

describe('keys rotate with the key file in the data folder', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('re-encrypts instance secrets under a new key file, and a restarted node still works', async () => {
    const first = await startTestServer({ db });
    const env = first.env;
    const s = await signup(first, 'file-key@example.com');
    await first.stop();

    const keyFile = path.join(db.dataDir, 'master.key');
    const oldKeyText = readFileSync(keyFile, 'utf8');
    const oldId = keyId(Buffer.from(oldKeyText.trim(), 'base64'));
    const sealedBefore = await readSecret(db);
    expect(sealedBefore.split('.')[1]).toBe(oldId);

    const r = runCli(['keys', 'rotate'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('    at ');
    const out = JSON.parse(r.stdout.trim());
    expect(out).toMatchObject({ previousKeyId: oldId, keyId: expect.any(String), keyFile });
    expect(out.rotated).toBeGreaterThanOrEqual(1); // at least the CSRF secret
    expect(out.keyId).not.toBe(oldId);
    expect(out).not.toHaveProperty('newMasterKey');

    // The key file changed, still 0600, and the old key is gone from the folder.
    const newKeyText = readFileSync(keyFile, 'utf8');
    expect(newKeyText).not.toBe(oldKeyText);
    expect(keyId(Buffer.from(newKeyText.trim(), 'base64'))).toBe(out.keyId);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(db.dataDir).filter((f) => f.startsWith('master.key'))).toEqual(['master.key']);

    // The secret is sealed under the new key and the old key cannot read it.
    const sealedAfter = await readSecret(db);
    expect(sealedAfter.split('.')[1]).toBe(out.keyId);
    expect(() => new Vault(Buffer.from(oldKeyText.trim(), 'base64')).decrypt(sealedAfter, 'instance:csrf')).toThrow();
    expect(await auditActions(db)).toHaveLength(1);

    // A node started afterwards reads it: the session keeps its CSRF token and writes pass.
    const second = await startTestServer({ db });
    try {
      await cookieWrite(second, s);
    } finally {
      await second.stop();
    }

    // A second rotation works the same way from the new key.
    const again = runCli(['keys', 'rotate'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ rotated: out.rotated, previousKeyId: out.keyId });
  }, SLOW);
});

describe('keys rotate with MAILSTACK_MASTER_KEY', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('prints the new key; with it as MAILSTACK_MASTER_KEY and the old as _PREVIOUS, data is readable', async () => {
    const oldKey = randomBytes(32).toString('base64');
    const first = await startTestServer({ db, env: { MAILSTACK_MASTER_KEY: oldKey } });
    const env = first.env;
    const s = await signup(first, 'env-key@example.com');
    await first.stop();
    expect(existsSync(path.join(db.dataDir, 'master.key'))).toBe(false);
    expect((await readSecret(db)).split('.')[1]).toBe(keyId(Buffer.from(oldKey, 'base64')));

    const r = runCli(['keys', 'rotate'], env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.newMasterKey).toEqual(expect.any(String));
    const newKey = Buffer.from(out.newMasterKey, 'base64');
    expect(newKey).toHaveLength(32);
    expect(out).toMatchObject({ keyId: keyId(newKey), previousKeyId: keyId(Buffer.from(oldKey, 'base64')) });
    expect(out.rotated).toBeGreaterThanOrEqual(1);
    // No key file appears: the operator holds the key.
    expect(existsSync(path.join(db.dataDir, 'master.key'))).toBe(false);

    const sealed = await readSecret(db);
    expect(sealed.split('.')[1]).toBe(keyId(newKey));
    expect(new Vault(newKey).decrypt(sealed, 'instance:csrf')).toEqual(expect.any(String));

    // The roll-out step the command prints: new key current, old key still accepted.
    const second = await startTestServer({ db, env: { MAILSTACK_MASTER_KEY: out.newMasterKey, MAILSTACK_MASTER_KEY_PREVIOUS: oldKey } });
    try {
      await cookieWrite(second, s);
    } finally {
      await second.stop();
    }
    // And once every secret is re-encrypted the old key can be dropped.
    const third = await startTestServer({ db, env: { MAILSTACK_MASTER_KEY: out.newMasterKey } });
    try {
      await cookieWrite(third, s);
    } finally {
      await third.stop();
    }
  }, SLOW);
});
