import type { MessageType, SigningAlgorithmSpec, VerifyRequest, VerifyResponse } from "@aws-sdk/client-kms";
import { requireMessageType, verify as verifySignature } from "../crypto/signing.js";
import { KMSInvalidSignatureException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import { asymmetricKey, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { resolveKey } from "./key-access.js";

/** Checks a signature with the key's public half; AWS answers an invalid one with an error, not SignatureValid false. */
export const verify: Operation<VerifyRequest, VerifyResponse> = async (context, input) => {
  const algorithm = input.SigningAlgorithm as SigningAlgorithmSpec;
  const messageType: MessageType = input.MessageType ?? "RAW";
  const message = input.Message as Uint8Array;
  const key = await resolveKey(context, input.KeyId as string, "kms:Verify", {
    "kms:SigningAlgorithm": algorithm,
    "kms:MessageType": messageType,
  });
  requireUsage(key, "SIGN_VERIFY", "Verify");
  requireAlgorithm(key, "signing", algorithm);
  requireMessageType(key.keySpec, algorithm, messageType, message);
  stopIfDryRun(input);
  const pair = await asymmetricKey(context.services, key);
  if (!verifySignature(pair, key.keySpec, algorithm, messageType, message, input.Signature as Uint8Array)) {
    throw new KMSInvalidSignatureException("The signature is not valid.");
  }
  return { KeyId: keyArn(key), SignatureValid: true, SigningAlgorithm: algorithm };
};
