import { dataKeyPairLikeAdvanceEncrypt } from "./data-key-pair.js";
import type { AlibabaOperation } from "./index.js";

export const advanceGenerateDataKeyPairWithoutPlaintext: AlibabaOperation = async (context, input) => {
  const { PrivateKeyPlaintext, ...withoutPlaintext } = await dataKeyPairLikeAdvanceEncrypt(
    context,
    input,
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "AdvanceGenerateDataKeyPairWithoutPlaintext",
  );
  PrivateKeyPlaintext.fill(0);
  return withoutPlaintext;
};
