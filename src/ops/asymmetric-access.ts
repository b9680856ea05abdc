import type { KeyUsageType } from "@aws-sdk/client-kms";
import { type AsymmetricKey, asymmetricKeyFrom } from "../crypto/key-material.js";
import {
  InvalidKeyUsageException,
  NotFoundException,
  UnsupportedOperationException,
  ValidationException,
} from "../domain/errors.js";
import { type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import { type KeyAlgorithms, keyAlgorithms } from "../domain/key-specs.js";
import type { Services } from "./context.js";
import { requireUsable } from "./key-access.js";

const MAX_CACHED_KEYS = 1_000;
const parsedKeys = new Map<string, AsymmetricKey>();

/** The key's secret material (HMAC key bytes, PKCS#8 DER or ML-DSA seed), from the backing-key cache. */
export async function keyMaterial(services: Services, key: KmsKey): Promise<Buffer> {
  // Only the token holds such a key: the operations that use it here (Alibaba's Iv ciphertexts) cannot.
  if (key.customKeyStoreId !== undefined) {
    throw new UnsupportedOperationException(
      `${keyArn(key)} is in a custom key store, which this operation does not support.`,
    );
  }
  const material = await services.backingKeys.get(key, key.currentVersion);
  if (!material) throw new NotFoundException(`Key '${keyArn(key)}' does not exist`);
  return material;
}

/** The key pair of an asymmetric key, parsed once per key version. */
export async function asymmetricKey(services: Services, key: KmsKey): Promise<AsymmetricKey> {
  const cacheKey = `${storeKeyId(key)}/${key.currentVersion}`;
  const cached = parsedKeys.get(cacheKey);
  if (cached) return cached;
  const parsed = asymmetricKeyFrom(key.keySpec, await keyMaterial(services, key));
  if (parsedKeys.size >= MAX_CACHED_KEYS) parsedKeys.delete(parsedKeys.keys().next().value as string);
  parsedKeys.set(cacheKey, parsed);
  return parsed;
}

/** AWS's check before a cryptographic operation: the key is usable and has the usage the operation needs. */
export function requireUsage(key: KmsKey, usage: KeyUsageType, operation: string): void {
  requireUsable(key);
  if (key.keyUsage !== usage) {
    throw new InvalidKeyUsageException(
      `${keyArn(key)} key usage is ${key.keyUsage} which is not valid for ${operation}.`,
    );
  }
}

/** The algorithm must be one the key's spec and usage offer. */
export function requireAlgorithm(key: KmsKey, list: keyof KeyAlgorithms, algorithm: string): void {
  const allowed = keyAlgorithms(key.keySpec, key.keyUsage)[list] as readonly string[] | undefined;
  if (!allowed?.includes(algorithm)) {
    throw new InvalidKeyUsageException(`Algorithm ${algorithm} is incompatible with key spec ${key.keySpec}.`);
  }
}

/** Asymmetric and HMAC algorithms take no encryption context. */
export function refuseEncryptionContext(context: Record<string, string> | undefined): void {
  if (context !== undefined && Object.keys(context).length > 0) {
    throw new ValidationException(
      "EncryptionContext is not supported when encrypting or decrypting with asymmetric KMS keys.",
    );
  }
}
