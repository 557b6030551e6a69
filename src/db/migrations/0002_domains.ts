// Domains for sending and receiving: DNS records, verification state, DKIM keys.
//
// 0001 made a minimal `domains` table (api_keys.domain_id references it); this adds the rest as
// columns. SQLite's ALTER TABLE adds one column per statement, and a NOT NULL column needs a
// default, so every column here is added on its own and the NOT NULL ones carry one.
// The DNS records a domain must publish, with each one's last checked status, are one JSON text
// column (`records`): they are always read and written together with the domain's status.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const add = (name: string, type: 'text' | 'bigint' | 'integer', notNullDefault?: string | number) =>
    db.schema
      .alterTable('domains')
      .addColumn(name, type, (c) => (notNullDefault === undefined ? c : c.notNull().defaultTo(notNullDefault)))
      .execute();

  await add('status', 'text', 'not_started');
  await add('region', 'text', 'us-east-1');
  await add('capabilities', 'text', '{"sending":"enabled","receiving":"disabled"}');
  await add('return_path', 'text', 'send');
  await add('open_tracking', 'integer', 0);
  await add('click_tracking', 'integer', 0);
  await add('tls', 'text', 'opportunistic');
  await add('tracking_subdomain', 'text');
  await add('dkim_selector', 'text');
  await add('dkim_algorithm', 'text', 'rsa');
  await add('dkim_public_key', 'text');
  await add('dkim_private_key_enc', 'text');
  await add('records', 'text', '[]');
  await add('verification_started_at', 'bigint');
  await add('last_checked_at', 'bigint');
  await add('verified_at', 'bigint');
  await add('updated_at', 'bigint', 0);

  // The re-check scheduler looks for domains by status and the age of their last check.
  await db.schema.createIndex('domains_recheck').on('domains').columns(['status', 'last_checked_at']).execute();
  // domainForSending looks a domain up by name within a workspace: the unique constraint from
  // 0001 (workspace_id, name) already serves that.
}
