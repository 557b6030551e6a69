import type { Generated } from 'kysely';

// Row types of every table, for Kysely. Times are epoch milliseconds (bigint on PostgreSQL, integer
// on SQLite) so both stores compare and sort them the same way; JSON is stored as text.

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
}

export interface WorkspacesTable {
  id: string;
  name: string;
  settings: string;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
}

export interface MembershipsTable {
  workspace_id: string;
  user_id: string;
  role: string;
  created_at: number;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  workspace_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface MagicLinksTable {
  id: string;
  token_hash: string;
  user_id: string;
  ip: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  window_started_at: number;
  locked_until: number | null;
}

export interface DomainsTable {
  id: string;
  workspace_id: string;
  name: string;
  created_at: number;
  // From 0002_domains (see src/domains/domains.ts).
  status: string;
  region: string;
  /** JSON: { sending, receiving }, each 'enabled' | 'disabled'. */
  capabilities: string;
  /** The return-path (bounce) host's label under the domain, e.g. `send`. */
  return_path: string;
  open_tracking: number;
  click_tracking: number;
  tls: string;
  tracking_subdomain: string | null;
  dkim_selector: string | null;
  dkim_algorithm: string;
  dkim_public_key: string | null;
  /** Sealed by the vault with context `dkim:<id>` (listed in SEALED_COLUMNS). */
  dkim_private_key_enc: string | null;
  /** From 0007: the mailbox that takes mail for unknown local parts, when receiving is enabled. */
  catch_all_mailbox_id: string | null;
  /** JSON array of the DNS records to publish, each with its last checked status. */
  records: string;
  verification_started_at: number | null;
  last_checked_at: number | null;
  verified_at: number | null;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  name: string;
  token_hash: string;
  token_hint: string;
  permission: 'full_access' | 'sending_access';
  domain_id: string | null;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
}

export interface AuditLogTable {
  id: string;
  workspace_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  ip: string | null;
  user_agent: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  data: string | null;
  created_at: number;
}

export interface JobsTable {
  id: string;
  kind: string;
  payload: string;
  status: 'queued' | 'running' | 'done' | 'dead';
  run_at: number;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  unique_key: string | null;
  created_at: number;
  updated_at: number;
}

export interface SchedulesTable {
  name: string;
  interval_ms: number;
  next_run_at: number;
  last_run_at: number | null;
}

export interface InstanceSecretsTable {
  name: string;
  value_enc: string;
  created_at: number;
}

// From 0003_events (see src/events/webhooks.ts).
export interface EventRecordsTable {
  id: string;
  workspace_id: string;
  type: string;
  /** JSON text `{ type, created_at, data }`: the exact body every endpoint is sent. */
  payload: string;
  created_at: number;
}

export interface WebhooksTable {
  id: string;
  workspace_id: string;
  endpoint: string;
  /** JSON array of subscribed event types. */
  events: string;
  status: 'enabled' | 'disabled';
  /** Sealed by the vault with context `webhook:<id>` (listed in SEALED_COLUMNS). */
  secret_enc: string;
  failing_since: number | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookDeliveriesTable {
  webhook_id: string;
  event_id: string;
  workspace_id: string;
  status: 'pending' | 'attempting' | 'success' | 'failed';
  series: number;
  attempts: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookAttemptsTable {
  id: string;
  webhook_id: string;
  event_id: string;
  workspace_id: string;
  series: number;
  /** 0 when no HTTP answer came (network error, timeout, refused address). */
  http_status_code: number | null;
  response: string | null;
  error: string | null;
  duration_ms: number;
  sent_at: number;
}

export interface EmailsTable {
  id: string;
  workspace_id: string;
  domain_id: string | null;
  api_key_id: string | null;
  /** 'api', 'batch', 'smtp', 'inbox' … where the send request came from */
  source: string;
  from_header: string;
  from_address: string;
  subject: string;
  to_json: string;
  cc_json: string;
  bcc_json: string;
  reply_to_json: string;
  headers_json: string;
  tags_json: string;
  html: string | null;
  text: string | null;
  attachments_json: string;
  message_id: string;
  /** Blob id of the composed, DKIM-signed message; null once purged by retention. */
  raw_blob: string | null;
  size: number;
  last_event: string;
  scheduled_at: number | null;
  idempotency_key: string | null;
  created_at: number;
  updated_at: number;
  body_purged_at: number | null;
  /** From 0007: an SRS0 envelope sender for a forwarded message (else the recipient's VERP path). */
  envelope_from: string | null;
}

export interface EmailRecipientsTable {
  id: string;
  email_id: string;
  workspace_id: string;
  /** Lower-cased address, the unit of delivery and suppression. */
  address: string;
  kind: 'to' | 'cc' | 'bcc';
  status: RecipientStatus;
  attempts: number;
  last_response: string | null;
  last_attempt_at: number | null;
  next_attempt_at: number | null;
  mx_host: string | null;
  /** The token in this recipient's VERP return path, so a bounce maps back to it. */
  verp_token: string;
  created_at: number;
  updated_at: number;
}

export type RecipientStatus =
  | 'scheduled'
  | 'queued'
  | 'sent'
  | 'delivered'
  | 'delivery_delayed'
  | 'bounced'
  | 'complained'
  | 'failed'
  | 'suppressed'
  | 'canceled';

export interface IdempotencyKeysTable {
  workspace_id: string;
  key: string;
  request_hash: string;
  response: string;
  created_at: number;
}

export interface SuppressionsTable {
  id: string;
  workspace_id: string;
  /** Lower-cased address. */
  email: string;
  origin: SuppressionOrigin;
  /** Why, in words: the bounce or complaint text, or who added it. */
  reason: string | null;
  /** The email (or other object) that caused it. */
  source_id: string | null;
  created_at: number;
}

export type SuppressionOrigin = 'bounce' | 'complaint' | 'unsubscribe' | 'manual';

// From 0006_api_requests (see src/http/request-log.ts).
export interface ApiRequestsTable {
  id: string;
  workspace_id: string;
  api_key_id: string | null;
  user_id: string | null;
  method: string;
  /** The request path without its query string. */
  endpoint: string;
  response_status: number;
  user_agent: string | null;
  duration_ms: number;
  created_at: number;
}

// From 0007_mailstore (see src/mailstore/). Booleans are 0/1 integers on both stores.
export interface MailboxesTable {
  id: string;
  workspace_id: string;
  domain_id: string;
  /** The full address, lower-cased, unique on the node. */
  address: string;
  name: string | null;
  from_name: string | null;
  /** Null: MAILSTACK_MAILBOX_QUOTA_BYTES. */
  quota_bytes: number | null;
  used_bytes: number;
  /** 'mailbox' stores mail; 'agent' only posts email.received webhooks (the message is still stored for the API). */
  mode: 'mailbox' | 'agent';
  /** Resend's `forwarding` flag on inboxes.create. */
  forwarding: number;
  /** JSON { instructions, tone, actions } (inboxes.agent.*; stored, no model is run). */
  agent_json: string;
  /** A workspace user who may log in to this mailbox with their account password. */
  owner_user_id: string | null;
  created_at: number;
  updated_at: number;
}

export type SpecialUse = 'inbox' | 'sent' | 'drafts' | 'trash' | 'junk' | 'archive';

export interface FoldersTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  /** The full IMAP name, '/' as hierarchy delimiter; the inbox is always 'INBOX'. */
  name: string;
  special_use: SpecialUse | null;
  uid_validity: number;
  /** The UID the next message appended here gets (RFC 9051 §2.3.1.1: strictly increasing). */
  uid_next: number;
  /** The highest MODSEQ given in this folder (RFC 7162); every change takes the next one. */
  highest_modseq: number;
  subscribed: number;
  created_at: number;
}

export interface ThreadsTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  subject: string | null;
  normalized_subject: string;
  last_message_at: number;
  created_at: number;
}

export interface MessagesTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  folder_id: string;
  uid: number;
  modseq: number;
  /** The raw RFC 5322 message, content-addressed in the blob store. */
  blob_id: string;
  size: number;
  internal_date: number;
  seen: number;
  answered: number;
  flagged: number;
  deleted: number;
  draft: number;
  /** JSON array of IMAP keywords; a label is a keyword of the same name. */
  keywords: string;
  thread_id: string;
  direction: 'inbound' | 'outbound';
  /** The Message-ID header without angle brackets. */
  message_id: string | null;
  in_reply_to: string | null;
  references_json: string;
  subject: string | null;
  from_header: string | null;
  from_address: string | null;
  to_json: string;
  cc_json: string;
  bcc_json: string;
  reply_to_json: string;
  sent_date: number | null;
  has_attachments: number;
  snippet: string | null;
  /** JSON of the SPF/DKIM/DMARC/ARC verdicts the MX recorded. */
  auth_json: string | null;
  envelope_from: string | null;
  received_for_json: string;
  /** For a Sent copy: the outbound emails row. */
  email_id: string | null;
  created_at: number;
}

export interface ExpungedMessagesTable {
  folder_id: string;
  uid: number;
  modseq: number;
}

export interface MessageAttachmentsTable {
  id: string;
  workspace_id: string;
  message_id: string;
  /** Order among the message's attachments as the parser lists them. */
  position: number;
  filename: string | null;
  content_type: string;
  content_id: string | null;
  disposition: string | null;
  size: number;
}

export interface MessageSearchTable {
  id: Generated<number>;
  message_id: string;
  mailbox_id: string;
  sender: string;
  recipients: string;
  subject: string;
  body: string;
}

/** From 0008: per-mailbox counters (src/mailstore/folders.ts). */
export interface MailboxCountersTable {
  mailbox_id: string;
  /** The last UIDVALIDITY given to a folder of this mailbox. */
  uid_validity_last: number;
}

export interface LabelsTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  name: string;
  color: string;
  created_at: number;
}

export interface AliasesTable {
  id: string;
  workspace_id: string;
  domain_id: string;
  address: string;
  created_at: number;
  updated_at: number;
}

export interface AliasTargetsTable {
  alias_id: string;
  mailbox_id: string;
}

export interface ForwardingRulesTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  to_address: string;
  keep_copy: number;
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface DraftsTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  thread_id: string | null;
  reply_to_message_id: string | null;
  to_json: string | null;
  cc_json: string;
  bcc_json: string;
  subject: string | null;
  html: string | null;
  text: string | null;
  attachments_json: string;
  message_id: string | null;
  email_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface AppPasswordsTable {
  id: string;
  workspace_id: string;
  mailbox_id: string;
  name: string;
  /** SHA-256 of the password: app passwords are random 24-byte tokens, like API keys. */
  password_hash: string;
  created_at: number;
  last_used_at: number | null;
}

/** From 0010: FETCH structure answers by blob id (src/imap/cache.ts). */
export interface ImapStructureCacheTable {
  blob_id: string;
  envelope: string;
  body: string;
  bodystructure: string;
  created_at: number;
}

export interface Schema {
  users: UsersTable;
  workspaces: WorkspacesTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  magic_links: MagicLinksTable;
  login_throttle: LoginThrottleTable;
  domains: DomainsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  jobs: JobsTable;
  schedules: SchedulesTable;
  instance_secrets: InstanceSecretsTable;
  emails: EmailsTable;
  email_recipients: EmailRecipientsTable;
  idempotency_keys: IdempotencyKeysTable;
  suppressions: SuppressionsTable;
  api_requests: ApiRequestsTable;
  event_records: EventRecordsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  mailboxes: MailboxesTable;
  folders: FoldersTable;
  threads: ThreadsTable;
  messages: MessagesTable;
  expunged_messages: ExpungedMessagesTable;
  message_attachments: MessageAttachmentsTable;
  message_search: MessageSearchTable;
  mailbox_counters: MailboxCountersTable;
  imap_structure_cache: ImapStructureCacheTable;
  labels: LabelsTable;
  aliases: AliasesTable;
  alias_targets: AliasTargetsTable;
  forwarding_rules: ForwardingRulesTable;
  drafts: DraftsTable;
  app_passwords: AppPasswordsTable;
}

