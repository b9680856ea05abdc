import { createHash, randomBytes } from "node:crypto";
import type {
  CustomerMasterKeySpec,
  ExpirationModelType,
  KeyMetadata,
  KeySpec,
  KeyState,
  KeyUsageType,
  MultiRegionConfiguration,
  OriginType,
} from "@aws-sdk/client-kms";
import { keyAlgorithms } from "./key-specs.js";

/** A KMS key as the store holds it: metadata only; key material lives in versioned rows beside it. */
export interface KmsKey {
  readonly keyId: string;
  readonly accountId: string;
  readonly region: string;
  readonly createdAt: Date;
  description: string;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsageType;
  readonly origin: OriginType;
  keyState: KeyState;
  deletionDate: Date | null;
  pendingDeletionWindowInDays: number | null;
  policy: string;
  /** The newest backing-key version; ciphertexts name the version they were made with. */
  currentVersion: number;
  /** Days between automatic rotations; null while automatic rotation is off. */
  rotationPeriodInDays: number | null;
  /** When automatic rotation is next due; null while it is off. Kept while the key is disabled or pending deletion. */
  nextRotationDate: Date | null;
  /**
   * Multi-Region keys only (primary and replicas): the region of the primary key. Rotation
   * settings live on the primary's row alone; every regional copy holds the same material versions.
   */
  readonly primaryRegion?: string;
  /** Origin EXTERNAL only: whether imported material expires, while any is imported (see docs/byok.md). */
  expirationModel?: ExpirationModelType | null;
  /** Origin EXTERNAL only: when the earliest imported material permanently associated with the key expires. */
  validTo?: Date | null;
  /** Origin AWS_CLOUDHSM only: the custom key store whose token holds the key (docs/custom-key-stores.md). */
  readonly customKeyStoreId?: string;
}

export type RotationType = "AUTOMATIC" | "ON_DEMAND";

/** One version of a key's backing key, as ListKeyRotations reports it. */
export interface KeyMaterialVersion {
  readonly version: number;
  readonly createdAt: Date;
  /** How the version came to be; null for the key's first material. */
  readonly rotationType: RotationType | null;
}

export interface Tag {
  readonly TagKey: string;
  readonly TagValue: string;
}

export function keyArn(key: Pick<KmsKey, "region" | "accountId" | "keyId">): string {
  return `arn:aws:kms:${key.region}:${key.accountId}:key/${key.keyId}`;
}

/**
 * The id of a key's row in the store (tags, grants, usage and material rows hang off it). It is
 * the key id, except that the replicas of a multi-Region key share one key id across regions, so
 * their rows need the region too (see the multi-Region work of issue 13).
 */
export function storeKeyId(key: Pick<KmsKey, "keyId" | "region">): string {
  return isMultiRegionKeyId(key.keyId) ? `${key.region}/${key.keyId}` : key.keyId;
}

/** The key id of a key's store row (the inverse of storeKeyId). */
export function keyIdOfStoreRow(storeId: string): string {
  return storeId.slice(storeId.lastIndexOf("/") + 1);
}

/** Multi-Region key ids are "mrk-" and 32 lowercase hex digits; single-Region ones are UUIDs. */
export function isMultiRegionKeyId(keyId: string): boolean {
  return keyId.startsWith("mrk-");
}

export function newMultiRegionKeyId(): string {
  return `mrk-${randomBytes(16).toString("hex")}`;
}

export function aliasArn(region: string, accountId: string, aliasName: string): string {
  return `arn:aws:kms:${region}:${accountId}:${aliasName}`;
}

/** The deprecated CustomerMasterKeySpec field is shown only for the specs that existed when it was current. */
const CUSTOMER_MASTER_KEY_SPECS: ReadonlySet<string> = new Set([
  "RSA_2048",
  "RSA_3072",
  "RSA_4096",
  "ECC_NIST_P256",
  "ECC_NIST_P384",
  "ECC_NIST_P521",
  "ECC_SECG_P256K1",
  "SYMMETRIC_DEFAULT",
  "HMAC_224",
  "HMAC_256",
  "HMAC_384",
  "HMAC_512",
  "SM2",
]);

/** The algorithm list for the key's usage, under the member names DescribeKey and GetPublicKey use. */
export function algorithmLists(
  key: Pick<KmsKey, "keySpec" | "keyUsage">,
): Pick<KeyMetadata, "EncryptionAlgorithms" | "SigningAlgorithms" | "MacAlgorithms" | "KeyAgreementAlgorithms"> {
  const algorithms = keyAlgorithms(key.keySpec, key.keyUsage);
  return {
    ...(algorithms.encryption ? { EncryptionAlgorithms: [...algorithms.encryption] } : {}),
    ...(algorithms.signing ? { SigningAlgorithms: [...algorithms.signing] } : {}),
    ...(algorithms.mac ? { MacAlgorithms: [...algorithms.mac] } : {}),
    ...(algorithms.keyAgreement ? { KeyAgreementAlgorithms: [...algorithms.keyAgreement] } : {}),
  };
}

/**
 * DescribeKey's KeyMetadata. For a multi-Region key, `regions` are the regions holding a copy of
 * it (the primary's and every replica's; read in one listing of its rows).
 */
export function describeKey(key: KmsKey, regions: readonly string[] = []): KeyMetadata {
  const metadata: KeyMetadata = {
    AWSAccountId: key.accountId,
    KeyId: key.keyId,
    Arn: keyArn(key),
    CreationDate: key.createdAt,
    Enabled: key.keyState === "Enabled",
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    Origin: key.origin,
    KeyManager: "CUSTOMER",
    KeySpec: key.keySpec,
    MultiRegion: key.primaryRegion !== undefined,
  };
  if (CUSTOMER_MASTER_KEY_SPECS.has(key.keySpec)) metadata.CustomerMasterKeySpec = key.keySpec as CustomerMasterKeySpec;
  Object.assign(metadata, algorithmLists(key));
  // PendingDeletionWindowInDays belongs to multi-Region primaries waiting on replicas (PendingReplicaDeletion).
  if (key.keyState === "PendingDeletion" && key.deletionDate) metadata.DeletionDate = key.deletionDate;
  if (key.keyState === "PendingReplicaDeletion" && key.pendingDeletionWindowInDays !== null) {
    metadata.PendingDeletionWindowInDays = key.pendingDeletionWindowInDays;
  }
  if (key.primaryRegion !== undefined) metadata.MultiRegionConfiguration = multiRegionConfiguration(key, regions);
  if (key.keySpec === "SYMMETRIC_DEFAULT") metadata.CurrentKeyMaterialId = keyMaterialId(key.keyId, key.currentVersion);
  if (key.origin === "EXTERNAL" && key.expirationModel) metadata.ExpirationModel = key.expirationModel;
  if (key.origin === "EXTERNAL" && key.validTo) metadata.ValidTo = key.validTo;
  if (key.customKeyStoreId !== undefined) metadata.CustomKeyStoreId = key.customKeyStoreId;
  return metadata;
}

/** Which copy this is, and where the others are: the primary, and the replicas in region order. */
function multiRegionConfiguration(key: KmsKey, regions: readonly string[]): MultiRegionConfiguration {
  const primaryRegion = key.primaryRegion as string;
  const copy = (region: string) => ({ Arn: keyArn({ ...key, region }), Region: region });
  const replicas = [...new Set([...regions, key.region])].filter((region) => region !== primaryRegion).sort();
  return {
    MultiRegionKeyType: key.region === primaryRegion ? "PRIMARY" : "REPLICA",
    PrimaryKey: copy(primaryRegion),
    ReplicaKeys: replicas.map(copy),
  };
}

/** A stable identifier of the current key material version (64 hex chars, as AWS shows it). */
export function keyMaterialId(keyId: string, version: number): string {
  return createHash("sha256").update(`trent/key-material/${keyId}/${version}`).digest("hex");
}
