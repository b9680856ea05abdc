/** Versioned schema migrations, applied in order; each runs once, in one transaction. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE principals (
    arn TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    principal_id TEXT NOT NULL
  ) STRICT;
  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    principal_arn TEXT NOT NULL REFERENCES principals(arn),
    wrapped_secret BLOB NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE keys (
    key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    description TEXT NOT NULL,
    key_spec TEXT NOT NULL,
    key_usage TEXT NOT NULL,
    origin TEXT NOT NULL,
    key_state TEXT NOT NULL,
    deletion_date INTEGER,
    pending_window_days INTEGER,
    policy TEXT NOT NULL,
    current_version INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX keys_by_account ON keys(account_id, region, key_id);
  CREATE INDEX keys_by_deletion ON keys(deletion_date) WHERE deletion_date IS NOT NULL;
  CREATE TABLE key_material (
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
  ) STRICT;
  CREATE TABLE aliases (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    target_key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
  ) STRICT;
  CREATE INDEX aliases_by_key ON aliases(target_key_id);
  CREATE TABLE tags (
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
  ) STRICT;
  `,
  `
  CREATE TABLE identity_policies (
    principal_arn TEXT NOT NULL REFERENCES principals(arn) ON DELETE CASCADE,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (principal_arn, policy_name)
  ) STRICT;
  CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    name TEXT,
    grantee_principal TEXT NOT NULL,
    retiring_principal TEXT,
    issuing_account TEXT NOT NULL,
    operations TEXT NOT NULL,
    constraints TEXT,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX grants_by_key ON grants(key_id, grant_id);
  CREATE INDEX grants_by_retiring_principal ON grants(retiring_principal, grant_id);
  CREATE UNIQUE INDEX grants_by_name ON grants(key_id, name) WHERE name IS NOT NULL;
  `,
  // Rotation: the automatic schedule per key, and how each backing-key version came to be.
  `
  ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER;
  ALTER TABLE keys ADD COLUMN next_rotation_date INTEGER;
  CREATE INDEX keys_by_next_rotation ON keys(next_rotation_date) WHERE next_rotation_date IS NOT NULL;
  ALTER TABLE key_material ADD COLUMN rotation_type TEXT;
  `,
  // Alibaba client keys: the public key of each ClientKey Trent issued, and whose it is.
  `
  CREATE TABLE client_keys (
    key_id TEXT PRIMARY KEY,
    principal_arn TEXT NOT NULL REFERENCES principals(arn),
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX client_keys_by_principal ON client_keys(principal_arn, key_id);
  `,
  // GetKeyLastUsage: each key's last successful cryptographic use, fed by the audit trail.
  `
  CREATE TABLE key_usage (
    key_id TEXT PRIMARY KEY REFERENCES keys(key_id) ON DELETE CASCADE,
    operation TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    request_id TEXT NOT NULL
  ) STRICT;
  `,
  // Imported key material (Origin EXTERNAL): per-version import state and expiry, and on the key
  // row the earliest expiry of its material (checked on every use). A row without a fingerprint
  // is a deleted pending rotation, kept so that its version is never given to other material.
  `
  ALTER TABLE keys ADD COLUMN valid_to INTEGER;
  ALTER TABLE keys ADD COLUMN expiration_model TEXT;
  CREATE TABLE imported_key_material (
    key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    fingerprint BLOB,
    description TEXT,
    imported INTEGER NOT NULL,
    expiration_model TEXT,
    valid_to INTEGER,
    imported_at INTEGER NOT NULL,
    rotation_type TEXT,
    rotated_at INTEGER,
    PRIMARY KEY (key_id, version)
  ) STRICT;
  CREATE INDEX imported_key_material_by_valid_to ON imported_key_material(valid_to)
    WHERE imported = 1 AND valid_to IS NOT NULL;
  `,
  // Multi-Region keys: replicas of one key id in several regions. Each regional copy is its own row
  // (row id region/key id, see storeKeyId); these columns name the key id they share and its primary.
  `
  ALTER TABLE keys ADD COLUMN multi_region_key_id TEXT;
  ALTER TABLE keys ADD COLUMN primary_region TEXT;
  CREATE INDEX keys_by_multi_region_key ON keys(multi_region_key_id) WHERE multi_region_key_id IS NOT NULL;
  `,
  // Custom key stores on PKCS#11 tokens, and keys held in them.
  `
  CREATE TABLE custom_key_stores (
    custom_key_store_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    cloud_hsm_cluster_id TEXT NOT NULL,
    trust_anchor_certificate TEXT NOT NULL,
    wrapped_password BLOB NOT NULL,
    connection_state TEXT NOT NULL,
    connection_error_code TEXT,
    connection_generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX custom_key_stores_by_name ON custom_key_stores(account_id, region, name);
  CREATE UNIQUE INDEX custom_key_stores_by_cluster ON custom_key_stores(cloud_hsm_cluster_id);
  ALTER TABLE keys ADD COLUMN custom_key_store_id TEXT REFERENCES custom_key_stores(custom_key_store_id);
  CREATE INDEX keys_by_custom_key_store ON keys(custom_key_store_id, key_id) WHERE custom_key_store_id IS NOT NULL;
  `,
];
