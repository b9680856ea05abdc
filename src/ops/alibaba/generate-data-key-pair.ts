import { dataKeyPairLikeEncrypt } from "./data-key-pair.js";
import type { AlibabaOperation } from "./index.js";

export const generateDataKeyPair: AlibabaOperation = (context, input) =>
  dataKeyPairLikeEncrypt(context, input, "kms:GenerateDataKeyPair", "GenerateDataKeyPair");
