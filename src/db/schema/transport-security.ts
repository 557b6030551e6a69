// Rows of outbound transport security (src/outbound/delivery/mta-sts.ts).

export interface MtaStsPoliciesTable {
  domain: string;
  policy_id: string;
  mode: string;
  mx_json: string;
  max_age: number;
  fetched_at: number;
  expires_at: number;
}

export interface TransportSecuritySchema {
  mta_sts_policies: MtaStsPoliciesTable;
}
