import { dataKeyPairLikeEncrypt } from "./data-key-pair.js";
import type { AlibabaOperation } from "./index.js";

export const generateDataKeyPairWithoutPlaintext: AlibabaOperation = async (context, input) => {
  const { PrivateKeyPlaintext, ...withoutPlaintext } = await dataKeyPairLikeEncrypt(
    context,
    input,
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyPairWithoutPlaintext",
  );
  PrivateKeyPlaintext.fill(0);
  return withoutPlaintext;
};
