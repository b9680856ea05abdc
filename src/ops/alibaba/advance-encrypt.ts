import { ValidationException } from "../../domain/errors.js";
import type { AlibabaOperation } from "./index.js";
import { aadOf, optionalBytes, requireAesGcm, requiredBytes } from "./request.js";
import { sealLikeAdvanceEncrypt, symmetricKeyOf } from "./sealing.js";

/** A self-describing ciphertext under the key's current version; only AdvanceDecrypt opens it. */
export const advanceEncrypt: AlibabaOperation = async (context, input) => {
  requireAesGcm(input);
  const plaintext = requiredBytes(input, "Plaintext");
  // The blob carries its own random IV and per-ciphertext key; a caller's Iv would be silently unused.
  if (optionalBytes(input, "Iv") !== undefined) {
    throw new ValidationException("The Param Iv is invalid: AdvanceEncrypt chooses its own Iv; leave it unset.");
  }
  const key = await symmetricKeyOf(context, input, "kms:Encrypt", "AdvanceEncrypt");
  const sealed = await sealLikeAdvanceEncrypt(context, key, plaintext, aadOf(input));
  return { KeyId: key.keyId, ...sealed, Algorithm: "AES_GCM" };
};
