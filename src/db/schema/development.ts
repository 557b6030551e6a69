// Rows of development mode (src/devmode/): captured mail and the instance's flags.

export interface CapturedMessagesTable {
  id: string;
  workspace_id: string | null;
  email_id: string | null;
  envelope_from: string;
  /** JSON array of the envelope recipients' addresses. */
  recipients_json: string;
  from_header: string | null;
  subject: string | null;
  raw_blob: string;
  size: number;
  created_at: number;
}

export interface InstanceFlagsTable {
  /** e.g. `mode`: the value `development` marks a store a development node has used. */
  name: string;
  value: string;
  created_at: number;
}

export interface DevelopmentSchema {
  captured_messages: CapturedMessagesTable;
  instance_flags: InstanceFlagsTable;
}
