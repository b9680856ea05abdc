import { randomBytes } from "node:crypto";
import type { GenerateRandomRequest, GenerateRandomResponse } from "@aws-sdk/client-kms";
import { ValidationException } from "../domain/errors.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { randomFromCustomKeyStore } from "./custom-key-store-access.js";
import { sealForRecipient, withRecipient } from "./recipient.js";

export const generateRandom: Operation<GenerateRandomRequest, GenerateRandomResponse> = async (context, input) => {
  if (input.NumberOfBytes === undefined) throw new ValidationException("NumberOfBytes is required.");
  const attested = withRecipient(context, input);
  await authorize(attested, "kms:GenerateRandom", null);
  // With a CustomKeyStoreId, the bytes come from that store's token (it must be CONNECTED).
  const random =
    input.CustomKeyStoreId === undefined
      ? randomBytes(input.NumberOfBytes)
      : await randomFromCustomKeyStore(attested, input.CustomKeyStoreId, input.NumberOfBytes);
  return attested.recipient ? { CiphertextForRecipient: sealForRecipient(attested, random) } : { Plaintext: random };
};
