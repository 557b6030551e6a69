// The structure cache: ENVELOPE, BODY and BODYSTRUCTURE of a message, serialised once and kept by
// blob id (they depend only on the message's bytes), so FETCH of those items over a folder reads
// no message files after the first time — what Dovecot's dovecot.index.cache does for it.
//
// Implementation notes:
// - Filled lazily by FETCH, after the batch that computed the values; a lost write only costs a
//   recomputation. Rows are never updated: the same bytes always give the same answers.
// - Values are stored one byte per character (latin1) and written back as raw IMAP bytes.
import type { Db } from '../db/database.ts';
import { type MimeNode, bodyStructure, envelope, indexMime, serialize } from './mime/index.ts';

export interface Structure {
  envelope: Buffer;
  body: Buffer;
  bodystructure: Buffer;
}

export function computeStructure(raw: Buffer, root: MimeNode = indexMime(raw)): Structure {
  return {
    envelope: serialize(envelope(root, raw)),
    body: serialize(bodyStructure(root, raw, false)),
    bodystructure: serialize(bodyStructure(root, raw, true)),
  };
}

export async function cachedStructures(db: Db, blobIds: string[]): Promise<Map<string, Structure>> {
  const found = new Map<string, Structure>();
  const ids = [...new Set(blobIds)];
  if (!ids.length) return found;
  const rows = await db.selectFrom('imap_structure_cache').selectAll().where('blob_id', 'in', ids).execute();
  for (const r of rows) {
    found.set(r.blob_id, { envelope: Buffer.from(r.envelope, 'latin1'), body: Buffer.from(r.body, 'latin1'), bodystructure: Buffer.from(r.bodystructure, 'latin1') });
  }
  return found;
}

export async function saveStructures(db: Db, fresh: Map<string, Structure>, now: number): Promise<void> {
  if (!fresh.size) return;
  const values = [...fresh].map(([blob_id, s]) => ({
    blob_id,
    envelope: s.envelope.toString('latin1'),
    body: s.body.toString('latin1'),
    bodystructure: s.bodystructure.toString('latin1'),
    created_at: now,
  }));
  await db
    .insertInto('imap_structure_cache')
    .values(values)
    .onConflict((oc) => oc.column('blob_id').doNothing())
    .execute();
}
