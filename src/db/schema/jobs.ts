// Rows of the durable job queue and periodic schedules (src/jobs/).

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

export interface JobsSchema {
  jobs: JobsTable;
  schedules: SchedulesTable;
}
