// Row types of every table, for Kysely, one file per concern under schema/. Times are epoch
// milliseconds (bigint on PostgreSQL, integer on SQLite) so both stores compare and sort them the
// same way; JSON is stored as text. A new concern adds its file here and to `Schema`.
import type { AccountsSchema } from './schema/accounts.ts';
import type { DomainsSchema } from './schema/domains.ts';
import type { AuditSchema } from './schema/audit.ts';
import type { JobsSchema } from './schema/jobs.ts';
import type { SecretsSchema } from './schema/secrets.ts';
import type { EventsSchema } from './schema/events.ts';
import type { OutboundSchema } from './schema/outbound.ts';
import type { RequestsSchema } from './schema/requests.ts';
import type { MailstoreSchema } from './schema/mailstore.ts';
import type { DevelopmentSchema } from './schema/development.ts';
import type { TransportSecuritySchema } from './schema/transport-security.ts';
import type { PrivacySchema } from './schema/privacy.ts';
import type { CampaignsSchema } from './schema/campaigns.ts';
import type { SpamSchema } from './schema/spam.ts';
import type { InvitationsSchema } from './schema/invitations.ts';
import type { LifecycleSchema } from './schema/lifecycle.ts';

export type * from './schema/accounts.ts';
export type * from './schema/domains.ts';
export type * from './schema/audit.ts';
export type * from './schema/jobs.ts';
export type * from './schema/secrets.ts';
export type * from './schema/events.ts';
export type * from './schema/outbound.ts';
export type * from './schema/requests.ts';
export type * from './schema/mailstore.ts';
export type * from './schema/development.ts';
export type * from './schema/transport-security.ts';
export type * from './schema/privacy.ts';
export type * from './schema/campaigns.ts';
export type * from './schema/spam.ts';
export type * from './schema/invitations.ts';
export type * from './schema/lifecycle.ts';

export interface Schema extends AccountsSchema, DomainsSchema, AuditSchema, JobsSchema, SecretsSchema, EventsSchema, OutboundSchema, RequestsSchema, MailstoreSchema, DevelopmentSchema, TransportSecuritySchema, PrivacySchema, CampaignsSchema, SpamSchema, InvitationsSchema, LifecycleSchema {}
