import type { RecipientInfo } from "@aws-sdk/client-kms";
import { AttestationError, type VerifiedAttestation } from "../attestation/nitro-attestation.js";
import { envelopeForRecipient } from "../crypto/cms-envelope.js";
import { ValidationException } from "../domain/errors.js";
import type { OperationContext } from "./context.js";

/**
 * A request's `Recipient`: an attestation document from a Nitro Enclave. Verified before anything
 * else (DryRun included), so its measurements can be conditions of the authorization, and so a
 * secret is only ever sealed to a key an attested enclave holds.
 */
export function withRecipient(
  context: OperationContext,
  input: { Recipient?: RecipientInfo | undefined },
): OperationContext {
  const recipient = input.Recipient;
  if (recipient === undefined) return context;
  if (recipient.KeyEncryptionAlgorithm !== undefined && recipient.KeyEncryptionAlgorithm !== "RSAES_OAEP_SHA_256") {
    throw new ValidationException("Recipient KeyEncryptionAlgorithm must be RSAES_OAEP_SHA_256.");
  }
  if (recipient.AttestationDocument === undefined) {
    throw new ValidationException("Recipient must carry an AttestationDocument.");
  }
  try {
    return { ...context, recipient: context.services.attestation.verify(recipient.AttestationDocument) };
  } catch (error) {
    if (error instanceof AttestationError) {
      throw new ValidationException(`The Recipient's attestation document is not valid: ${error.message}`);
    }
    throw error;
  }
}

/** The condition keys of a verified document: the image hash (PCR0) and every PCR, in lower-case hex. */
export function recipientConditions(attestation: VerifiedAttestation | undefined): Record<string, string> {
  if (attestation === undefined) return {};
  const conditions: Record<string, string> = {};
  for (const [index, value] of attestation.pcrs) {
    conditions[`kms:RecipientAttestation:PCR${index}`] = value.toString("hex");
  }
  const image = attestation.pcrs.get(0);
  if (image !== undefined) conditions["kms:RecipientAttestation:ImageSha384"] = image.toString("hex");
  return conditions;
}

/** The secret as CMS EnvelopedData for the attested enclave's key; the plaintext is wiped. */
export function sealForRecipient(context: OperationContext, plaintext: Buffer): Buffer {
  const recipient = context.recipient;
  if (recipient === undefined) throw new Error("no attested recipient in this request");
  try {
    return envelopeForRecipient(plaintext, recipient.publicKey);
  } finally {
    plaintext.fill(0);
  }
}
