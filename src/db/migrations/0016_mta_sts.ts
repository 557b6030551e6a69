// The MTA-STS policies (RFC 8461) of the domains we deliver to, cached as §5.1 asks: a policy
// stays in force until it expires even when its TXT record or HTTPS host later vanish (so an
// attacker who blocks them cannot downgrade delivery). One row per recipient domain, node-wide.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mta_sts_policies')
    .addColumn('domain', 'text', (c) => c.primaryKey())
    // The id of the `_mta-sts` TXT record the policy was fetched under.
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    // JSON array of the `mx:` patterns.
    .addColumn('mx_json', 'text', (c) => c.notNull())
    .addColumn('max_age', 'bigint', (c) => c.notNull())
    .addColumn('fetched_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}
