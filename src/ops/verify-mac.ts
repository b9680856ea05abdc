import { timingSafeEqual } from "node:crypto";
import type { VerifyMacRequest, VerifyMacResponse } from "@aws-sdk/client-kms";
import { KMSInvalidMacException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { macOf } from "./generate-mac.js";

export const verifyMac: Operation<VerifyMacRequest, VerifyMacResponse> = async (context, input) => {
  const { key, mac } = await macOf(context, input, "kms:VerifyMac", "VerifyMac");
  const given = input.Mac as Uint8Array;
  // The expected length is public (it follows from the algorithm); the bytes are compared in constant time.
  if (given.length !== mac.length || !timingSafeEqual(given, mac)) {
    throw new KMSInvalidMacException("The MAC is not valid for this message, KMS key and MAC algorithm.");
  }
  return { KeyId: keyArn(key), MacValid: true, MacAlgorithm: input.MacAlgorithm };
};
