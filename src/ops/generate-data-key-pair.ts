import type { GenerateDataKeyPairRequest, GenerateDataKeyPairResponse } from "@aws-sdk/client-kms";
import type { DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import { UnsupportedOperationException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";
import { sealForRecipient, withRecipient } from "./recipient.js";
import { encodeContext, sealUnderKey } from "./symmetric-ciphertext.js";

/** The shared body of GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext. */
export async function generateDataKeyPairFor(
  context: OperationContext,
  input: GenerateDataKeyPairRequest,
  action: string,
  operation: string,
) {
  const spec = input.KeyPairSpec as DataKeyPairSpec;
  if (spec === "SM2" && !context.services.allowSm2) {
    throw new UnsupportedOperationException("SM2 key pairs are not enabled on this Trent.");
  }
  const encodedContext = encodeContext(input.EncryptionContext);
  const key = await resolveKey(context, input.KeyId as string, action, {
    ...encryptionContextConditions(input.EncryptionContext),
    "kms:DataKeyPairSpec": spec,
    "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
  });
  requireSymmetricEncryptionKey(key, operation);
  stopIfDryRun(input);
  const pair = await context.services.keyPairs.take(spec);
  const sealed = await sealUnderKey(context, key, pair.privateKey, encodedContext);
  return {
    PrivateKeyCiphertextBlob: sealed.ciphertext,
    PrivateKeyPlaintext: pair.privateKey,
    PublicKey: pair.publicKey,
    KeyId: keyArn(key),
    KeyPairSpec: spec,
    KeyMaterialId: sealed.keyMaterialId,
  };
}

export const generateDataKeyPair: Operation<GenerateDataKeyPairRequest, GenerateDataKeyPairResponse> = async (
  context,
  input,
) => {
  const attested = withRecipient(context, input);
  const pair = await generateDataKeyPairFor(attested, input, "kms:GenerateDataKeyPair", "GenerateDataKeyPair");
  if (!attested.recipient) return pair;
  const { PrivateKeyPlaintext, ...rest } = pair;
  return { ...rest, CiphertextForRecipient: sealForRecipient(attested, PrivateKeyPlaintext) };
};
