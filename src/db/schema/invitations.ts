// Rows of workspace invitations (src/accounts/invitations.ts, migration 0012).

export interface InvitationsTable {
  id: string;
  workspace_id: string;
  /** Lower-cased. */
  email: string;
  role: string;
  /** SHA-256 of the token mailed to the invitee. */
  token_hash: string;
  invited_by: string | null;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  accepted_by: string | null;
  revoked_at: number | null;
}

export interface InvitationsSchema {
  invitations: InvitationsTable;
}
