// Rows of spam filtering, abuse controls and deliverability (src/spam/, src/abuse/,
// src/deliverability/). Booleans are 0/1 integers on both stores.

export interface SpamVerdictsTable {
  message_id: string;
  workspace_id: string;
  mailbox_id: string;
  /** 'builtin' or 'rspamd'. */
  engine: string;
  score: number;
  /** rspamd's action names: 'no action', 'add header' (Junk), 'reject'. */
  action: string;
  /** JSON { SYMBOL: score }. */
  symbols_json: string;
  trained: 'spam' | 'ham' | null;
  created_at: number;
}

export interface SpamBayesTokensTable {
  mailbox_id: string;
  token: string;
  spam: number;
  ham: number;
}

export interface SpamBayesTotalsTable {
  mailbox_id: string;
  spam: number;
  ham: number;
}

export interface SenderListsTable {
  id: string;
  workspace_id: string;
  mailbox_id: string | null;
  kind: 'allow' | 'block';
  /** A lower-cased address, or a domain (`example.com`, matching its subdomains too). */
  pattern: string;
  /** For a block entry: 'junk' or 'reject'; 'none' for an allow entry. */
  action: 'junk' | 'reject' | 'none';
  created_at: number;
}

export interface WorkspaceAbuseTable {
  workspace_id: string;
  hourly_limit: number | null;
  daily_limit: number | null;
  warmup: number | null;
  refuse_executables: number;
  paused_at: number | null;
  paused_reason: string | null;
  resumed_at: number | null;
  updated_at: number;
}

export interface HeldRecipientsTable {
  recipient_id: string;
  workspace_id: string;
  email_id: string;
  reason: 'paused' | 'content';
  created_at: number;
}

export interface DeliveryMarksTable {
  recipient_id: string;
  workspace_id: string;
  domain_id: string | null;
  hard_bounce: number;
  complaint: number;
  at: number;
}

export interface DmarcReportsTable {
  id: string;
  workspace_id: string;
  domain_id: string;
  org_name: string;
  report_id: string;
  begin_at: number;
  end_at: number;
  policy_json: string;
  /** JSON [{ source_ip, count, disposition, dkim, spf, header_from }]. */
  records_json: string;
  created_at: number;
}

export interface OutboundContentChecksTable {
  email_id: string;
  workspace_id: string;
  /** 'builtin' or 'rspamd'. */
  engine: string;
  score: number;
  action: string;
  symbols_json: string;
  /** 1: scored as spam and held for review (held_recipients reason 'content'). */
  spam: number;
  /** When an operator released it (`mailstack workspace release-held`): not held again. */
  released_at: number | null;
  created_at: number;
}

export interface SpamSchema {
  outbound_content_checks: OutboundContentChecksTable;
  spam_verdicts: SpamVerdictsTable;
  spam_bayes_tokens: SpamBayesTokensTable;
  spam_bayes_totals: SpamBayesTotalsTable;
  sender_lists: SenderListsTable;
  workspace_abuse: WorkspaceAbuseTable;
  held_recipients: HeldRecipientsTable;
  delivery_marks: DeliveryMarksTable;
  dmarc_reports: DmarcReportsTable;
}
