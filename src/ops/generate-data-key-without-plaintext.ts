import type {
  GenerateDataKeyWithoutPlaintextRequest,
  GenerateDataKeyWithoutPlaintextResponse,
} from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { generateDataKeyFor } from "./generate-data-key.js";

export const generateDataKeyWithoutPlaintext: Operation<
  GenerateDataKeyWithoutPlaintextRequest,
  GenerateDataKeyWithoutPlaintextResponse
> = async (context, input) => {
  const { Plaintext, ...withoutPlaintext } = await generateDataKeyFor(
    context,
    input,
    "kms:GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
  );
  Plaintext.fill(0);
  return withoutPlaintext;
};
