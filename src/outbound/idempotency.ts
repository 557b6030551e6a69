// Idempotency-Key for the send API (Resend's semantics): a key is remembered for 24 hours per
// workspace; the same key with the same request returns the first response (the same email id)
// without sending again; the same key with a different request is 409 invalid_idempotent_request;
// a key whose first request is still running is 409 concurrent_idempotent_requests.
//
// Implementation notes:
// - claim() inserts the key with a `pending:<token>` marker (INSERT … ON CONFLICT DO NOTHING), so
//   of two concurrent requests exactly one owns the key, on SQLite and PostgreSQL alike.
// - The owner records the response with complete(), in the SAME transaction that accepts the
//   message, and only while its token is still the marker: the email rows and the remembered
//   response commit together or not at all. A crash in between leaves a pending marker and no email.
// - A pending marker older than PENDING_STALE_MS (its request crashed) and a key older than 24 h may
//   be taken over by a compare-and-set on the old marker; the former owner's complete() then finds
//   its token gone and rolls its transaction back, so two owners can never both send.
// - A request that fails (validation, unverified domain …) gives its key back: nothing was sent.
// - Expired keys are deleted by the periodic job registered in emails.ts.
import { createHash, randomUUID } from 'node:crypto';
import type { Core } from '../core/core.ts';
import { CoreError } from '../core/core.ts';
import type { Db } from '../db/database.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
export const PENDING_STALE_MS = 10 * 60_000;
export const MAX_KEY_LENGTH = 256;

export type Claim = { kind: 'owner'; token: string } | { kind: 'replay'; status: number; body: unknown };

/** A stable digest of what makes two requests "the same". */
export function requestHash(parts: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as object).filter((k) => (v as any)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as any)[k])}`).join(',')}}`;
}

/** Checks the header value: 1 to 256 characters. */
export function checkKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CoreError(400, 'invalid_idempotency_key', `The Idempotency-Key header must be between 1 and ${MAX_KEY_LENGTH} characters.`);
  }
}

export async function claim(core: Core, workspaceId: string, key: string, hash: string): Promise<Claim> {
  checkKey(key);
  for (let tries = 0; tries < 5; tries++) {
    const now = core.clock.now();
    const token = `pending:${randomUUID()}`;
    const inserted = await core.db
      .insertInto('idempotency_keys')
      .values({ workspace_id: workspaceId, key, request_hash: hash, response: token, created_at: now })
      .onConflict((oc) => oc.columns(['workspace_id', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (inserted) return { kind: 'owner', token };

    const row = await core.db.selectFrom('idempotency_keys').selectAll().where('workspace_id', '=', workspaceId).where('key', '=', key).executeTakeFirst();
    if (!row) continue; // purged between our insert and look-up: try again
    const pending = row.response.startsWith('pending:');
    const expired = row.created_at <= now - IDEMPOTENCY_TTL_MS;
    const abandoned = pending && row.created_at <= now - PENDING_STALE_MS;
    if (expired || abandoned) {
      const taken = await core.db
        .updateTable('idempotency_keys')
        .set({ request_hash: hash, response: token, created_at: now })
        .where('workspace_id', '=', workspaceId)
        .where('key', '=', key)
        .where('response', '=', row.response)
        .where('created_at', '=', row.created_at)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) > 0) return { kind: 'owner', token };
      continue;
    }
    if (row.request_hash !== hash) {
      throw new CoreError(409, 'invalid_idempotent_request', 'This Idempotency-Key has already been used with a different request body within the last 24 hours.');
    }
    if (pending) {
      throw new CoreError(409, 'concurrent_idempotent_requests', 'Another request with this Idempotency-Key is still in progress; try again shortly.');
    }
    const stored = JSON.parse(row.response) as { status: number; body: unknown };
    return { kind: 'replay', status: stored.status, body: stored.body };
  }
  throw new CoreError(409, 'concurrent_idempotent_requests', 'Another request with this Idempotency-Key is in progress; try again shortly.');
}

/** Records the response; call inside the transaction that accepts the message. Throws if the claim was lost. */
export async function complete(tx: Db, workspaceId: string, key: string, token: string, status: number, body: unknown): Promise<void> {
  const r = await tx
    .updateTable('idempotency_keys')
    .set({ response: JSON.stringify({ status, body }) })
    .where('workspace_id', '=', workspaceId)
    .where('key', '=', key)
    .where('response', '=', token)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    throw new CoreError(409, 'concurrent_idempotent_requests', 'This Idempotency-Key was taken over by another request; nothing was sent by this one.');
  }
}

/** Gives a key back after a failed request (nothing was sent). */
export async function release(core: Core, workspaceId: string, key: string, token: string): Promise<void> {
  await core.db.deleteFrom('idempotency_keys').where('workspace_id', '=', workspaceId).where('key', '=', key).where('response', '=', token).execute();
}

/** Deletes keys older than 24 hours; returns how many. */
export async function purgeExpired(core: Core): Promise<number> {
  const r = await core.db.deleteFrom('idempotency_keys').where('created_at', '<=', core.clock.now() - IDEMPOTENCY_TTL_MS).executeTakeFirst();
  return Number(r.numDeletedRows);
}
