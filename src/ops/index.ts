import { cancelKeyDeletion } from "./cancel-key-deletion.js";
import { connectCustomKeyStore } from "./connect-custom-key-store.js";
import type { Operation } from "./context.js";
import { createAlias } from "./create-alias.js";
import { createCustomKeyStore } from "./create-custom-key-store.js";
import { createGrant } from "./create-grant.js";
import { createKey } from "./create-key.js";
import { decrypt } from "./decrypt.js";
import { deleteAlias } from "./delete-alias.js";
import { deleteCustomKeyStore } from "./delete-custom-key-store.js";
import { deleteImportedKeyMaterial } from "./delete-imported-key-material.js";
import { deriveSharedSecret } from "./derive-shared-secret.js";
import { describeCustomKeyStores } from "./describe-custom-key-stores.js";
import { describeKey } from "./describe-key.js";
import { disableKey } from "./disable-key.js";
import { disableKeyRotation } from "./disable-key-rotation.js";
import { disconnectCustomKeyStore } from "./disconnect-custom-key-store.js";
import { enableKey } from "./enable-key.js";
import { enableKeyRotation } from "./enable-key-rotation.js";
import { encrypt } from "./encrypt.js";
import { generateDataKey } from "./generate-data-key.js";
import { generateDataKeyPair } from "./generate-data-key-pair.js";
import { generateDataKeyPairWithoutPlaintext } from "./generate-data-key-pair-without-plaintext.js";
import { generateDataKeyWithoutPlaintext } from "./generate-data-key-without-plaintext.js";
import { generateMac } from "./generate-mac.js";
import { generateRandom } from "./generate-random.js";
import { getKeyLastUsage } from "./get-key-last-usage.js";
import { getKeyPolicy } from "./get-key-policy.js";
import { getKeyRotationStatus } from "./get-key-rotation-status.js";
import { getParametersForImport } from "./get-parameters-for-import.js";
import { getPublicKey } from "./get-public-key.js";
import { importKeyMaterial } from "./import-key-material.js";
import { listAliases } from "./list-aliases.js";
import { listGrants } from "./list-grants.js";
import { listKeyPolicies } from "./list-key-policies.js";
import { listKeyRotations } from "./list-key-rotations.js";
import { listKeys } from "./list-keys.js";
import { listResourceTags } from "./list-resource-tags.js";
import { listRetirableGrants } from "./list-retirable-grants.js";
import { putKeyPolicy } from "./put-key-policy.js";
import { reEncrypt } from "./re-encrypt.js";
import { replicateKey } from "./replicate-key.js";
import { retireGrant } from "./retire-grant.js";
import { revokeGrant } from "./revoke-grant.js";
import { rotateKeyOnDemand } from "./rotate-key-on-demand.js";
import { scheduleKeyDeletion } from "./schedule-key-deletion.js";
import { sign } from "./sign.js";
import { tagResource } from "./tag-resource.js";
import { untagResource } from "./untag-resource.js";
import { updateAlias } from "./update-alias.js";
import { updateCustomKeyStore } from "./update-custom-key-store.js";
import { updateKeyDescription } from "./update-key-description.js";
import { updatePrimaryRegion } from "./update-primary-region.js";
import { verify } from "./verify.js";
import { verifyMac } from "./verify-mac.js";

/**
 * The KMS operations Trent implements, by their API name. Inputs arrive already validated
 * against the API's shapes; each operation adds only the rules particular to it.
 */
// biome-ignore lint/suspicious/noExplicitAny: each entry has its own input type; the edge validated it against the model.
export const KMS_OPERATIONS: Readonly<Record<string, Operation<any, unknown>>> = {
  CancelKeyDeletion: cancelKeyDeletion,
  CreateAlias: createAlias,
  CreateGrant: createGrant,
  CreateKey: createKey,
  Decrypt: decrypt,
  DeleteAlias: deleteAlias,
  DeleteImportedKeyMaterial: deleteImportedKeyMaterial,
  DescribeKey: describeKey,
  DisableKey: disableKey,
  DisableKeyRotation: disableKeyRotation,
  EnableKey: enableKey,
  EnableKeyRotation: enableKeyRotation,
  Encrypt: encrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyPair: generateDataKeyPair,
  GenerateDataKeyPairWithoutPlaintext: generateDataKeyPairWithoutPlaintext,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  GenerateRandom: generateRandom,
  GetKeyPolicy: getKeyPolicy,
  GetKeyLastUsage: getKeyLastUsage,
  GetKeyRotationStatus: getKeyRotationStatus,
  GetParametersForImport: getParametersForImport,
  GetPublicKey: getPublicKey,
  ImportKeyMaterial: importKeyMaterial,
  ListAliases: listAliases,
  ListGrants: listGrants,
  ListKeyPolicies: listKeyPolicies,
  ListKeyRotations: listKeyRotations,
  ListKeys: listKeys,
  ListResourceTags: listResourceTags,
  ListRetirableGrants: listRetirableGrants,
  PutKeyPolicy: putKeyPolicy,
  ReEncrypt: reEncrypt,
  RetireGrant: retireGrant,
  RevokeGrant: revokeGrant,
  RotateKeyOnDemand: rotateKeyOnDemand,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  TagResource: tagResource,
  UntagResource: untagResource,
  UpdateAlias: updateAlias,
  Sign: sign,
  Verify: verify,
  GenerateMac: generateMac,
  VerifyMac: verifyMac,
  DeriveSharedSecret: deriveSharedSecret,
  UpdateKeyDescription: updateKeyDescription,
  // Custom key stores (AWS_CLOUDHSM on PKCS#11 tokens; docs/custom-key-stores.md).
  CreateCustomKeyStore: createCustomKeyStore,
  ConnectCustomKeyStore: connectCustomKeyStore,
  DisconnectCustomKeyStore: disconnectCustomKeyStore,
  DescribeCustomKeyStores: describeCustomKeyStores,
  UpdateCustomKeyStore: updateCustomKeyStore,
  DeleteCustomKeyStore: deleteCustomKeyStore,
  ReplicateKey: replicateKey,
  UpdatePrimaryRegion: updatePrimaryRegion,
};
