// Users: people who log in. An email address names one user across all workspaces.
import type { Core } from '../core/core.ts';
import { invalid } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { UsersTable } from '../db/schema.ts';
import { hashPassword, passwordProblem } from './passwords.ts';

export type User = UsersTable;

// Deliberately plain: one @, no spaces or angle brackets, a dotted domain. RFC 5321 limits: 64/255/254.
const EMAIL = /^[^\s@<>()",;:\\[\]]{1,64}@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/u;

export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw invalid(`"${raw.slice(0, 100)}" is not a valid email address`);
  return email;
}

export function findUserByEmail(db: Db, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export function getUser(db: Db, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Returns the user with this email, creating it (without a password) when absent. */
export async function ensureUser(core: Core, db: Db, rawEmail: string, name: string | null = null): Promise<{ user: User; created: boolean }> {
  const email = normalizeEmail(rawEmail);
  const existing = await findUserByEmail(db, email);
  if (existing) return { user: existing, created: false };
  const now = core.clock.now();
  const user: User = { id: newId(now), email, name, password_hash: null, created_at: now, updated_at: now, disabled_at: null };
  const inserted = await db.insertInto('users').values(user).onConflict((oc) => oc.column('email').doNothing()).returning('id').executeTakeFirst();
  // Another request may have created it between our look-up and insert: then it is theirs, not
  // ours (sign-up must not set a password on a user it did not create).
  return { user: (await findUserByEmail(db, email))!, created: inserted !== undefined };
}

export async function setPassword(core: Core, db: Db, userId: string, password: string): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw invalid(problem);
  await db
    .updateTable('users')
    .set({ password_hash: await hashPassword(password), updated_at: core.clock.now() })
    .where('id', '=', userId)
    .execute();
}
