import { randomBytes } from "node:crypto";
import { DEFAULT_DATA_KEY_BYTES, MAX_DATA_KEY_BYTES } from "./generate-data-key.js";
import type { AlibabaOperation } from "./index.js";
import { aadOf, integerIn } from "./request.js";
import { sealLikeAdvanceEncrypt, symmetricKeyOf } from "./sealing.js";

/** A random data key, encrypted as AdvanceEncrypt does (AdvanceDecrypt opens it from the blob alone). */
export const advanceGenerateDataKey: AlibabaOperation = async (context, input) => {
  const length = integerIn(input, "NumberOfBytes", 1, MAX_DATA_KEY_BYTES, DEFAULT_DATA_KEY_BYTES);
  const key = await symmetricKeyOf(context, input, "kms:GenerateDataKey", "AdvanceGenerateDataKey");
  const plaintext = randomBytes(length);
  const sealed = await sealLikeAdvanceEncrypt(context, key, plaintext, aadOf(input));
  return { KeyId: key.keyId, ...sealed, Plaintext: plaintext, Algorithm: "AES_GCM" };
};
