// Rows of the data lifecycle (src/privacy/): what is kept of a closed account once its data is gone.

export interface ClosedAccountsTable {
  id: string;
  kind: 'workspace' | 'user';
  subject_id: string;
  /** The workspace's name or the user's email: the identity kept until the record window ends. */
  name: string;
  closed_at: number;
  closed_by: string | null;
  /** When its data is deleted (closed_at + MAILSTACK_CLOSED_ACCOUNT_DAYS). */
  delete_after: number;
  deleted_at: number | null;
  /** JSON { kind: count } of what the deletion removed. */
  removed_json: string | null;
}

export interface LifecycleSchema {
  closed_accounts: ClosedAccountsTable;
}
