// Mail-client logins (loginMailbox): app passwords, the account-password option, revocation,
// isolation between mailboxes, and the shared throttle (per account and per IP, race-safe).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { systemActor } from '../core/core.ts';
import { type TestCore, type TestMailbox, createTestMailbox, openTestCore } from '../testkit/mailbox.ts';
import { createAppPassword, revokeAppPassword, setMailboxAccountPasswords } from './app-passwords.ts';
import { loginMailbox } from './mailbox-login.ts';
import { setPassword } from './users.ts';

const clock = new ManualClock();
let t: TestCore;
let a: TestMailbox;
let b: TestMailbox;
let passA = '';
let passAId = '';
let passB = '';

const login = (username: string, password: string, ip: string | null = '192.0.2.1') => loginMailbox(t.core, { username, password, ip, door: 'imap' });

beforeAll(async () => {
  t = await openTestCore({ clock, env: { MAILSTACK_LOGIN_MAX_FAILURES: '3', MAILSTACK_LOGIN_IP_MAX_FAILURES: '8', MAILSTACK_LOGIN_LOCKOUT: '15m' } });
  a = await createTestMailbox(t.core, {});
  b = await createTestMailbox(t.core, { workspaceId: a.workspaceId, domainName: a.domainName });
  const pa = await createAppPassword(t.core, systemActor, a.workspaceId, a.mailbox.id, { name: 'Thunderbird' });
  passA = pa.password;
  passAId = pa.id;
  passB = (await createAppPassword(t.core, systemActor, a.workspaceId, b.mailbox.address, { name: 'phone' })).password;
});
afterAll(() => t?.close());
// Each test starts with no lock left over from the one before (the lockout window passes).
afterEach(() => clock.advance(16 * 60_000));

describe('app passwords', () => {
  it('look like 40 base32 letters in groups of four, stored only as SHA-256', async () => {
    expect(passA).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){9}$/);
    const row = await t.core.db.selectFrom('app_passwords').selectAll().where('id', '=', passAId).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(passA.replace(/-/g, '').slice(0, 12));
  });

  it('log in with the address (any case) and the password (with or without dashes, any case)', async () => {
    const r = await login(a.mailbox.address.toUpperCase(), passA);
    expect(r).toMatchObject({ ok: true, via: 'app_password', credentialId: passAId });
    if (r.ok) expect(r.mailbox.id).toBe(a.mailbox.id);
    expect((await login(` ${a.mailbox.address} `, passA.replace(/-/g, '').toUpperCase())).ok).toBe(true);
    expect((await login(a.mailbox.address, passA.replace(/-/g, ' '))).ok).toBe(true);
    const row = await t.core.db.selectFrom('app_passwords').select('last_used_at').where('id', '=', passAId).executeTakeFirstOrThrow();
    expect(Number(row.last_used_at)).toBeGreaterThan(0);
  });

  it('refuse a wrong password, an unknown user, and another mailbox\'s password', async () => {
    expect(await login(a.mailbox.address, 'wrong-password', '192.0.2.10')).toEqual({ ok: false, reason: 'invalid' });
    expect(await login(`nobody@${a.domainName}`, passA, '192.0.2.11')).toEqual({ ok: false, reason: 'invalid' });
    expect(await login(a.mailbox.address, passB, '192.0.2.12')).toEqual({ ok: false, reason: 'invalid' });
    expect((await login(b.mailbox.address, passB, '192.0.2.12')).ok).toBe(true);
    expect(await login(a.mailbox.address, '', '192.0.2.13')).toEqual({ ok: false, reason: 'invalid' });
    expect(await login('', '', '192.0.2.13')).toEqual({ ok: false, reason: 'invalid' });
    expect(await login(`${'x'.repeat(5000)}@${a.domainName}`, 'x'.repeat(100_000), '192.0.2.13')).toEqual({ ok: false, reason: 'invalid' });
    expect(await login(`a\u0000b@${a.domainName}`, 'p\u0000', '192.0.2.13')).toEqual({ ok: false, reason: 'invalid' });
  });

  it('stop working once revoked', async () => {
    const p = await createAppPassword(t.core, systemActor, a.workspaceId, a.mailbox.address, { name: 'temporary' });
    expect((await login(a.mailbox.address, p.password, '192.0.2.20')).ok).toBe(true);
    await revokeAppPassword(t.core, systemActor, a.workspaceId, a.mailbox.id, p.id);
    expect(await login(a.mailbox.address, p.password, '192.0.2.20')).toEqual({ ok: false, reason: 'invalid' });
    // The other password of the mailbox still works.
    expect((await login(a.mailbox.address, passA, '192.0.2.20')).ok).toBe(true);
  });

  it('audit every attempt in the mailbox\'s workspace, never with the password', async () => {
    const rows = await t.core.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', a.workspaceId).where('action', 'like', 'mailbox.login.%').execute();
    expect(rows.some((r) => r.action === 'mailbox.login.succeeded' && r.target_id === a.mailbox.id)).toBe(true);
    expect(rows.some((r) => r.action === 'mailbox.login.failed' && r.target_id === a.mailbox.id)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(passA);
  });
});

describe('account passwords', () => {
  let owned: TestMailbox;
  const accountPassword = 'a long account password';

  beforeAll(async () => {
    await setPassword(t.core, t.core.db, a.userId!, accountPassword);
    owned = await createTestMailbox(t.core, { workspaceId: a.workspaceId, domainName: a.domainName, ownerUserId: a.userId });
  });

  it('are refused unless the workspace allows them', async () => {
    expect(await login(owned.mailbox.address, accountPassword, '192.0.2.30')).toEqual({ ok: false, reason: 'invalid' });
    await setMailboxAccountPasswords(t.core, systemActor, a.workspaceId, true);
    const r = await login(owned.mailbox.address, accountPassword, '192.0.2.30');
    expect(r).toMatchObject({ ok: true, via: 'account_password', credentialId: a.userId });
    // Only for a mailbox the user owns.
    expect(await login(a.mailbox.address, accountPassword, '192.0.2.30')).toEqual({ ok: false, reason: 'invalid' });
  });

  it('stop working when the user leaves the workspace or is disabled, and when the workspace turns them off', async () => {
    await t.core.db.updateTable('users').set({ disabled_at: clock.now() }).where('id', '=', a.userId!).execute();
    expect(await login(owned.mailbox.address, accountPassword, '192.0.2.31')).toEqual({ ok: false, reason: 'invalid' });
    await t.core.db.updateTable('users').set({ disabled_at: null }).where('id', '=', a.userId!).execute();
    expect((await login(owned.mailbox.address, accountPassword, '192.0.2.31')).ok).toBe(true);

    const membership = await t.core.db.selectFrom('memberships').selectAll().where('user_id', '=', a.userId!).where('workspace_id', '=', a.workspaceId).executeTakeFirstOrThrow();
    await t.core.db.deleteFrom('memberships').where('user_id', '=', a.userId!).where('workspace_id', '=', a.workspaceId).execute();
    expect(await login(owned.mailbox.address, accountPassword, '192.0.2.31')).toEqual({ ok: false, reason: 'invalid' });
    await t.core.db.insertInto('memberships').values(membership).execute();

    await setMailboxAccountPasswords(t.core, systemActor, a.workspaceId, false);
    expect(await login(owned.mailbox.address, accountPassword, '192.0.2.31')).toEqual({ ok: false, reason: 'invalid' });
  });
});

describe('throttling', () => {
  it('locks an account after the limit, even for the right password, until the lockout passes', async () => {
    const ip = (n: number) => `198.51.100.${n}`;
    for (let i = 0; i < 3; i++) expect(await login(b.mailbox.address, 'nope', ip(i))).toEqual({ ok: false, reason: 'invalid' });
    const locked = await login(b.mailbox.address, passB, ip(10));
    expect(locked).toMatchObject({ ok: false, reason: 'locked' });
    if (!locked.ok) expect(locked.retryAfterSeconds).toBeGreaterThan(0);
    // Another mailbox is not affected.
    expect((await login(a.mailbox.address, passA, ip(11))).ok).toBe(true);
    clock.advance(16 * 60_000);
    expect((await login(b.mailbox.address, passB, ip(12))).ok).toBe(true);
  });

  it('locks a client IP that fails across many accounts', async () => {
    const ip = '203.0.113.7';
    let locked = 0;
    for (let i = 0; i < 10; i++) {
      const r = await login(`user${i}@${a.domainName}`, 'guess', ip);
      if (!r.ok && r.reason === 'locked') locked++;
    }
    expect(locked).toBeGreaterThan(0);
    // Even the right password from that IP waits.
    expect(await login(a.mailbox.address, passA, ip)).toMatchObject({ ok: false, reason: 'locked' });
    expect((await login(a.mailbox.address, passA, '203.0.113.8')).ok).toBe(true);
  });

  it('lets in many right logins that arrive at once, beyond the limit (attempts being checked are not failures)', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => login(a.mailbox.address, passA, '192.0.2.50')));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
  });

  it('holds the limit when many attempts arrive at once', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => login(a.mailbox.address, `wrong-${i}`, `192.0.2.${100 + i}`)));
    const checked = results.filter((r) => !r.ok && r.reason === 'invalid').length;
    expect(checked).toBeLessThanOrEqual(3);
    expect(results.filter((r) => !r.ok && r.reason === 'locked').length).toBeGreaterThanOrEqual(17);
  });
});
