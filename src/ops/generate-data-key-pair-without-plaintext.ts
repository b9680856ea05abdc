import type {
  GenerateDataKeyPairWithoutPlaintextRequest,
  GenerateDataKeyPairWithoutPlaintextResponse,
} from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { generateDataKeyPairFor } from "./generate-data-key-pair.js";

export const generateDataKeyPairWithoutPlaintext: Operation<
  GenerateDataKeyPairWithoutPlaintextRequest,
  GenerateDataKeyPairWithoutPlaintextResponse
> = async (context, input) => {
  const { PrivateKeyPlaintext, ...withoutPlaintext } = await generateDataKeyPairFor(
    context,
    input,
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyPairWithoutPlaintext",
  );
  PrivateKeyPlaintext.fill(0);
  return withoutPlaintext;
};
