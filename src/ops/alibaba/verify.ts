import { KMSInvalidSignatureException } from "../../domain/errors.js";
import { verify as awsVerify } from "../verify.js";
import type { AlibabaOperation } from "./index.js";
import { keyIdOfArn, requiredBytes } from "./request.js";
import { signingRequest } from "./signing-request.js";

/** Unlike AWS, the instance API answers an invalid signature with Value false, not an error. */
export const verify: AlibabaOperation = async (context, input) => {
  const { algorithm, ...request } = signingRequest(input);
  const signature = requiredBytes(input, "Signature");
  let value = true;
  try {
    await awsVerify(context, { ...request, Signature: signature });
  } catch (error) {
    if (!(error instanceof KMSInvalidSignatureException)) throw error;
    value = false;
  }
  // Verify resolved the key (and recorded its ARN) before it checked the signature.
  const keyArn = context.resources.at(-1) as string;
  return { KeyId: keyIdOfArn(keyArn), Value: value, Algorithm: algorithm, MessageType: request.MessageType };
};
