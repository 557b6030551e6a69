// Rows of exports, erasures and the do-not-contact list (migration 0055, src/privacy/).

export interface ExportsTable {
  id: string;
  workspace_id: string;
  scope: 'workspace' | 'person' | 'inbox';
  /** The person's address (scope person) or the mailbox id (scope inbox); null for a workspace. */
  subject: string | null;
  status: 'queued' | 'running' | 'completed' | 'failed';
  done: number;
  total: number;
  /** The zip's path under <data>/exports once completed. */
  file: string | null;
  size: number | null;
  error: string | null;
  /** The actor who asked, as `type:id`. */
  requested_by: string | null;
  created_at: number;
  completed_at: number | null;
  updated_at: number;
}

export interface ErasuresTable {
  id: string;
  workspace_id: string;
  status: 'running' | 'completed' | 'failed';
  include_mailbox_content: number;
  /** JSON { kind: count }. The address itself is never stored. */
  removed: string;
  requested_by: string | null;
  created_at: number;
  completed_at: number | null;
}

export interface DoNotContactTable {
  workspace_id: string;
  /** HMAC-SHA256 (hex) of the lower-cased address under the instance secret `erasure`. */
  address_hmac: string;
  erasure_id: string | null;
  created_at: number;
}

export interface PrivacySchema {
  exports: ExportsTable;
  erasures: ErasuresTable;
  do_not_contact: DoNotContactTable;
}
