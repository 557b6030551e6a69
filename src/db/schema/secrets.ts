// Rows of instance secrets, sealed by the vault (src/secrets/).

export interface InstanceSecretsTable {
  name: string;
  value_enc: string;
  created_at: number;
}

export interface SecretsSchema {
  instance_secrets: InstanceSecretsTable;
}
