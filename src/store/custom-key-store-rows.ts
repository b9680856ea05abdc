import type { ConnectionErrorCodeType, ConnectionStateType } from "@aws-sdk/client-kms";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../domain/custom-key-store.js";

/** A row of custom_key_stores in either SQL store (timestamps as milliseconds; bigint arrives as a string). */
export interface CustomKeyStoreRow {
  custom_key_store_id: string;
  account_id: string;
  region: string;
  name: string;
  cloud_hsm_cluster_id: string;
  trust_anchor_certificate: string;
  wrapped_password: Buffer;
  connection_state: string;
  connection_error_code: string | null;
  connection_generation: number | string;
  created_at: number | string;
}

export const CUSTOM_KEY_STORE_COLUMNS = [
  "custom_key_store_id",
  "account_id",
  "region",
  "name",
  "cloud_hsm_cluster_id",
  "trust_anchor_certificate",
  "wrapped_password",
  "connection_state",
  "connection_error_code",
  "connection_generation",
  "created_at",
] as const;

export const CUSTOM_KEY_STORE_CHANGE_COLUMNS: Record<keyof CustomKeyStoreChanges, string> = {
  name: "name",
  cloudHsmClusterId: "cloud_hsm_cluster_id",
  wrappedPassword: "wrapped_password",
  connectionState: "connection_state",
  connectionErrorCode: "connection_error_code",
  connectionGeneration: "connection_generation",
};

export function toCustomKeyStore(row: CustomKeyStoreRow): CustomKeyStoreRecord {
  return {
    customKeyStoreId: row.custom_key_store_id,
    accountId: row.account_id,
    region: row.region,
    name: row.name,
    cloudHsmClusterId: row.cloud_hsm_cluster_id,
    trustAnchorCertificate: row.trust_anchor_certificate,
    wrappedPassword: row.wrapped_password,
    connectionState: row.connection_state as ConnectionStateType,
    connectionErrorCode: row.connection_error_code as ConnectionErrorCodeType | null,
    connectionGeneration: Number(row.connection_generation),
    createdAt: new Date(Number(row.created_at)),
  };
}

export function customKeyStoreRowValues(
  store: CustomKeyStoreRecord,
): Record<(typeof CUSTOM_KEY_STORE_COLUMNS)[number], unknown> {
  return {
    custom_key_store_id: store.customKeyStoreId,
    account_id: store.accountId,
    region: store.region,
    name: store.name,
    cloud_hsm_cluster_id: store.cloudHsmClusterId,
    trust_anchor_certificate: store.trustAnchorCertificate,
    wrapped_password: store.wrappedPassword,
    connection_state: store.connectionState,
    connection_error_code: store.connectionErrorCode,
    connection_generation: store.connectionGeneration,
    created_at: store.createdAt.getTime(),
  };
}

/** The column assignments of an update, in a stable order, with their values. */
export function customKeyStoreAssignments(changes: CustomKeyStoreChanges): { column: string; value: unknown }[] {
  const assignments: { column: string; value: unknown }[] = [];
  for (const [field, column] of Object.entries(CUSTOM_KEY_STORE_CHANGE_COLUMNS)) {
    if (!(field in changes)) continue;
    assignments.push({ column, value: changes[field as keyof CustomKeyStoreChanges] ?? null });
  }
  return assignments;
}

/**
 * The statements of CustomKeyStoreTable, in the SQL both stores speak, with :name parameters
 * (the PostgreSQL store numbers them); each store runs them in its own transactions.
 */
export const CUSTOM_KEY_STORE_SQL = {
  insert: `INSERT INTO custom_key_stores (${CUSTOM_KEY_STORE_COLUMNS.join(", ")})
    VALUES (${CUSTOM_KEY_STORE_COLUMNS.map((column) => `:${column}`).join(", ")})`,
  get: "SELECT * FROM custom_key_stores WHERE custom_key_store_id = :id",
  byName: "SELECT * FROM custom_key_stores WHERE account_id = :account AND region = :region AND name = :name",
  byCluster: "SELECT * FROM custom_key_stores WHERE cloud_hsm_cluster_id = :cluster",
  list: `SELECT * FROM custom_key_stores WHERE (CAST(:account AS text) IS NULL OR account_id = :account)
    AND (CAST(:region AS text) IS NULL OR region = :region) AND custom_key_store_id > :after
    ORDER BY custom_key_store_id LIMIT :limit`,
  keys: "SELECT key_id FROM keys WHERE custom_key_store_id = :id AND key_id > :after ORDER BY key_id LIMIT :limit",
  delete: "DELETE FROM custom_key_stores WHERE custom_key_store_id = :id",
} as const;

/** The parameters of `list`: one more row than the page holds tells whether another page follows. */
export function listParams(accountId: string | null, region: string | null, after: string | null, limit: number) {
  return { account: accountId, region, after: after ?? "", limit: limit + 1 };
}

/**
 * An UPDATE of the given fields of one custom key store (:id), only while it is in one of
 * `onlyInStates` (when given). With no field to write (`writes` false) it sets nothing, and its
 * row count still tells whether the store is in one of the states.
 */
export function customKeyStoreUpdate(
  customKeyStoreId: string,
  changes: CustomKeyStoreChanges,
  onlyInStates: readonly string[] | undefined,
): { sql: string; params: Record<string, unknown>; writes: boolean } {
  const assignments = customKeyStoreAssignments(changes);
  const params: Record<string, unknown> = { id: customKeyStoreId };
  for (const { column, value } of assignments) params[column] = value;
  const set =
    assignments.length === 0
      ? "custom_key_store_id = custom_key_store_id"
      : assignments.map(({ column }) => `${column} = :${column}`).join(", ");
  let sql = `UPDATE custom_key_stores SET ${set} WHERE custom_key_store_id = :id`;
  if (onlyInStates !== undefined) {
    onlyInStates.forEach((state, i) => {
      params[`state${i}`] = state;
    });
    sql +=
      onlyInStates.length === 0
        ? " AND 1 = 0"
        : ` AND connection_state IN (${onlyInStates.map((_, i) => `:state${i}`).join(", ")})`;
  }
  return { sql, params, writes: assignments.length > 0 };
}
