import type { EncryptionAlgorithmSpec } from "@aws-sdk/client-kms";
import {
  type AsymmetricEncryptionAlgorithm,
  isAsymmetricEncryptionAlgorithm,
} from "../../crypto/asymmetric-encryption.js";
import { ValidationException } from "../../domain/errors.js";
import type { OperationContext } from "../context.js";
import { encrypt as awsEncrypt } from "../encrypt.js";
import type { AlibabaOperation } from "./index.js";
import {
  type AlibabaRequest,
  aadOf,
  keyIdOfArn,
  optionalBytes,
  optionalString,
  requireAesGcm,
  requiredBytes,
  requiredString,
} from "./request.js";
import { sealLikeEncrypt, symmetricKeyOf } from "./sealing.js";

/** AES_GCM under a symmetric key (the caller keeps Iv and Aad), or RSAES_OAEP_* / SM2PKE under a key pair. */
export const encrypt: AlibabaOperation = async (context, input) => {
  const algorithm = optionalString(input, "Algorithm") as EncryptionAlgorithmSpec | undefined;
  if (isAsymmetricEncryptionAlgorithm(algorithm)) return encryptUnderKeyPair(context, input, algorithm);
  requireAesGcm(input);
  const plaintext = requiredBytes(input, "Plaintext");
  const key = await symmetricKeyOf(context, input, "kms:Encrypt", "Encrypt");
  const sealed = await sealLikeEncrypt(context, key, plaintext, aadOf(input), optionalBytes(input, "Iv"));
  return { KeyId: key.keyId, ...sealed, Algorithm: "AES_GCM" };
};

async function encryptUnderKeyPair(
  context: OperationContext,
  input: AlibabaRequest,
  algorithm: AsymmetricEncryptionAlgorithm,
): Promise<Record<string, unknown>> {
  refuseSymmetricParams(input);
  const result = await awsEncrypt(context, {
    KeyId: requiredString(input, "KeyId"),
    Plaintext: requiredBytes(input, "Plaintext"),
    EncryptionAlgorithm: algorithm,
  });
  return { KeyId: keyIdOfArn(result.KeyId as string), CiphertextBlob: result.CiphertextBlob, Algorithm: algorithm };
}

/** Iv, Aad and PaddingMode belong to AES; a key pair's algorithm takes none of them. */
export function refuseSymmetricParams(input: AlibabaRequest): void {
  for (const field of ["Iv", "Aad"]) {
    if (optionalBytes(input, field) !== undefined) {
      throw new ValidationException(`The Param ${field} is invalid: asymmetric encryption takes no ${field}.`);
    }
  }
  if (optionalString(input, "PaddingMode") !== undefined) {
    throw new ValidationException("The Param PaddingMode is invalid: asymmetric encryption takes no PaddingMode.");
  }
}
