import type { MacAlgorithmSpec } from "@aws-sdk/client-kms";
import { keyAlgorithms } from "../../domain/key-specs.js";
import { macOf } from "../generate-mac.js";
import { findKey } from "../key-access.js";
import type { AlibabaOperation } from "./index.js";
import { requiredBytes, requiredString } from "./request.js";

/**
 * The HMAC of a message under an HMAC key. The request names no algorithm: each HMAC key spec
 * has exactly one, which is looked up first so that kms:MacAlgorithm conditions apply as on AWS.
 */
export const hmac: AlibabaOperation = async (context, input) => {
  const keyId = requiredString(input, "KeyId");
  const message = requiredBytes(input, "Message");
  const found = await findKey(context, keyId);
  // A key of another usage has no MAC algorithm; macOf then refuses it for its usage.
  const algorithm: MacAlgorithmSpec = keyAlgorithms(found.keySpec, found.keyUsage).mac?.[0] ?? "HMAC_SHA_256";
  const { key, mac } = await macOf(
    context,
    { KeyId: keyId, MacAlgorithm: algorithm, Message: message },
    "kms:GenerateMac",
    "Hmac",
  );
  return { KeyId: key.keyId, Signature: mac };
};
