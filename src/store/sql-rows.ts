import { type KeyMaterialVersion, type KmsKey, keyIdOfStoreRow, type RotationType, storeKeyId } from "../domain/key.js";
import type {
  AccessKey,
  Alias,
  ClientKeyRecord,
  Grant,
  GrantConstraints,
  KeyChanges,
  KeyUsage,
  Page,
} from "./store.js";

/**
 * Row shapes and their mapping to the domain, shared by the SQL stores. Timestamps are stored as
 * milliseconds: SQLite hands them back as numbers, PostgreSQL (bigint) as strings.
 */
type Millis = number | string;
export interface KeyRow {
  key_id: string;
  account_id: string;
  region: string;
  created_at: Millis;
  description: string;
  key_spec: string;
  key_usage: string;
  origin: string;
  key_state: string;
  deletion_date: Millis | null;
  pending_window_days: number | null;
  policy: string;
  current_version: number;
  rotation_period_days: number | null;
  next_rotation_date: Millis | null;
  valid_to: Millis | null;
  expiration_model: string | null;
  multi_region_key_id: string | null;
  primary_region: string | null;
  custom_key_store_id: string | null;
}

export interface KeyMaterialRow {
  version: number;
  created_at: Millis;
  rotation_type: string | null;
}

export interface AliasRow {
  account_id: string;
  region: string;
  alias_name: string;
  target_key_id: string;
  created_at: Millis;
  updated_at: Millis;
}

export interface AccessKeyRow {
  access_key_id: string;
  principal_arn: string;
  wrapped_secret: Buffer;
  created_at: Millis;
}

export interface ClientKeyRow {
  key_id: string;
  principal_arn: string;
  public_key: Buffer;
  created_at: Millis;
}

export interface GrantRow {
  grant_id: string;
  key_id: string;
  name: string | null;
  grantee_principal: string;
  retiring_principal: string | null;
  issuing_account: string;
  operations: string;
  constraints: string | null;
  created_at: Millis;
}

const date = (millis: Millis) => new Date(Number(millis));

export function toKey(row: KeyRow): KmsKey {
  return {
    // A multi-Region key's row id is regional (storeKeyId); the key id is the one its copies share.
    keyId: row.multi_region_key_id ?? row.key_id,
    accountId: row.account_id,
    region: row.region,
    createdAt: date(row.created_at),
    description: row.description,
    keySpec: row.key_spec as KmsKey["keySpec"],
    keyUsage: row.key_usage as KmsKey["keyUsage"],
    origin: row.origin as KmsKey["origin"],
    keyState: row.key_state as KmsKey["keyState"],
    deletionDate: row.deletion_date === null ? null : date(row.deletion_date),
    pendingDeletionWindowInDays: row.pending_window_days,
    policy: row.policy,
    currentVersion: row.current_version,
    rotationPeriodInDays: row.rotation_period_days,
    nextRotationDate: row.next_rotation_date === null ? null : date(row.next_rotation_date),
    ...(row.valid_to === null ? {} : { validTo: date(row.valid_to) }),
    ...(row.expiration_model === null
      ? {}
      : { expirationModel: row.expiration_model as NonNullable<KmsKey["expirationModel"]> }),
    ...(row.primary_region === null ? {} : { primaryRegion: row.primary_region }),
    ...(row.custom_key_store_id === null ? {} : { customKeyStoreId: row.custom_key_store_id }),
  };
}

export function toKeyMaterialVersion(row: KeyMaterialRow): KeyMaterialVersion {
  return {
    version: row.version,
    createdAt: date(row.created_at),
    rotationType: row.rotation_type as RotationType | null,
  };
}

export function toAlias(row: AliasRow): Alias {
  return {
    accountId: row.account_id,
    region: row.region,
    aliasName: row.alias_name,
    targetKeyId: keyIdOfStoreRow(row.target_key_id),
    createdAt: date(row.created_at),
    lastUpdatedAt: date(row.updated_at),
  };
}

export function toAccessKey(row: AccessKeyRow): AccessKey {
  return {
    accessKeyId: row.access_key_id,
    principalArn: row.principal_arn,
    wrappedSecret: row.wrapped_secret,
    createdAt: date(row.created_at),
  };
}

export function toClientKey(row: ClientKeyRow): ClientKeyRecord {
  return {
    keyId: row.key_id,
    principalArn: row.principal_arn,
    publicKey: row.public_key,
    createdAt: date(row.created_at),
  };
}

export function toGrant(row: GrantRow): Grant {
  return {
    grantId: row.grant_id,
    keyId: row.key_id,
    name: row.name,
    granteePrincipal: row.grantee_principal,
    retiringPrincipal: row.retiring_principal,
    issuingAccount: row.issuing_account,
    operations: JSON.parse(row.operations) as string[],
    constraints: row.constraints === null ? null : (JSON.parse(row.constraints) as GrantConstraints),
    createdAt: date(row.created_at),
  };
}

export function page<T>(rows: T[], limit: number, sortKey: (row: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  return { items, next: sortKey(items[items.length - 1] as T) };
}

export const KEY_CHANGE_COLUMNS: Record<keyof KeyChanges, string> = {
  description: "description",
  keyState: "key_state",
  deletionDate: "deletion_date",
  pendingDeletionWindowInDays: "pending_window_days",
  policy: "policy",
  rotationPeriodInDays: "rotation_period_days",
  nextRotationDate: "next_rotation_date",
};

/** The columns of `keys`, in the order INSERT lists them. */
export const KEY_COLUMNS = [
  "key_id",
  "account_id",
  "region",
  "created_at",
  "description",
  "key_spec",
  "key_usage",
  "origin",
  "key_state",
  "deletion_date",
  "pending_window_days",
  "policy",
  "current_version",
  "rotation_period_days",
  "next_rotation_date",
  "valid_to",
  "expiration_model",
  "multi_region_key_id",
  "primary_region",
  "custom_key_store_id",
] as const;

export function keyRowValues(key: KmsKey): Record<(typeof KEY_COLUMNS)[number], unknown> {
  return {
    key_id: storeKeyId(key),
    account_id: key.accountId,
    region: key.region,
    created_at: key.createdAt.getTime(),
    description: key.description,
    key_spec: key.keySpec,
    key_usage: key.keyUsage,
    origin: key.origin,
    key_state: key.keyState,
    deletion_date: key.deletionDate?.getTime() ?? null,
    pending_window_days: key.pendingDeletionWindowInDays,
    policy: key.policy,
    current_version: key.currentVersion,
    rotation_period_days: key.rotationPeriodInDays,
    next_rotation_date: key.nextRotationDate?.getTime() ?? null,
    valid_to: key.validTo?.getTime() ?? null,
    expiration_model: key.expirationModel ?? null,
    multi_region_key_id: key.primaryRegion === undefined ? null : key.keyId,
    primary_region: key.primaryRegion ?? null,
    custom_key_store_id: key.customKeyStoreId ?? null,
  };
}

export interface KeyUsageRow {
  key_id: string;
  operation: string;
  used_at: number | string;
  event_id: string;
  request_id: string;
}

export function keyUsageValues(usage: KeyUsage) {
  return {
    keyId: usage.keyId,
    operation: usage.operation,
    usedAt: usage.timestamp.getTime(),
    eventId: usage.eventId,
    requestId: usage.requestId,
  };
}

export function toKeyUsage(row: KeyUsageRow): KeyUsage {
  return {
    keyId: row.key_id,
    operation: row.operation,
    timestamp: new Date(Number(row.used_at)),
    eventId: row.event_id,
    requestId: row.request_id,
  };
}
