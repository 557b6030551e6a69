// Rows of campaigns (src/campaigns/): contacts and what they belong to, templates, broadcasts and
// contact imports. Every table carries `workspace_id`, and every query filters on it.
//
// For the engineers who build on these tables (automations; the privacy export and erasure):
// - A person is one `contacts` row per workspace, keyed by `email` (lower-cased, domain in A-label
//   form, plus-addresses kept distinct as the MTA keeps them). Everything personal about them is in
//   that row (`first_name`, `last_name`, `properties_json`) and in the rows that name its
//   `contact_id`: `contact_segments`, `contact_topics`, `broadcast_recipients` (which also copies
//   the address in `email`, so a broadcast's history stays readable after the contact is removed).
//   Erasure deletes the contact (the join rows cascade) and the `broadcast_recipients` rows whose
//   `email` is the address; imports keep the first errors' addresses in `errors_json`.
// - `unsubscribed` is the global opt-out: set by the contact (one-click, preference page, mailto)
//   or the API; broadcasts never go to such a contact. A topic opt-out is a `contact_topics` row
//   with `subscription = 'opt_out'`; no row means the topic's `default_subscription`.
// - Property values live in `properties_json` (an object of key → string or number) and are typed
//   by `contact_properties` (key, type, fallback); a key without a definition is refused.

export interface ContactsTable {
  id: string;
  workspace_id: string;
  /** Normalised address: lower case, IDN domain as A-labels. Unique per workspace. */
  email: string;
  first_name: string | null;
  last_name: string | null;
  /** 1 once the contact unsubscribed from everything (or was created so). */
  unsubscribed: number;
  /** JSON object: property key → string | number. */
  properties_json: string;
  created_at: number;
  updated_at: number;
}

export interface ContactPropertiesTable {
  id: string;
  workspace_id: string;
  /** Unique per workspace; `[A-Za-z0-9_]{1,50}`. */
  key: string;
  type: 'string' | 'number';
  /** JSON of the fallback value (a string or a number), or null. */
  fallback_json: string | null;
  created_at: number;
}

export interface SegmentsTable {
  id: string;
  workspace_id: string;
  name: string;
  created_at: number;
}

export interface ContactSegmentsTable {
  workspace_id: string;
  contact_id: string;
  segment_id: string;
  created_at: number;
}

export interface TopicsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  default_subscription: 'opt_in' | 'opt_out';
  created_at: number;
}

export interface ContactTopicsTable {
  workspace_id: string;
  contact_id: string;
  topic_id: string;
  subscription: 'opt_in' | 'opt_out';
  updated_at: number;
}

export interface TemplatesTable {
  id: string;
  workspace_id: string;
  name: string;
  /** Unique per workspace when set; a template may be addressed by it instead of its id. */
  alias: string | null;
  /** The newest version (what `get` shows and `update` edits). */
  current_version_id: string;
  /** The version sends use; null until first published. */
  published_version_id: string | null;
  published_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface TemplateVersionsTable {
  id: string;
  template_id: string;
  workspace_id: string;
  subject: string | null;
  html: string;
  text: string | null;
  from_header: string | null;
  /** JSON array of addresses. */
  reply_to_json: string;
  /** JSON array of { key, type, fallback_value, created_at, updated_at }. */
  variables_json: string;
  created_at: number;
  updated_at: number;
}

export type BroadcastStatus = 'draft' | 'queued' | 'sending' | 'sent' | 'canceled';

export interface BroadcastsTable {
  id: string;
  workspace_id: string;
  name: string;
  segment_id: string | null;
  topic_id: string | null;
  from_header: string | null;
  subject: string | null;
  reply_to_json: string;
  preview_text: string | null;
  html: string | null;
  text: string | null;
  status: BroadcastStatus;
  scheduled_at: number | null;
  sent_at: number | null;
  /** Fan-out position: the last contact id handed to the MTA (contacts are walked in id order). */
  cursor: string | null;
  created_at: number;
  updated_at: number;
}

export interface BroadcastRecipientsTable {
  id: string;
  workspace_id: string;
  broadcast_id: string;
  contact_id: string | null;
  email: string;
  /** The email row of this recipient's message; null when skipped. */
  email_id: string | null;
  /** Null when sent; otherwise why not: unsubscribed, suppressed, topic_opt_out, canceled. */
  skip_reason: string | null;
  created_at: number;
}

export type ContactImportStatus = 'queued' | 'in_progress' | 'completed' | 'failed';

export interface ContactImportsTable {
  id: string;
  workspace_id: string;
  status: ContactImportStatus;
  /** The uploaded CSV, under <data>/imports/; removed once the import is finished. */
  file_path: string;
  /** JSON: { column_map, on_conflict, segments, topics }. */
  options_json: string;
  /** Data rows in the file (known after the counting pass; 0 before). */
  total: number;
  /** Data rows applied so far; a resumed import skips this many. */
  processed: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  /** JSON array of the first errors: { line, email, message }. */
  errors_json: string;
  /** Why a failed import failed. */
  failure: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export interface CampaignsSchema {
  contacts: ContactsTable;
  contact_properties: ContactPropertiesTable;
  segments: SegmentsTable;
  contact_segments: ContactSegmentsTable;
  topics: TopicsTable;
  contact_topics: ContactTopicsTable;
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  broadcasts: BroadcastsTable;
  broadcast_recipients: BroadcastRecipientsTable;
  contact_imports: ContactImportsTable;
  broadcast_events: BroadcastEventsTable;
  workspace_send_rate: WorkspaceSendRateTable;
  subscribe_forms: SubscribeFormsTable;
  contact_confirmations: ContactConfirmationsTable;
}

/** From 0041: an open or a click of a broadcast message (src/campaigns/tracking.ts). */
export interface BroadcastEventsTable {
  id: string;
  workspace_id: string;
  broadcast_id: string;
  /** The broadcast_recipients row the tracked message was sent to. */
  recipient_id: string;
  kind: 'opened' | 'clicked';
  /** The link's target, for a click. */
  url: string | null;
  created_at: number;
}

/** From 0041: the token bucket every campaign send of a workspace takes from (src/campaigns/send-rate.ts). */
export interface WorkspaceSendRateTable {
  workspace_id: string;
  tokens: number;
  updated_at: number;
}

/** From 0041: a public subscribe form (POST /subscribe/:form_id). */
export interface SubscribeFormsTable {
  id: string;
  workspace_id: string;
  name: string;
  segment_id: string | null;
  topic_id: string | null;
  /** The From of the confirmation mail; its domain must be verified to send. */
  from_header: string;
  double_opt_in: number;
  /** Where the browser goes after a subscribe or a confirmation (https only), else our own page. */
  redirect_url: string | null;
  created_at: number;
}

/** From 0041: a contact that subscribed through a double opt-in form and has not confirmed yet. */
export interface ContactConfirmationsTable {
  contact_id: string;
  workspace_id: string;
  form_id: string;
  requested_at: number;
}
