// Rows of sent emails, their recipients, idempotency keys, suppressions (src/outbound/).

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
  /** From 0041: the broadcast this email is one message of; carried as `broadcast_id` on its events. */
  broadcast_id?: string | null;
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
  | 'canceled'
  /** Kept back: the workspace's sending is paused, or the content scored as spam (src/abuse/). */
  | 'held';

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

export interface OutboundSchema {
  emails: EmailsTable;
  email_recipients: EmailRecipientsTable;
  idempotency_keys: IdempotencyKeysTable;
  suppressions: SuppressionsTable;
}
