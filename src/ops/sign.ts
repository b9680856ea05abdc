import type { MessageType, SigningAlgorithmSpec, SignRequest, SignResponse } from "@aws-sdk/client-kms";
import { requireMessageType, sign as signMessage } from "../crypto/signing.js";
import { keyArn } from "../domain/key.js";
import { asymmetricKey, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { resolveKey } from "./key-access.js";

/** A signature over a message, or over a digest the caller made, with the private half of an asymmetric key. */
export const sign: Operation<SignRequest, SignResponse> = async (context, input) => {
  const algorithm = input.SigningAlgorithm as SigningAlgorithmSpec;
  const messageType: MessageType = input.MessageType ?? "RAW";
  const message = input.Message as Uint8Array;
  const key = await resolveKey(context, input.KeyId as string, "kms:Sign", {
    "kms:SigningAlgorithm": algorithm,
    "kms:MessageType": messageType,
  });
  requireUsage(key, "SIGN_VERIFY", "Sign");
  requireAlgorithm(key, "signing", algorithm);
  requireMessageType(key.keySpec, algorithm, messageType, message);
  stopIfDryRun(input);
  const pair = await asymmetricKey(context.services, key);
  return {
    KeyId: keyArn(key),
    Signature: signMessage(pair, key.keySpec, algorithm, messageType, message),
    SigningAlgorithm: algorithm,
  };
};
