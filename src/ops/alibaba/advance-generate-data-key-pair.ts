import { dataKeyPairLikeAdvanceEncrypt } from "./data-key-pair.js";
import type { AlibabaOperation } from "./index.js";

export const advanceGenerateDataKeyPair: AlibabaOperation = (context, input) =>
  dataKeyPairLikeAdvanceEncrypt(context, input, "kms:GenerateDataKeyPair", "AdvanceGenerateDataKeyPair");
