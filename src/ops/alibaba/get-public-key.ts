import { getPublicKey as awsGetPublicKey } from "../get-public-key.js";
import type { AlibabaOperation } from "./index.js";
import { pemOf } from "./pem.js";
import { keyIdOfArn, requiredString } from "./request.js";

/** The key's SubjectPublicKeyInfo as PEM text (the instance API's PublicKey is a string). */
export const getPublicKey: AlibabaOperation = async (context, input) => {
  const result = await awsGetPublicKey(context, { KeyId: requiredString(input, "KeyId") });
  return { KeyId: keyIdOfArn(result.KeyId as string), PublicKey: pemOf(result.PublicKey as Uint8Array, "PUBLIC KEY") };
};
