import { generateRandom as awsGenerateRandom } from "../generate-random.js";
import type { AlibabaOperation } from "./index.js";
import { integerIn } from "./request.js";

/** The instance API's documented range for Length. */
const MAX_RANDOM_BYTES = 1024;

export const generateRandom: AlibabaOperation = async (context, input) => {
  const length = integerIn(input, "Length", 1, MAX_RANDOM_BYTES);
  const { Plaintext } = await awsGenerateRandom(context, { NumberOfBytes: length });
  return { Random: Plaintext };
};
