// Rows of the API request log (src/http/request-log.ts).

export interface ApiRequestsTable {
  id: string;
  workspace_id: string;
  api_key_id: string | null;
  user_id: string | null;
  method: string;
  /** The request path without its query string. */
  endpoint: string;
  response_status: number;
  user_agent: string | null;
  duration_ms: number;
  created_at: number;
}

export interface RequestsSchema {
  api_requests: ApiRequestsTable;
}
