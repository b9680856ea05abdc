import type { DecryptRequest, DecryptResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { dryRunIgnoringCiphertext, openCiphertext, requireSymmetricAlgorithm } from "./symmetric-ciphertext.js";
import { refuseRecipient } from "./unsupported-recipient.js";

export const decrypt: Operation<DecryptRequest, DecryptResponse> = async (context, input) => {
  refuseRecipient(input);
  await dryRunIgnoringCiphertext(context, input, input.KeyId, "KeyId", "kms:Decrypt", "Decrypt");
  const opened = await openCiphertext(
    context,
    input.CiphertextBlob,
    input.EncryptionContext,
    input.KeyId,
    "kms:Decrypt",
    "Decrypt",
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
};
