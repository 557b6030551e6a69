// Rows of users, workspaces, members, sessions, sign-in, API keys, app passwords (src/accounts/).

export interface UsersTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string | null;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
  /** From 0050: the user closed their account (src/privacy/closing.ts). */
  closed_at?: number | null;
}

export interface WorkspacesTable {
  id: string;
  name: string;
  settings: string;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
  /** From 0050: suspended by an operator (src/privacy/suspension.ts). */
  suspended_at?: number | null;
  suspended_reason?: string | null;
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

export interface AccountsSchema {
  users: UsersTable;
  workspaces: WorkspacesTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  magic_links: MagicLinksTable;
  login_throttle: LoginThrottleTable;
  api_keys: ApiKeysTable;
  app_passwords: AppPasswordsTable;
}
