// The API request log (Resend's `logs`): one row per /v1 request of a workspace. Method, path,
// status, key, user agent, duration and time only: never a body, a query string or a header that
// could hold a secret. Purged with the workspace's retention period (src/outbound/retention.ts).
// A workspace's own retention period lives in workspaces.settings JSON (`retention_days`): no column.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('api_key_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer', (c) => c.notNull())
    .addColumn('user_agent', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('api_requests_workspace').on('api_requests').columns(['workspace_id', 'id']).execute();
  await db.schema.createIndex('api_requests_workspace_created').on('api_requests').columns(['workspace_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_requests').execute();
}
