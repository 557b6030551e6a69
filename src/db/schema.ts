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
}

