// Rows of sending and receiving domains (src/domains/).

export interface DomainsTable {
  id: string;
  workspace_id: string;
  name: string;
  created_at: number;
  // From 0002_domains (see src/domains/domains.ts).
  status: string;
  region: string;
  /** JSON: { sending, receiving }, each 'enabled' | 'disabled'. */
  capabilities: string;
  /** The return-path (bounce) host's label under the domain, e.g. `send`. */
  return_path: string;
  open_tracking: number;
  click_tracking: number;
  tls: string;
  tracking_subdomain: string | null;
  dkim_selector: string | null;
  dkim_algorithm: string;
  dkim_public_key: string | null;
  /** Sealed by the vault with context `dkim:<id>` (listed in SEALED_COLUMNS). */
  dkim_private_key_enc: string | null;
  /** From 0007: the mailbox that takes mail for unknown local parts, when receiving is enabled. */
  catch_all_mailbox_id: string | null;
  /** From 0015: the inbox for postmaster@ when no mailbox or alias has that name (null: the owner's). */
  postmaster_mailbox_id: string | null;
  /** JSON array of the DNS records to publish, each with its last checked status. */
  records: string;
  verification_started_at: number | null;
  last_checked_at: number | null;
  verified_at: number | null;
  updated_at: number;
  /** From 0011: this row's ownership token, published at `_mailstack-challenge.<name>` (ownership.ts). */
  challenge_token: string | null;
  /** From 0011: when this workspace proved control of the name; at most one row per name has it. */
  owned_at: number | null;
}

export interface DomainsSchema {
  domains: DomainsTable;
}
