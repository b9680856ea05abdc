import type { ExpirationModelType, ImportKeyMaterialRequest, ImportKeyMaterialResponse } from "@aws-sdk/client-kms";
import { ImportTokenError, openImportToken, readImportToken } from "../crypto/import-token.js";
import { UnwrapError, unwrapKeyMaterial } from "../crypto/import-wrapping.js";
import { acceptKeyMaterial, UnfitKeyMaterialError } from "../crypto/imported-material.js";
import {
  ExpiredImportTokenException,
  IncorrectKeyMaterialException,
  InvalidCiphertextException,
  InvalidImportTokenException,
  KMSInvalidStateException,
  UnsupportedOperationException,
  ValidationException,
} from "../domain/errors.js";
import { type KmsKey, keyArn, keyMaterialId, storeKeyId } from "../domain/key.js";
import type { RequestConditions } from "../policy/authorizer.js";
import type { Operation, OperationContext } from "./context.js";
import {
  liveMaterials,
  materialFingerprint,
  nextMaterialVersion,
  requireExternalOrigin,
} from "./imported-key-material.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";
import { isReplica } from "./multi-region.js";
import { hasOtherCopies, replicaImport } from "./replica-key-material.js";

/** ValidTo may be at most 365 days after the request. */
const MAX_VALID_TO_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * Imports material into a key of Origin EXTERNAL: the first material, the same material again
 * (after deletion or expiry, or to change its expiration), or, for symmetric encryption keys,
 * new material that RotateKeyOnDemand later makes current (docs/byok.md).
 */
export const importKeyMaterial: Operation<ImportKeyMaterialRequest, ImportKeyMaterialResponse> = async (
  context,
  input,
) => {
  const { services } = context;
  const now = services.now();
  const expiration = expirationOf(input, now);
  const key = await resolveKey(
    context,
    input.KeyId as string,
    "kms:ImportKeyMaterial",
    expirationConditions(expiration),
  );
  requireExternalOrigin(key);
  requireNotPendingDeletion(key);
  if (key.keyState !== "PendingImport" && key.keyState !== "Enabled") {
    throw new KMSInvalidStateException(`${keyArn(key)} is ${key.keyState.toLowerCase()}.`);
  }
  const symmetric = key.keySpec === "SYMMETRIC_DEFAULT";
  if (!symmetric && (input.KeyMaterialId !== undefined || input.KeyMaterialDescription !== undefined)) {
    throw new ValidationException(
      "KeyMaterialId and KeyMaterialDescription are only valid for symmetric encryption keys.",
    );
  }
  const plaintext = await unwrapWithToken(context, key, input);
  let accepted: ReturnType<typeof acceptKeyMaterial>;
  try {
    accepted = acceptKeyMaterial(key.keySpec, plaintext);
  } catch (error) {
    plaintext.fill(0);
    if (error instanceof UnfitKeyMaterialError) throw new IncorrectKeyMaterialException(error.message);
    throw error;
  }
  const fingerprint = await materialFingerprint(services, key, accepted.identity);
  const rows = await services.store.importedMaterial.listImportedKeyMaterial(storeKeyId(key));
  const live = liveMaterials(rows);
  const importType = input.ImportType ?? (live.length === 0 ? "NEW_KEY_MATERIAL" : "EXISTING_KEY_MATERIAL");
  const same = live.find((material) => material.fingerprint?.equals(fingerprint));
  let version: number;
  let mode: "new" | "existing" = importType === "NEW_KEY_MATERIAL" ? "new" : "existing";
  if (isReplica(key)) {
    ({ version, mode } = await replicaImport(context, key, accepted.identity, rows, input));
  } else if (importType === "NEW_KEY_MATERIAL") {
    if (input.KeyMaterialId !== undefined) {
      throw new ValidationException("You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.");
    }
    if (same !== undefined) {
      throw new IncorrectKeyMaterialException(
        `The key material is already associated with ${keyArn(key)}. To reimport it, use ImportType EXISTING_KEY_MATERIAL.`,
      );
    }
    if (live.length > 0 && !symmetric) {
      throw new UnsupportedOperationException(
        `${keyArn(key)} key spec is ${key.keySpec}: only symmetric encryption keys accept new key material after the first import.`,
      );
    }
    if (live.length > 0 && (await hasOtherCopies(services, key))) {
      throw new UnsupportedOperationException(
        `${keyArn(key)} is a multi-Region primary key with replicas: Trent does not rotate imported key material across regions.`,
      );
    }
    if (live.some((material) => material.version > key.currentVersion)) {
      throw new KMSInvalidStateException(
        `${keyArn(key)} already has key material in PENDING_ROTATION state. Rotate the key (RotateKeyOnDemand) or delete that key material first.`,
      );
    }
    version = nextMaterialVersion(key, rows);
  } else {
    if (same === undefined) {
      throw new IncorrectKeyMaterialException(
        `The key material is not the key material previously imported into ${keyArn(key)}.`,
      );
    }
    if (input.KeyMaterialId !== undefined && input.KeyMaterialId !== keyMaterialId(key.keyId, same.version)) {
      throw new IncorrectKeyMaterialException(
        `The key material does not match the key material ID ${input.KeyMaterialId} of ${keyArn(key)}.`,
      );
    }
    version = same.version;
  }
  const wrappedMaterial = await services.backingKeys.create(key.keyId, version, accepted.material);
  const written = await services.store.importedMaterial.importKeyMaterial({
    storeKeyId: storeKeyId(key),
    mode,
    version,
    fingerprint,
    description: input.KeyMaterialDescription,
    expirationModel: expiration.model,
    validTo: expiration.validTo,
    wrappedMaterial,
    importedAt: now,
  });
  if (!written) {
    throw new KMSInvalidStateException(`${keyArn(key)} was changed by another request; try the import again.`);
  }
  return { KeyId: keyArn(key), KeyMaterialId: keyMaterialId(key.keyId, version) };
};

interface Expiration {
  readonly model: ExpirationModelType;
  readonly validTo: Date | null;
}

/** ExpirationModel defaults to KEY_MATERIAL_EXPIRES, which needs a ValidTo; the other model refuses one. */
function expirationOf(input: ImportKeyMaterialRequest, now: Date): Expiration {
  const model = input.ExpirationModel ?? "KEY_MATERIAL_EXPIRES";
  if (model === "KEY_MATERIAL_DOES_NOT_EXPIRE") {
    if (input.ValidTo !== undefined) {
      throw new ValidationException(
        "ValidTo must not be specified when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.",
      );
    }
    return { model, validTo: null };
  }
  if (input.ValidTo === undefined) {
    throw new ValidationException("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.");
  }
  const validTo = new Date(input.ValidTo);
  if (validTo.getTime() <= now.getTime())
    throw new ValidationException("ValidTo must be a date and time in the future.");
  if (validTo.getTime() > now.getTime() + MAX_VALID_TO_MS) {
    throw new ValidationException("ValidTo must be no more than 365 days from now.");
  }
  return { model, validTo };
}

/** kms:ExpirationModel, and kms:ValidTo in seconds since the epoch (compared numerically, as AWS's examples do). */
function expirationConditions(expiration: Expiration): RequestConditions {
  return {
    "kms:ExpirationModel": expiration.model,
    ...(expiration.validTo === null ? {} : { "kms:ValidTo": String(Math.floor(expiration.validTo.getTime() / 1000)) }),
  };
}

/** The material, unwrapped with the private key of an import token issued for this key and still valid. */
async function unwrapWithToken(
  context: OperationContext,
  key: KmsKey,
  input: ImportKeyMaterialRequest,
): Promise<Buffer> {
  const { services } = context;
  let token: ReturnType<typeof readImportToken>;
  let privateKey: Buffer;
  try {
    token = readImportToken(input.ImportToken as Uint8Array);
    if (token.keyArn !== keyArn(key)) throw new ImportTokenError("the import token is for another key");
    privateKey = await openImportToken(services.root, token);
  } catch (error) {
    if (!(error instanceof ImportTokenError)) throw error;
    throw new InvalidImportTokenException(
      "The import token is invalid or is associated with a different KMS key. Use the import token and public key from one GetParametersForImport response for this key.",
    );
  }
  try {
    if (token.validTo.getTime() <= services.now().getTime()) {
      throw new ExpiredImportTokenException(
        "The import token is expired. Use GetParametersForImport to get a new import token and public key, encrypt the key material with the new public key, and try again.",
      );
    }
    return unwrapKeyMaterial(
      token.algorithm,
      token.wrappingKeySpec,
      privateKey,
      input.EncryptedKeyMaterial as Uint8Array,
    );
  } catch (error) {
    if (!(error instanceof UnwrapError)) throw error;
    throw new InvalidCiphertextException(
      `KMS could not decrypt the encrypted key material with the wrapping key and the ${token.algorithm} wrapping algorithm of the import token.`,
    );
  } finally {
    privateKey.fill(0);
  }
}
