import type pg from "pg";

/**
 * Versioned schema migrations, applied in order. Sort-key columns use the "C" collation so that
 * listings page in byte order, as SQLite orders them, whatever the database's default locale.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (name text COLLATE "C" PRIMARY KEY, value text NOT NULL);
  CREATE TABLE principals (
    arn text COLLATE "C" PRIMARY KEY,
    account_id text NOT NULL,
    principal_id text NOT NULL
  );
  CREATE TABLE access_keys (
    access_key_id text COLLATE "C" PRIMARY KEY,
    principal_arn text COLLATE "C" NOT NULL REFERENCES principals(arn),
    wrapped_secret bytea NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX access_keys_by_principal ON access_keys(principal_arn, access_key_id);
  CREATE TABLE keys (
    key_id text COLLATE "C" PRIMARY KEY,
    account_id text NOT NULL,
    region text NOT NULL,
    created_at bigint NOT NULL,
    description text NOT NULL,
    key_spec text NOT NULL,
    key_usage text NOT NULL,
    origin text NOT NULL,
    key_state text NOT NULL,
    deletion_date bigint,
    pending_window_days integer,
    policy text NOT NULL,
    current_version integer NOT NULL
  );
  CREATE INDEX keys_by_account ON keys(account_id, region, key_id);
  CREATE INDEX keys_by_deletion ON keys(deletion_date) WHERE deletion_date IS NOT NULL;
  CREATE TABLE key_material (
    key_id text COLLATE "C" NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version integer NOT NULL,
    wrapped bytea NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (key_id, version)
  );
  CREATE TABLE aliases (
    account_id text NOT NULL,
    region text NOT NULL,
    alias_name text COLLATE "C" NOT NULL,
    target_key_id text COLLATE "C" NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
  );
  CREATE INDEX aliases_by_key ON aliases(target_key_id);
  CREATE TABLE tags (
    key_id text COLLATE "C" NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    tag_key text COLLATE "C" NOT NULL,
    tag_value text NOT NULL,
    PRIMARY KEY (key_id, tag_key)
  );
  CREATE TABLE identity_policies (
    principal_arn text COLLATE "C" NOT NULL REFERENCES principals(arn) ON DELETE CASCADE,
    policy_name text COLLATE "C" NOT NULL,
    document text NOT NULL,
    PRIMARY KEY (principal_arn, policy_name)
  );
  CREATE TABLE grants (
    grant_id text COLLATE "C" PRIMARY KEY,
    key_id text COLLATE "C" NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    name text,
    grantee_principal text NOT NULL,
    retiring_principal text,
    issuing_account text NOT NULL,
    operations text NOT NULL,
    constraints text,
    created_at bigint NOT NULL
  );
  CREATE INDEX grants_by_key ON grants(key_id, grant_id);
  CREATE INDEX grants_by_retiring_principal ON grants(retiring_principal, grant_id);
  CREATE UNIQUE INDEX grants_by_name ON grants(key_id, name) WHERE name IS NOT NULL;
  `,
  // Every committed change is announced on the trent_changes channel, so each node drops its caches.
  `
  CREATE FUNCTION trent_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('trent_changes', TG_TABLE_NAME);
    RETURN NULL;
  END $$;
  ${["keys", "key_material", "aliases", "tags", "principals", "access_keys", "identity_policies", "grants"]
    .map(
      (table) => `CREATE TRIGGER ${table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
    FOR EACH STATEMENT EXECUTE FUNCTION trent_announce_change();`,
    )
    .join("\n  ")}
  `,
  // Rotation: the automatic schedule per key, and how each backing-key version came to be.
  `
  ALTER TABLE keys ADD COLUMN rotation_period_days integer;
  ALTER TABLE keys ADD COLUMN next_rotation_date bigint;
  CREATE INDEX keys_by_next_rotation ON keys(next_rotation_date) WHERE next_rotation_date IS NOT NULL;
  ALTER TABLE key_material ADD COLUMN rotation_type text;
  `,
  // Alibaba client keys: the public key of each ClientKey Trent issued, and whose it is.
  `
  CREATE TABLE client_keys (
    key_id text COLLATE "C" PRIMARY KEY,
    principal_arn text COLLATE "C" NOT NULL REFERENCES principals(arn),
    public_key bytea NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX client_keys_by_principal ON client_keys(principal_arn, key_id);
  CREATE TRIGGER client_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON client_keys
    FOR EACH STATEMENT EXECUTE FUNCTION trent_announce_change();
  `,
  // GetKeyLastUsage: each key's last successful cryptographic use, fed by the audit trail. Not
  // announced: nothing caches it.
  `
  CREATE TABLE key_usage (
    key_id text COLLATE "C" PRIMARY KEY REFERENCES keys(key_id) ON DELETE CASCADE,
    operation text NOT NULL,
    used_at bigint NOT NULL,
    event_id text NOT NULL,
    request_id text NOT NULL
  );
  `,
  // Imported key material (Origin EXTERNAL): per-version import state and expiry, and on the key
  // row the earliest expiry of its material (checked on every use). A row without a fingerprint
  // is a deleted pending rotation, kept so that its version is never given to other material.
  `
  ALTER TABLE keys ADD COLUMN valid_to bigint;
  ALTER TABLE keys ADD COLUMN expiration_model text;
  CREATE TABLE imported_key_material (
    key_id text COLLATE "C" NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
    version integer NOT NULL,
    fingerprint bytea,
    description text,
    imported integer NOT NULL,
    expiration_model text,
    valid_to bigint,
    imported_at bigint NOT NULL,
    rotation_type text,
    rotated_at bigint,
    PRIMARY KEY (key_id, version)
  );
  CREATE INDEX imported_key_material_by_valid_to ON imported_key_material(valid_to)
    WHERE imported = 1 AND valid_to IS NOT NULL;
  `,
  // Multi-Region keys: replicas of one key id in several regions. Each regional copy is its own row
  // (row id region/key id, see storeKeyId); these columns name the key id they share and its primary.
  `
  ALTER TABLE keys ADD COLUMN multi_region_key_id text COLLATE "C";
  ALTER TABLE keys ADD COLUMN primary_region text;
  CREATE INDEX keys_by_multi_region_key ON keys(multi_region_key_id) WHERE multi_region_key_id IS NOT NULL;
  `,
  // Custom key stores on PKCS#11 tokens, and keys held in them.
  `
  CREATE TABLE custom_key_stores (
    custom_key_store_id text COLLATE "C" PRIMARY KEY,
    account_id text NOT NULL,
    region text NOT NULL,
    name text NOT NULL,
    cloud_hsm_cluster_id text NOT NULL,
    trust_anchor_certificate text NOT NULL,
    wrapped_password bytea NOT NULL,
    connection_state text NOT NULL,
    connection_error_code text,
    connection_generation integer NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE UNIQUE INDEX custom_key_stores_by_name ON custom_key_stores(account_id, region, name);
  CREATE UNIQUE INDEX custom_key_stores_by_cluster ON custom_key_stores(cloud_hsm_cluster_id);
  CREATE TRIGGER custom_key_stores_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON custom_key_stores
    FOR EACH STATEMENT EXECUTE FUNCTION trent_announce_change();
  ALTER TABLE keys ADD COLUMN custom_key_store_id text COLLATE "C" REFERENCES custom_key_stores(custom_key_store_id);
  CREATE INDEX keys_by_custom_key_store ON keys(custom_key_store_id, key_id) WHERE custom_key_store_id IS NOT NULL;
  `,
];

/** The advisory lock that serializes migrations: any number all nodes agree on (ASCII "trent"). */
const MIGRATION_LOCK = 0x7472656e74;

/**
 * Brings the schema up to date in one transaction. Nodes starting at once queue on the advisory
 * lock; the first applies the migrations and the others then find nothing left to do.
 */
export async function migrate(client: pg.ClientBase): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)",
    );
    const { rows } = await client.query<{ version: number }>(
      "SELECT coalesce(max(version), 0) AS version FROM schema_migrations",
    );
    const current = rows[0]?.version ?? 0;
    if (current > POSTGRES_MIGRATIONS.length) {
      throw new Error(
        `the database schema is at version ${current}, newer than this Trent knows (${POSTGRES_MIGRATIONS.length})`,
      );
    }
    for (const [index, sql] of POSTGRES_MIGRATIONS.entries()) {
      const version = index + 1;
      if (version <= current) continue;
      await client.query(sql);
      await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [version, Date.now()]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
