import type { MessageType, SigningAlgorithmSpec, SignRequest, SignResponse } from "@aws-sdk/client-kms";
import type { AsymmetricKey } from "../crypto/key-material.js";
import { requireMessageType, sign as signMessage } from "../crypto/signing.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import { asymmetricKey, requireAlgorithm, requireUsage } from "./asymmetric-access.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { resolveKey } from "./key-access.js";

export interface SigningRequest {
  readonly key: KmsKey;
  readonly pair: AsymmetricKey;
  readonly algorithm: SigningAlgorithmSpec;
  readonly messageType: MessageType;
  readonly message: Uint8Array;
}

/** What Sign and Verify share: the key, its usage and algorithm, the message type, and the DryRun stop. */
export async function signingRequest(
  context: OperationContext,
  input: SignRequest,
  operation: "Sign" | "Verify",
): Promise<SigningRequest> {
  const algorithm = input.SigningAlgorithm as SigningAlgorithmSpec;
  const messageType: MessageType = input.MessageType ?? "RAW";
  const message = input.Message as Uint8Array;
  const key = await resolveKey(context, input.KeyId as string, `kms:${operation}`, {
    "kms:SigningAlgorithm": algorithm,
    "kms:MessageType": messageType,
  });
  requireUsage(key, "SIGN_VERIFY", operation);
  requireAlgorithm(key, "signing", algorithm);
  requireMessageType(key.keySpec, algorithm, messageType, message);
  stopIfDryRun(input);
  return { key, pair: await asymmetricKey(context.services, key), algorithm, messageType, message };
}

/** A signature over a message, or over a digest the caller made, with the private half of an asymmetric key. */
export const sign: Operation<SignRequest, SignResponse> = async (context, input) => {
  const { key, pair, algorithm, messageType, message } = await signingRequest(context, input, "Sign");
  return {
    KeyId: keyArn(key),
    Signature: signMessage(pair, key.keySpec, algorithm, messageType, message),
    SigningAlgorithm: algorithm,
  };
};
