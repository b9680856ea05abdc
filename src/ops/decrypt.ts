import type { DecryptRequest, DecryptResponse, EncryptionAlgorithmSpec } from "@aws-sdk/client-kms";
import * as asymmetric from "../crypto/asymmetric-encryption.js";
import { AsymmetricCiphertextError, type AsymmetricEncryptionAlgorithm } from "../crypto/asymmetric-encryption.js";
import type { EncryptionContext } from "../crypto/encryption-context.js";
import {
  IncorrectKeyException,
  InvalidCiphertextException,
  InvalidKeyUsageException,
  ValidationException,
} from "../domain/errors.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import { isAsymmetric } from "../domain/key-specs.js";
import { asymmetricKey, refuseEncryptionContext, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { resolveKey } from "./key-access.js";
import { sealForRecipient, withRecipient } from "./recipient.js";
import { dryRunIgnoringCiphertext, openCiphertext, requireSymmetricAlgorithm } from "./symmetric-ciphertext.js";

export const decrypt: Operation<DecryptRequest, DecryptResponse> = async (context, input) => {
  const attested = withRecipient(context, input);
  const answer = await decryptFor(attested, input);
  if (!attested.recipient) return answer;
  // As AWS answers a Recipient: the plaintext only sealed to the enclave, and no KeyMaterialId.
  const { Plaintext, KeyMaterialId: _omitted, ...rest } = answer;
  return { ...rest, CiphertextForRecipient: sealForRecipient(attested, Buffer.from(Plaintext as Uint8Array)) };
};

async function decryptFor(
  context: OperationContext,
  input: DecryptRequest,
): Promise<DecryptResponse & { Plaintext: Uint8Array }> {
  const algorithm = input.EncryptionAlgorithm;
  if (asymmetric.isAsymmetricEncryptionAlgorithm(algorithm)) {
    const opened = await openAsymmetricCiphertext(context, {
      ...input,
      keyIdParameter: input.KeyId,
      keyIdMember: "KeyId",
      algorithm,
      algorithmMember: "EncryptionAlgorithm",
      action: "kms:Decrypt",
      operation: "Decrypt",
    });
    try {
      stopIfDryRun(input);
    } catch (error) {
      opened.plaintext.fill(0);
      throw error;
    }
    return { KeyId: keyArn(opened.key), Plaintext: opened.plaintext, EncryptionAlgorithm: algorithm };
  }
  await dryRunIgnoringCiphertext(context, input, input.KeyId, "KeyId", "kms:Decrypt", "Decrypt");
  const opened = await explainAsymmetricKeyId(context, input.KeyId, algorithm, "kms:Decrypt", "Decrypt", () =>
    openCiphertext(context, input.CiphertextBlob, input.EncryptionContext, input.KeyId, "kms:Decrypt", "Decrypt"),
  );
  try {
    requireSymmetricAlgorithm(input.EncryptionAlgorithm, opened.key);
    stopIfDryRun(input);
  } catch (error) {
    opened.plaintext.fill(0);
    throw error;
  }
  return {
    KeyId: keyArn(opened.key),
    Plaintext: opened.plaintext,
    EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    KeyMaterialId: opened.keyMaterialId,
  };
}

export interface AsymmetricCiphertextRequest {
  readonly CiphertextBlob?: Uint8Array | undefined;
  readonly EncryptionContext?: EncryptionContext | undefined;
  readonly DryRun?: boolean | undefined;
  readonly DryRunModifiers?: string[] | undefined;
  readonly keyIdParameter: string | undefined;
  readonly keyIdMember: string;
  readonly algorithm: AsymmetricEncryptionAlgorithm;
  readonly algorithmMember: string;
  readonly action: string;
  readonly operation: string;
}

/**
 * Decrypts a ciphertext made under a key pair (by KMS or by anyone with the public key). It
 * carries no header, so the request must name the key and the algorithm; a ciphertext that does
 * not decrypt under them is InvalidCiphertextException. A dry run with IGNORE_CIPHERTEXT stops
 * before decrypting.
 */
export async function openAsymmetricCiphertext(
  context: OperationContext,
  request: AsymmetricCiphertextRequest,
): Promise<{ key: KmsKey; plaintext: Buffer }> {
  const { algorithm, keyIdParameter } = request;
  if (request.CiphertextBlob === undefined) {
    throw new ValidationException(
      "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null",
    );
  }
  // AWS answers InvalidCiphertextException when it cannot tell; here the request says why it cannot work.
  if (keyIdParameter === undefined) {
    throw new ValidationException(
      `${request.keyIdMember} is required when ${request.algorithmMember} is ${algorithm}: a ciphertext made with a key pair does not name its key.`,
    );
  }
  const key = await resolveKey(context, keyIdParameter, request.action, {
    ...encryptionContextConditions(request.EncryptionContext),
    "kms:EncryptionAlgorithm": algorithm,
  });
  requireUsage(key, "ENCRYPT_DECRYPT", request.operation);
  requireAlgorithm(key, "encryption", algorithm);
  refuseEncryptionContext(request.EncryptionContext);
  if (request.DryRunModifiers?.includes("IGNORE_CIPHERTEXT")) stopIfDryRun(request);
  const keyPair = await asymmetricKey(context.services, key);
  try {
    return { key, plaintext: asymmetric.decrypt(keyPair, key.keySpec, algorithm, request.CiphertextBlob) };
  } catch (error) {
    if (error instanceof AsymmetricCiphertextError) {
      throw new InvalidCiphertextException(
        `The ciphertext is invalid or was not made with ${algorithm} under ${keyArn(key)}.`,
      );
    }
    throw error;
  }
}

/**
 * Runs the symmetric decryption; when it fails on the ciphertext and the request's KeyId names a
 * key pair, the real mistake is the missing (or SYMMETRIC_DEFAULT) algorithm, and that is the
 * error the caller gets. Without permission on that key the original error stands.
 */
export async function explainAsymmetricKeyId<T>(
  context: OperationContext,
  keyIdParameter: string | undefined,
  algorithm: EncryptionAlgorithmSpec | undefined,
  action: string,
  operation: string,
  attempt: () => Promise<T>,
): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (keyIdParameter === undefined) throw error;
    if (!(error instanceof InvalidCiphertextException || error instanceof IncorrectKeyException)) throw error;
    const resolved = context.resources.length;
    let key: KmsKey;
    try {
      key = await resolveKey(context, keyIdParameter, action, {
        "kms:EncryptionAlgorithm": algorithm ?? "SYMMETRIC_DEFAULT",
      });
    } catch {
      throw error;
    }
    // The attempt may already have resolved this KeyId: record the key once.
    const first = context.resources.indexOf(keyArn(key));
    if (first !== -1 && first < resolved) context.resources.splice(resolved);
    if (!isAsymmetric(key.keySpec)) throw error;
    requireUsage(key, "ENCRYPT_DECRYPT", operation);
    throw new InvalidKeyUsageException(`Algorithm SYMMETRIC_DEFAULT is incompatible with key spec ${key.keySpec}.`);
  }
}
