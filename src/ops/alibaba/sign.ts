import { sign as awsSign } from "../sign.js";
import type { AlibabaOperation } from "./index.js";
import { keyIdOfArn } from "./request.js";
import { signingRequest } from "./signing-request.js";

export const sign: AlibabaOperation = async (context, input) => {
  const { algorithm, ...request } = signingRequest(input);
  const result = await awsSign(context, request);
  return {
    KeyId: keyIdOfArn(result.KeyId as string),
    Signature: result.Signature,
    Algorithm: algorithm,
    MessageType: request.MessageType,
  };
};
