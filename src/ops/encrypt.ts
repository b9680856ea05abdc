import type { EncryptRequest, EncryptResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";
import { encodeContext, requireSymmetricAlgorithm, sealUnderKey } from "./symmetric-ciphertext.js";

export const encrypt: Operation<EncryptRequest, EncryptResponse> = async (context, input) => {
  const encodedContext = encodeContext(input.EncryptionContext);
  const key = await resolveKey(context, input.KeyId as string, "kms:Encrypt", {
    ...encryptionContextConditions(input.EncryptionContext),
    "kms:EncryptionAlgorithm": input.EncryptionAlgorithm ?? "SYMMETRIC_DEFAULT",
  });
  requireSymmetricEncryptionKey(key, "Encrypt");
  requireSymmetricAlgorithm(input.EncryptionAlgorithm, key);
  stopIfDryRun(input);
  const sealed = await sealUnderKey(context, key, input.Plaintext as Uint8Array, encodedContext);
  return { CiphertextBlob: sealed.ciphertext, KeyId: keyArn(key), EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
};
