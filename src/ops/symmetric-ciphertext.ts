import type { EncryptionAlgorithmSpec } from "@aws-sdk/client-kms";
import {
  ANY_KEY_TYPE,
  decryptBlob,
  encryptBlob,
  MalformedCiphertextError,
  parseBlobHeader,
} from "../crypto/ciphertext.js";
import { type EncryptionContext, encodeEncryptionContext } from "../crypto/encryption-context.js";
import {
  IncorrectKeyException,
  InvalidCiphertextException,
  InvalidKeyUsageException,
  ValidationException,
} from "../domain/errors.js";
import { type KmsKey, keyArn, keyMaterialId, storeKeyId } from "../domain/key.js";
import type { RequestConditions } from "../policy/authorizer.js";
import { keyMaterial } from "./asymmetric-access.js";
import { authorize, encryptionContextConditions } from "./authorize.js";
import type { OperationContext } from "./context.js";
import { openInCustomKeyStore, sealInCustomKeyStore } from "./custom-key-store-keys.js";
import { stopIfDryRun } from "./dry-run.js";
import { withMaterialExpiry } from "./imported-key-material.js";
import { admitKeyUse, requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";

/** AWS's limit on an encryption context: the UTF-8 bytes of all keys and values together. */
export const MAX_ENCRYPTION_CONTEXT_BYTES = 8192;

export function encodeContext(encryptionContext: EncryptionContext | undefined): Buffer {
  let size = 0;
  for (const [key, value] of Object.entries(encryptionContext ?? {})) {
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (size > MAX_ENCRYPTION_CONTEXT_BYTES) {
    throw new ValidationException(
      `The encryption context is ${size} bytes; it can be at most ${MAX_ENCRYPTION_CONTEXT_BYTES} bytes of keys and values.`,
    );
  }
  return encodeEncryptionContext(encryptionContext);
}

export function requireSymmetricAlgorithm(algorithm: EncryptionAlgorithmSpec | undefined, key: KmsKey): void {
  if (algorithm !== undefined && algorithm !== "SYMMETRIC_DEFAULT") {
    throw new InvalidKeyUsageException(
      `Algorithm ${algorithm} is not valid for ${keyArn(key)}; use SYMMETRIC_DEFAULT.`,
    );
  }
}

/** Encrypts under the key's newest backing-key version. */
export async function sealUnderKey(
  context: OperationContext,
  key: KmsKey,
  plaintext: Uint8Array,
  encodedContext: Buffer,
): Promise<{ ciphertext: Buffer; keyMaterialId: string }> {
  if (key.customKeyStoreId !== undefined) {
    const ciphertext = await sealInCustomKeyStore(context.services, key, plaintext, encodedContext);
    return { ciphertext, keyMaterialId: keyMaterialId(key.keyId, key.currentVersion) };
  }
  // The current version's backing key; only a key deleted while this request was in flight has none.
  const backingKey = await keyMaterial(context.services, key);
  const ciphertext = encryptBlob(
    backingKey,
    { keyId: key.keyId, keyVersion: key.currentVersion },
    plaintext,
    encodedContext,
  );
  return { ciphertext, keyMaterialId: keyMaterialId(key.keyId, key.currentVersion) };
}

export interface OpenedCiphertext {
  readonly key: KmsKey;
  readonly plaintext: Buffer;
  readonly keyMaterialId: string;
}

/**
 * Finds the key a ciphertext names, checks it against the optional KeyId the caller gave, and
 * decrypts. Any blob that is malformed, names a key that does not exist, or fails to
 * authenticate (including a different encryption context) is InvalidCiphertextException.
 */
export async function openCiphertext(
  context: OperationContext,
  blob: Uint8Array | undefined,
  encryptionContext: EncryptionContext | undefined,
  keyIdParameter: string | undefined,
  action: string,
  operation: string,
): Promise<OpenedCiphertext> {
  if (blob === undefined) {
    throw new ValidationException(
      "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null",
    );
  }
  const conditions = {
    ...encryptionContextConditions(encryptionContext),
    "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
  };
  return openBlob(context, blob, encodeContext(encryptionContext), conditions, keyIdParameter, action, operation);
}

/** `openCiphertext` with the associated context already encoded (the Alibaba edge binds its Aad this way). */
export async function openBlob(
  context: OperationContext,
  blob: Uint8Array,
  encodedContext: Buffer,
  conditions: RequestConditions,
  keyIdParameter: string | undefined,
  action: string,
  operation: string,
): Promise<OpenedCiphertext> {
  let header: ReturnType<typeof parseBlobHeader>;
  try {
    header = parseBlobHeader(blob, ANY_KEY_TYPE);
  } catch (error) {
    if (error instanceof MalformedCiphertextError) throw invalidCiphertext();
    throw error;
  }
  let key: KmsKey;
  if (keyIdParameter !== undefined) {
    key = await resolveKey(context, keyIdParameter, action, conditions);
    if (key.keyId !== header.keyId) {
      throw new IncorrectKeyException(
        "The key ID in the request does not identify the KMS key that encrypted the ciphertext.",
      );
    }
  } else {
    const found = await context.services.store.getKey(
      storeKeyId({ keyId: header.keyId, region: context.caller.region }),
    );
    if (!found || found.region !== context.caller.region) throw invalidCiphertext();
    key = withMaterialExpiry(found, context.services.now());
    admitKeyUse(context, action, key);
    context.resources.push(keyArn(key));
    await authorize(context, action, key, conditions);
  }
  requireSymmetricEncryptionKey(key, operation);
  if (key.customKeyStoreId !== undefined) {
    try {
      const plaintext = await openInCustomKeyStore(context.services, key, blob, encodedContext);
      return { key, plaintext, keyMaterialId: keyMaterialId(key.keyId, header.keyVersion) };
    } catch (error) {
      if (error instanceof MalformedCiphertextError) throw invalidCiphertext();
      throw error;
    }
  }
  const backingKey = await context.services.backingKeys.get(key, header.keyVersion);
  if (!backingKey) throw invalidCiphertext();
  try {
    const plaintext = decryptBlob(backingKey, blob, encodedContext);
    return { key, plaintext, keyMaterialId: keyMaterialId(key.keyId, header.keyVersion) };
  } catch (error) {
    if (error instanceof MalformedCiphertextError) throw invalidCiphertext();
    throw error;
  }
}

/**
 * A dry run with the IGNORE_CIPHERTEXT modifier checks only the named key and the caller's
 * permission, and stops there; the ciphertext is not examined.
 */
export async function dryRunIgnoringCiphertext(
  context: OperationContext,
  input: {
    DryRun?: boolean | undefined;
    DryRunModifiers?: string[] | undefined;
    EncryptionAlgorithm?: EncryptionAlgorithmSpec | undefined;
  },
  keyIdParameter: string | undefined,
  keyIdMember: string,
  action: string,
  operation: string,
): Promise<void> {
  if (input.DryRun !== true || !input.DryRunModifiers?.includes("IGNORE_CIPHERTEXT")) return;
  if (keyIdParameter === undefined) {
    throw new ValidationException(`${keyIdMember} is required when DryRunModifiers contains IGNORE_CIPHERTEXT.`);
  }
  const key = await resolveKey(context, keyIdParameter, action);
  requireSymmetricEncryptionKey(key, operation);
  requireSymmetricAlgorithm(input.EncryptionAlgorithm, key);
  stopIfDryRun(input);
}

function invalidCiphertext(): InvalidCiphertextException {
  return new InvalidCiphertextException(
    "The ciphertext is invalid, was modified, or its encryption context does not match.",
  );
}
