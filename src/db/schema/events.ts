// Rows of event records and webhook delivery (src/events/).

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

export interface EventsSchema {
  event_records: EventRecordsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}
