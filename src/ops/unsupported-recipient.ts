import { UnsupportedOperationException } from "../domain/errors.js";

/** Attested recipients (Nitro Enclaves) are not implemented yet; refuse rather than ignore them. */
export function refuseRecipient(input: { Recipient?: unknown }): void {
  if (input.Recipient !== undefined) {
    throw new UnsupportedOperationException("Trent does not support the Recipient parameter yet.");
  }
}
