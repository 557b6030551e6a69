// Domain ownership across the instance (issue 9): one workspace owns a domain name for receiving
// and for sending identity. Each domain row gets its own challenge token, published by the owner as
// `_mailstack-challenge.<name> TXT "mailstack-verification=<token>"`, and `owned_at`, set when that
// proof was seen (src/domains/ownership.ts). The partial unique index makes "one owner per name" a
// database fact, not only a check in code.
//
// Existing rows: every row gets a token. Of the rows sharing a name, the verified one created first
// becomes the owner (the one inbound routing already preferred), so a running install keeps
// receiving and sending; every other copy must prove control with its token like a new claim.
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('domains').addColumn('challenge_token', 'text').execute();
  await db.schema.alterTable('domains').addColumn('owned_at', 'bigint').execute();
  const rows = await db.selectFrom('domains').select(['id', 'name', 'status', 'created_at', 'verified_at']).orderBy('created_at').orderBy('id').execute();
  const owners = new Map<string, string>();
  for (const r of rows) if (r.status === 'verified' && !owners.has(r.name)) owners.set(r.name, r.id);
  for (const r of rows) {
    const owned = owners.get(r.name) === r.id;
    await db
      .updateTable('domains')
      .set({ challenge_token: randomBytes(18).toString('base64url'), owned_at: owned ? Number(r.verified_at ?? r.created_at) : null })
      .where('id', '=', r.id)
      .execute();
  }
  await db.schema.createIndex('domains_one_owner').on('domains').column('name').unique().where(sql.ref('owned_at'), 'is not', null).execute();
}
