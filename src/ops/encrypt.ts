import type { EncryptionAlgorithmSpec, EncryptRequest, EncryptResponse } from "@aws-sdk/client-kms";
import type { AsymmetricEncryptionAlgorithm } from "../crypto/asymmetric-encryption.js";
import * as asymmetric from "../crypto/asymmetric-encryption.js";
import type { EncryptionContext } from "../crypto/encryption-context.js";
import { ValidationException } from "../domain/errors.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import { isAsymmetric } from "../domain/key-specs.js";
import { asymmetricKey, refuseEncryptionContext, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";
import { encodeContext, sealUnderKey } from "./symmetric-ciphertext.js";

export const encrypt: Operation<EncryptRequest, EncryptResponse> = async (context, input) => {
  const algorithm = input.EncryptionAlgorithm ?? "SYMMETRIC_DEFAULT";
  const encodedContext = encodeContext(input.EncryptionContext);
  const key = await resolveKey(context, input.KeyId as string, "kms:Encrypt", {
    ...encryptionContextConditions(input.EncryptionContext),
    "kms:EncryptionAlgorithm": algorithm,
  });
  const plaintext = input.Plaintext as Uint8Array;
  const asymmetricAlgorithm = requireEncryptionKey(key, algorithm, input.EncryptionContext, "Encrypt");
  if (asymmetricAlgorithm !== undefined) {
    requirePlaintextFits(key, asymmetricAlgorithm, plaintext.length);
    stopIfDryRun(input);
    const ciphertext = await sealUnderAsymmetricKey(context, key, asymmetricAlgorithm, plaintext);
    return { CiphertextBlob: ciphertext, KeyId: keyArn(key), EncryptionAlgorithm: asymmetricAlgorithm };
  }
  stopIfDryRun(input);
  const sealed = await sealUnderKey(context, key, plaintext, encodedContext);
  return { CiphertextBlob: sealed.ciphertext, KeyId: keyArn(key), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
};

/**
 * Encrypt's checks of the key it encrypts under (also ReEncrypt's destination): state, usage, an
 * algorithm the key offers, and no encryption context for a key pair. Answers the asymmetric
 * algorithm to use, or undefined for a symmetric key.
 */
export function requireEncryptionKey(
  key: KmsKey,
  algorithm: EncryptionAlgorithmSpec,
  encryptionContext: EncryptionContext | undefined,
  operation: string,
): AsymmetricEncryptionAlgorithm | undefined {
  if (!isAsymmetric(key.keySpec)) {
    requireSymmetricEncryptionKey(key, operation);
    requireAlgorithm(key, "encryption", algorithm);
    return undefined;
  }
  requireUsage(key, "ENCRYPT_DECRYPT", operation);
  requireAlgorithm(key, "encryption", algorithm);
  refuseEncryptionContext(encryptionContext);
  if (!asymmetric.isAsymmetricEncryptionAlgorithm(algorithm)) throw new Error(`${key.keySpec} offers ${algorithm}`);
  return algorithm;
}

export function requirePlaintextFits(key: KmsKey, algorithm: AsymmetricEncryptionAlgorithm, length: number): void {
  const max = asymmetric.maxPlaintextBytes(key.keySpec, algorithm);
  if (length > max) {
    throw new ValidationException(
      `Algorithm ${algorithm} and key spec ${key.keySpec} cannot encrypt data larger than ${max} bytes.`,
    );
  }
}

export async function sealUnderAsymmetricKey(
  context: OperationContext,
  key: KmsKey,
  algorithm: AsymmetricEncryptionAlgorithm,
  plaintext: Uint8Array,
): Promise<Buffer> {
  return asymmetric.encrypt(await asymmetricKey(context.services, key), key.keySpec, algorithm, plaintext);
}
