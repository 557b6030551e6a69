// Releasing message bodies: a raw message is a content-addressed blob that messages (and outbound
// emails, drafts …) share; it is deleted only when no row refers to it any more.
//
// Implementation notes:
// - The check and the delete are retention.ts's (BLOB_REFERENCES lists every table that holds blob
//   ids; messages.blob_id is one of them), run only after the rows are gone and committed.
// - Inside a caller's transaction (expunge) the release cannot run yet, so a RELEASE_BLOBS_JOB is
//   enqueued in that same transaction: it runs after commit, and not at all if the transaction
//   rolls back. Blobs another message of the store still uses are not even queued.
// - Content addressing means a release can race a new reference to the same bytes (an APPEND of
//   identical content whose put() found the file present). The two meet under one lock per blob:
//   a release checks references and deletes the file while holding it exclusively
//   (retention.ts `deleteIfUnreferenced`), and a writer, in the transaction that commits its
//   reference, holds it shared and then checks the file is there, writing it again if it is not
//   (`holdBlob`). On SQLite the write transaction is that lock (BEGIN IMMEDIATE serialises
//   them); on PostgreSQL it is a transaction-scoped advisory lock on the blob id.
import { CoreError, type Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { lockBlob } from './blob-lock.ts';
import { blobStore } from '../outbound/accept.ts';
import { deleteIfUnreferenced } from '../outbound/retention.ts';

/**
 * In the transaction that will commit a reference to blob `id`: no release of it can run until
 * commit, and the file is there — written again from `raw` when a release removed it after the
 * caller's put(). Without `raw`, a vanished body is a retryable error (503), never a dangling row.
 */
export async function holdBlob(core: Core, tx: Db, id: string, raw?: Buffer): Promise<void> {
  await lockBlob(core, tx, id, 'shared');
  const store = blobStore(core);
  if (await store.has(id)) return;
  if (raw) {
    await store.put(raw);
    return;
  }
  throw new CoreError(503, 'unavailable', 'The message body was released meanwhile; try again');
}

export const RELEASE_BLOBS_JOB = 'mailstore.release-blobs';

/** Deletes those of `blobIds` nothing refers to; returns how many were deleted. Call after commit. */
export async function releaseBlobs(core: Core, blobIds: Iterable<string>): Promise<number> {
  let deleted = 0;
  for (const id of new Set(blobIds)) if (await deleteIfUnreferenced(core, id)) deleted++;
  return deleted;
}

/** In the caller's transaction: queues the release of those blobs no message refers to any more. */
export async function queueBlobRelease(core: Core, tx: Db, blobIds: Iterable<string>): Promise<void> {
  const orphans: string[] = [];
  for (const id of new Set(blobIds)) {
    const used = await tx.selectFrom('messages').select('id').where('blob_id', '=', id).limit(1).executeTakeFirst();
    if (!used) orphans.push(id);
  }
  for (let i = 0; i < orphans.length; i += 500) {
    await core.jobs.enqueue(RELEASE_BLOBS_JOB, { blobIds: orphans.slice(i, i + 500) }, { maxAttempts: 5 }, tx);
  }
}

/** The job handler for RELEASE_BLOBS_JOB. */
export function releaseBlobsHandler(core: Core) {
  return async (payload: unknown) => {
    const ids = (payload as { blobIds?: unknown })?.blobIds;
    if (Array.isArray(ids)) await releaseBlobs(core, ids.filter((x): x is string => typeof x === 'string'));
  };
}
