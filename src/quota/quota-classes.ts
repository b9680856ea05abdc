import type { KeySpec } from "@aws-sdk/client-kms";
import type { DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import { ALIBABA_CRYPTOGRAPHIC_OPERATIONS, CRYPTOGRAPHIC_OPERATIONS } from "../domain/cryptographic-operations.js";

/**
 * AWS KMS's default request quotas, in requests per second per account and region, named as AWS's
 * Service Quotas names them without the trailing " request rate" (developer guide, "Request
 * quotas"). The symmetric quota is the one AWS documents for most regions: AWS gives 20,000 in
 * six regions and 100,000 in us-east-1, us-west-2 and eu-west-1; a quota file can match those.
 */
export const AWS_DEFAULT_QUOTAS = {
  // Shared by every cryptographic operation on keys of one type; HMAC keys count as symmetric.
  "Cryptographic operations (symmetric)": 10_000,
  "Cryptographic operations (RSA)": 1_000,
  "Cryptographic operations (ECC and SM2)": 1_000,
  "Cryptographic operations (ML-DSA)": 1_000,
  // GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext, by the pair's spec; not the shared quota.
  "GenerateDataKeyPair (RSA_2048)": 20,
  "GenerateDataKeyPair (RSA_3072)": 4,
  "GenerateDataKeyPair (RSA_4096)": 1,
  "GenerateDataKeyPair (ECC_NIST_P256)": 100,
  "GenerateDataKeyPair (ECC_NIST_P384)": 100,
  "GenerateDataKeyPair (ECC_NIST_P521)": 100,
  "GenerateDataKeyPair (ECC_SECG_P256K1)": 100,
  "GenerateDataKeyPair (ECC_NIST_EDWARDS25519)": 100,
  "GenerateDataKeyPair (SM2)": 25,
  CancelKeyDeletion: 5,
  ConnectCustomKeyStore: 5,
  CreateAlias: 5,
  CreateCustomKeyStore: 5,
  CreateGrant: 50,
  CreateKey: 5,
  DeleteAlias: 15,
  DeleteCustomKeyStore: 5,
  DeleteImportedKeyMaterial: 15,
  DescribeCustomKeyStores: 5,
  DescribeKey: 2_000,
  DisableKey: 5,
  DisableKeyRotation: 5,
  DisconnectCustomKeyStore: 5,
  EnableKey: 5,
  EnableKeyRotation: 15,
  GetKeyLastUsage: 5,
  GetKeyPolicy: 1_000,
  GetKeyRotationStatus: 1_000,
  GetParametersForImport: 1,
  GetPublicKey: 2_000,
  ImportKeyMaterial: 15,
  ListAliases: 500,
  ListGrants: 100,
  ListKeyPolicies: 100,
  ListKeyRotations: 100,
  ListKeys: 500,
  ListResourceTags: 2_000,
  ListRetirableGrants: 100,
  PutKeyPolicy: 15,
  ReplicateKey: 5,
  RetireGrant: 50,
  RevokeGrant: 50,
  RotateKeyOnDemand: 5,
  ScheduleKeyDeletion: 15,
  TagResource: 10,
  UntagResource: 5,
  UpdateAlias: 5,
  UpdateCustomKeyStore: 5,
  UpdateKeyDescription: 5,
  UpdatePrimaryRegion: 5,
  // The audit API beside KMS on the same listener. CloudTrail's API reference: "The rate of lookup
  // requests is limited to two per second, per account, per Region."
  LookupEvents: 2,
  // Trent's own audit operation, at the same rate in a bucket of its own, so that a console page
  // load (one VerifyAuditTrail and one LookupEvents) never throttles itself.
  VerifyAuditTrail: 2,
} as const satisfies Record<string, number>;

export type QuotaClass = keyof typeof AWS_DEFAULT_QUOTAS;

/**
 * Classes whose bucket holds more than one second of its rate: requests a caller may make at once
 * before the rate applies. The console reads up to 20 LookupEvents pages in a row for one "Load
 * more" when its own filters drop most events; at 2 per second with no burst the third would be
 * throttled. Idle for 10 seconds, the bucket is full again.
 */
export const QUOTA_BURSTS: Readonly<Partial<Record<QuotaClass, number>>> = { LookupEvents: 20 };

export const QUOTA_CLASSES = Object.keys(AWS_DEFAULT_QUOTAS) as readonly QuotaClass[];

const SYMMETRIC: QuotaClass = "Cryptographic operations (symmetric)";

/**
 * Operations whose class is known from their name alone, on either edge. The cryptographic
 * operations are absent: their class is the key's type, charged where they resolve the key.
 */
const CLASS_BY_OPERATION: ReadonlyMap<string, QuotaClass> = new Map<string, QuotaClass>([
  ...QUOTA_CLASSES.filter((name) => !name.includes(" ")).map((name): [string, QuotaClass] => [name, name]),
  // GenerateRandom uses no key and counts against the symmetric quota (both edges call it so).
  ["GenerateRandom", SYMMETRIC],
]);

/** Operations charged by the key they use (`admitKeyUse`), on the AWS edge and the Alibaba edge. */
export const KEY_TYPED_OPERATIONS: ReadonlySet<string> = new Set([
  ...CRYPTOGRAPHIC_OPERATIONS,
  ...Object.keys(ALIBABA_CRYPTOGRAPHIC_OPERATIONS),
]);

/** The class an operation is charged to when it arrives, or undefined when its key decides. */
export function operationQuotaClass(operation: string): QuotaClass | undefined {
  return CLASS_BY_OPERATION.get(operation);
}

/** Key-policy actions that are a cryptographic use of the key, charged to the key type's shared quota. */
const CRYPTOGRAPHIC_ACTIONS: ReadonlySet<string> = new Set([
  "kms:Decrypt",
  "kms:DeriveSharedSecret",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:GenerateMac",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "kms:Sign",
  "kms:Verify",
  "kms:VerifyMac",
]);

const DATA_KEY_PAIR_ACTIONS: ReadonlySet<string> = new Set([
  "kms:GenerateDataKeyPair",
  "kms:GenerateDataKeyPairWithoutPlaintext",
]);

/** The shared cryptographic quota of a key type. */
export function keyTypeQuotaClass(keySpec: KeySpec): QuotaClass {
  if (keySpec.startsWith("RSA_")) return "Cryptographic operations (RSA)";
  if (keySpec.startsWith("ECC_") || keySpec === "SM2") return "Cryptographic operations (ECC and SM2)";
  if (keySpec.startsWith("ML_DSA_")) return "Cryptographic operations (ML-DSA)";
  return SYMMETRIC;
}

/**
 * The class a use of a key is charged to: its type's shared quota for a cryptographic action, the
 * pair spec's quota for the data-key-pair actions, nothing for management actions (their
 * operation was charged by name).
 */
export function keyUseQuotaClass(
  action: string,
  keySpec: KeySpec,
  dataKeyPairSpec: DataKeyPairSpec | undefined,
): QuotaClass | undefined {
  if (CRYPTOGRAPHIC_ACTIONS.has(action)) return keyTypeQuotaClass(keySpec);
  if (DATA_KEY_PAIR_ACTIONS.has(action)) {
    return dataKeyPairSpec === undefined ? keyTypeQuotaClass(keySpec) : `GenerateDataKeyPair (${dataKeyPairSpec})`;
  }
  return undefined;
}
