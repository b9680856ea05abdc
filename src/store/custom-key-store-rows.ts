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
