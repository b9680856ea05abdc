import type { VerifyRequest, VerifyResponse } from "@aws-sdk/client-kms";
import { verify as verifySignature } from "../crypto/signing.js";
import { KMSInvalidSignatureException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { signingRequest } from "./sign.js";

/** Checks a signature with the key's public half; AWS answers an invalid one with an error, not SignatureValid false. */
export const verify: Operation<VerifyRequest, VerifyResponse> = async (context, input) => {
  const { key, pair, algorithm, messageType, message } = await signingRequest(context, input, "Verify");
  if (!verifySignature(pair, key.keySpec, algorithm, messageType, message, input.Signature as Uint8Array)) {
    throw new KMSInvalidSignatureException("The signature is not valid.");
  }
  return { KeyId: keyArn(key), SignatureValid: true, SigningAlgorithm: algorithm };
};
