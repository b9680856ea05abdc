import { randomUUID } from "node:crypto";
import type { CreateKeyRequest, CreateKeyResponse, KeySpec } from "@aws-sdk/client-kms";
import { generateKeyMaterial } from "../crypto/key-material.js";
import { defaultKeyPolicy } from "../domain/default-key-policy.js";
import { LimitExceededException, UnsupportedOperationException, ValidationException } from "../domain/errors.js";
import { describeKey, type KmsKey, newMultiRegionKeyId, type Tag } from "../domain/key.js";
import { keySpecInfo } from "../domain/key-specs.js";
import type { RequestConditions } from "../policy/authorizer.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { createKeyInCustomKeyStore, requireCloudHsmKeyRequest } from "./custom-key-store-keys.js";
import { bypassLockoutCondition, checkKeyPolicy } from "./key-policy.js";
import { MAX_TAGS_PER_KEY, requestTagConditions, validateTags } from "./tags.js";

const FIRST_KEY_VERSION = 1;

export const createKey: Operation<CreateKeyRequest, CreateKeyResponse> = async (context, input) => {
  const { caller, services } = context;
  if (input.KeySpec !== undefined && input.CustomerMasterKeySpec !== undefined) {
    throw new ValidationException(
      "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
    );
  }
  const keySpec = (input.KeySpec ?? input.CustomerMasterKeySpec ?? "SYMMETRIC_DEFAULT") as KeySpec;
  if (input.KeyUsage === undefined && keySpec !== "SYMMETRIC_DEFAULT") {
    throw new ValidationException(
      "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
  }
  const keyUsage = input.KeyUsage ?? "ENCRYPT_DECRYPT";
  if (keySpecInfo(keySpec).usages[keyUsage] === undefined) {
    throw new ValidationException(`KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
  }
  if (keySpec === "SM2" && !services.allowSm2) {
    throw new UnsupportedOperationException("KeySpec SM2 is not supported in this region.");
  }
  const origin = input.Origin ?? "AWS_KMS";
  requireCloudHsmKeyRequest(input, keySpec, keyUsage);
  if (origin !== "AWS_KMS" && origin !== "EXTERNAL" && origin !== "AWS_CLOUDHSM") {
    throw new UnsupportedOperationException(`Trent does not support Origin ${origin} yet.`);
  }
  const multiRegion = input.MultiRegion === true;
  if (multiRegion && input.CustomKeyStoreId !== undefined) {
    throw new UnsupportedOperationException("You cannot create a multi-Region key in a custom key store.");
  }
  const tags = (input.Tags ?? []) as Tag[];
  validateTags(tags);
  if (tags.length > MAX_TAGS_PER_KEY)
    throw new LimitExceededException(`A KMS key can have at most ${MAX_TAGS_PER_KEY} tags.`);

  await authorize(context, "kms:CreateKey", null, createKeyConditions(input, keySpec, keyUsage, origin, tags));

  const key: KmsKey = {
    keyId: multiRegion ? newMultiRegionKeyId() : randomUUID(),
    accountId: caller.accountId,
    region: caller.region,
    createdAt: services.now(),
    description: input.Description ?? "",
    keySpec,
    keyUsage,
    origin,
    // A key for imported material has none until ImportKeyMaterial (docs/byok.md).
    keyState: origin === "EXTERNAL" ? "PendingImport" : "Enabled",
    deletionDate: null,
    pendingDeletionWindowInDays: null,
    policy: input.Policy ?? defaultKeyPolicy(caller.accountId),
    currentVersion: FIRST_KEY_VERSION,
    rotationPeriodInDays: null,
    nextRotationDate: null,
    ...(multiRegion ? { primaryRegion: caller.region } : {}),
    ...(input.CustomKeyStoreId === undefined ? {} : { customKeyStoreId: input.CustomKeyStoreId }),
  };
  if (input.Policy !== undefined)
    await checkKeyPolicy(context, key, input.Policy, input.BypassPolicyLockoutSafetyCheck);
  // A key in a custom key store is made in its token and has no key material outside it.
  if (key.customKeyStoreId !== undefined) {
    return {
      KeyMetadata: await createKeyInCustomKeyStore(context, { ...key, customKeyStoreId: key.customKeyStoreId }, tags),
    };
  }
  const wrappedMaterial =
    origin === "EXTERNAL"
      ? null
      : await services.backingKeys.create(key.keyId, key.currentVersion, await generateKeyMaterial(keySpec));
  await services.store.createKey(key, wrappedMaterial, tags);
  return { KeyMetadata: describeKey(key) };
};

function createKeyConditions(
  input: CreateKeyRequest,
  keySpec: string,
  keyUsage: string,
  origin: string,
  tags: readonly Tag[],
): RequestConditions {
  const conditions: Record<string, string | string[]> = {
    "kms:KeySpec": keySpec,
    "kms:KeyUsage": keyUsage,
    "kms:KeyOrigin": origin,
    "kms:MultiRegion": String(input.MultiRegion === true),
    ...bypassLockoutCondition(input.BypassPolicyLockoutSafetyCheck),
    ...requestTagConditions(tags),
  };
  return conditions;
}
