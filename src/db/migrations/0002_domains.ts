// Domains for sending and receiving: DNS records, verification state, DKIM keys.
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<any>): Promise<void> {}
