import type { DecryptRequest, DecryptResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";
import { openCiphertext, requireSymmetricAlgorithm } from "./symmetric-ciphertext.js";
import { refuseRecipient } from "./unsupported-recipient.js";

export const decrypt: Operation<DecryptRequest, DecryptResponse> = async (context, input) => {
  refuseRecipient(input);
  if (input.DryRun === true && input.DryRunModifiers?.includes("IGNORE_CIPHERTEXT") && input.KeyId !== undefined) {
    // A dry run that ignores the ciphertext checks only the key and the caller's permission.
    const key = await resolveKey(context, input.KeyId, "anyIncludingAlias", "kms:Decrypt");
    requireSymmetricEncryptionKey(key, "Decrypt");
    requireSymmetricAlgorithm(input.EncryptionAlgorithm, key);
    stopIfDryRun(input);
  }
  const opened = await openCiphertext(
    context,
    input.CiphertextBlob as Uint8Array,
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
