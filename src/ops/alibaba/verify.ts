import { verify as verifySignature } from "../../crypto/signing.js";
import { signingRequest as awsSigningRequest } from "../sign.js";
import type { AlibabaOperation } from "./index.js";
import { requiredBytes } from "./request.js";
import { signingRequest } from "./signing-request.js";

/** Unlike AWS, the instance API answers an invalid signature with Value false, not an error. */
export const verify: AlibabaOperation = async (context, input) => {
  const { algorithm, ...request } = signingRequest(input);
  const signature = requiredBytes(input, "Signature");
  const signing = await awsSigningRequest(context, request, "Verify");
  const value = verifySignature(
    signing.pair,
    signing.key.keySpec,
    signing.algorithm,
    signing.messageType,
    signing.message,
    signature,
  );
  return { KeyId: signing.key.keyId, Value: value, Algorithm: algorithm, MessageType: request.MessageType };
};
