// Rows of mailboxes, folders, messages, threads, search, routing, drafts (src/mailstore/,
// src/inbound/, src/inboxes/). Booleans are 0/1 integers on both stores.
import type { Generated } from 'kysely';

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
  /** From 0050: suspended by an operator, or revoked (stops receiving; src/privacy/suspension.ts). */
  suspended_at?: number | null;
  suspended_reason?: string | null;
  revoked_at?: number | null;
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
  /** IMAP \Recent: the highest UID a session has claimed as recent (RFC 3501 §2.3.2); those above are still recent. */
  recent_uid: number;
  subscribed: number;
  created_at: number;
}

/** A subscribed name with no folder of that name (the folder was deleted); see migration 0021. */
export interface FolderSubscriptionsTable {
  mailbox_id: string;
  name: string;
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

/** From 0010: FETCH structure answers by blob id (src/imap/cache.ts). */
export interface ImapStructureCacheTable {
  blob_id: string;
  envelope: string;
  body: string;
  bodystructure: string;
  created_at: number;
}

export interface MailstoreSchema {
  mailboxes: MailboxesTable;
  folders: FoldersTable;
  folder_subscriptions: FolderSubscriptionsTable;
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
}
