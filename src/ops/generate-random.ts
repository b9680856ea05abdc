import { randomBytes } from "node:crypto";
import type { GenerateRandomRequest, GenerateRandomResponse } from "@aws-sdk/client-kms";
import { UnsupportedOperationException, ValidationException } from "../domain/errors.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { sealForRecipient, withRecipient } from "./recipient.js";

export const generateRandom: Operation<GenerateRandomRequest, GenerateRandomResponse> = async (context, input) => {
  if (input.NumberOfBytes === undefined) throw new ValidationException("NumberOfBytes is required.");
  if (input.CustomKeyStoreId !== undefined) {
    throw new UnsupportedOperationException("Trent does not support custom key stores.");
  }
  const attested = withRecipient(context, input);
  await authorize(attested, "kms:GenerateRandom", null);
  const random = randomBytes(input.NumberOfBytes);
  return attested.recipient ? { CiphertextForRecipient: sealForRecipient(attested, random) } : { Plaintext: random };
};
