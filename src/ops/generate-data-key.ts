import { randomBytes } from "node:crypto";
import type { GenerateDataKeyRequest, GenerateDataKeyResponse } from "@aws-sdk/client-kms";
import { ValidationException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";
import { sealForRecipient, withRecipient } from "./recipient.js";
import { encodeContext, sealUnderKey } from "./symmetric-ciphertext.js";

const KEY_SPEC_BYTES = { AES_128: 16, AES_256: 32 } as const;

/** The shared body of GenerateDataKey and GenerateDataKeyWithoutPlaintext. */
export async function generateDataKeyFor(
  context: OperationContext,
  input: GenerateDataKeyRequest,
  action: string,
  operation: string,
): Promise<{ CiphertextBlob: Buffer; Plaintext: Buffer; KeyId: string; KeyMaterialId: string }> {
  if ((input.KeySpec === undefined) === (input.NumberOfBytes === undefined)) {
    throw new ValidationException("Specify either KeySpec or NumberOfBytes, but not both.");
  }
  const length = input.KeySpec !== undefined ? KEY_SPEC_BYTES[input.KeySpec] : (input.NumberOfBytes as number);
  const encodedContext = encodeContext(input.EncryptionContext);
  const key = await resolveKey(
    context,
    input.KeyId as string,
    action,
    // The algorithm that protects the data key, as KMS documents kms:EncryptionAlgorithm here.
    { ...encryptionContextConditions(input.EncryptionContext), "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT" },
  );
  requireSymmetricEncryptionKey(key, operation);
  stopIfDryRun(input);
  const plaintext = randomBytes(length);
  const sealed = await sealUnderKey(context, key, plaintext, encodedContext);
  return {
    CiphertextBlob: sealed.ciphertext,
    Plaintext: plaintext,
    KeyId: keyArn(key),
    KeyMaterialId: sealed.keyMaterialId,
  };
}

export const generateDataKey: Operation<GenerateDataKeyRequest, GenerateDataKeyResponse> = async (context, input) => {
  const attested = withRecipient(context, input);
  const dataKey = await generateDataKeyFor(attested, input, "kms:GenerateDataKey", "GenerateDataKey");
  if (!attested.recipient) return dataKey;
  // As AWS answers a Recipient: the data key only sealed to the enclave, and no KeyMaterialId.
  const { Plaintext, KeyMaterialId: _omitted, ...rest } = dataKey;
  return { ...rest, CiphertextForRecipient: sealForRecipient(attested, Plaintext) };
};
