import { randomBytes } from "node:crypto";
import type { AlibabaOperation } from "./index.js";
import { aadOf, integerIn, requireAesGcm } from "./request.js";
import { sealLikeEncrypt, symmetricKeyOf } from "./sealing.js";

export const MAX_DATA_KEY_BYTES = 1024;
export const DEFAULT_DATA_KEY_BYTES = 32;

/** A random data key, returned in plaintext and encrypted as Encrypt does (Decrypt opens it with the Iv). */
export const generateDataKey: AlibabaOperation = async (context, input) => {
  requireAesGcm(input);
  const length = integerIn(input, "NumberOfBytes", 1, MAX_DATA_KEY_BYTES, DEFAULT_DATA_KEY_BYTES);
  const key = await symmetricKeyOf(context, input, "kms:GenerateDataKey", "GenerateDataKey");
  const plaintext = randomBytes(length);
  const sealed = await sealLikeEncrypt(context, key, plaintext, aadOf(input));
  return { KeyId: key.keyId, ...sealed, Plaintext: plaintext, Algorithm: "AES_GCM" };
};
