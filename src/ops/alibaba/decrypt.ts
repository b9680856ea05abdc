import type { EncryptionAlgorithmSpec } from "@aws-sdk/client-kms";
import {
  type AsymmetricEncryptionAlgorithm,
  isAsymmetricEncryptionAlgorithm,
} from "../../crypto/asymmetric-encryption.js";
import type { OperationContext } from "../context.js";
import { decrypt as awsDecrypt } from "../decrypt.js";
import { refuseSymmetricParams } from "./encrypt.js";
import type { AlibabaOperation } from "./index.js";
import { openWithIv } from "./iv-ciphertext.js";
import {
  type AlibabaRequest,
  aadOf,
  keyIdOfArn,
  optionalString,
  requireAesGcm,
  requiredBytes,
  requiredString,
} from "./request.js";
import { symmetricKeyOf } from "./sealing.js";

/** Opens Encrypt's ciphertext with the KeyId, Iv and Aad it was made with (or a key pair's, by its algorithm). */
export const decrypt: AlibabaOperation = async (context, input) => {
  const algorithm = optionalString(input, "Algorithm") as EncryptionAlgorithmSpec | undefined;
  if (isAsymmetricEncryptionAlgorithm(algorithm)) return decryptUnderKeyPair(context, input, algorithm);
  requireAesGcm(input);
  const blob = requiredBytes(input, "CiphertextBlob");
  const iv = requiredBytes(input, "Iv");
  const key = await symmetricKeyOf(context, input, "kms:Decrypt", "Decrypt");
  const { plaintext } = await openWithIv(context, key, blob, iv, aadOf(input));
  return { KeyId: key.keyId, Plaintext: plaintext, Algorithm: "AES_GCM" };
};

async function decryptUnderKeyPair(
  context: OperationContext,
  input: AlibabaRequest,
  algorithm: AsymmetricEncryptionAlgorithm,
): Promise<Record<string, unknown>> {
  refuseSymmetricParams(input);
  const result = await awsDecrypt(context, {
    KeyId: requiredString(input, "KeyId"),
    CiphertextBlob: requiredBytes(input, "CiphertextBlob"),
    EncryptionAlgorithm: algorithm,
  });
  return { KeyId: keyIdOfArn(result.KeyId as string), Plaintext: result.Plaintext, Algorithm: algorithm };
}
