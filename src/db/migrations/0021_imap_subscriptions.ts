// IMAP subscriptions that outlive their folder (RFC 3501 §6.3.6, RFC 9051 §6.3.7: the server MUST NOT
// remove a name from the subscription list because the mailbox is gone). A folder's own subscription
// stays in folders.subscribed; a name subscribed while no folder has it (the folder was deleted, or
// LIST-EXTENDED's \NonExistent \Subscribed) is a row here, until it is unsubscribed or created again.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('folder_subscriptions')
    .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('folder_subscriptions_pk', ['mailbox_id', 'name'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('folder_subscriptions').execute();
}
