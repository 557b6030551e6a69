// Rows of the audit log (src/audit/).

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

export interface AuditSchema {
  audit_log: AuditLogTable;
}
