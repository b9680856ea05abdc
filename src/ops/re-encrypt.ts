import type { ReEncryptRequest, ReEncryptResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireSymmetricEncryptionKey, resolveKey } from "./key-access.js";
import {
  dryRunIgnoringCiphertext,
  encodeContext,
  openCiphertext,
  requireSymmetricAlgorithm,
  sealUnderKey,
} from "./symmetric-ciphertext.js";

export const reEncrypt: Operation<ReEncryptRequest, ReEncryptResponse> = async (context, input) => {
  const destinationContext = encodeContext(input.DestinationEncryptionContext);
  const destination = await resolveKey(context, input.DestinationKeyId as string, "kms:ReEncryptTo", {
    ...encryptionContextConditions(input.DestinationEncryptionContext),
    "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
  });
  requireSymmetricEncryptionKey(destination, "ReEncrypt");
  requireSymmetricAlgorithm(input.DestinationEncryptionAlgorithm, destination);
  await dryRunIgnoringCiphertext(
    context,
    { ...input, EncryptionAlgorithm: input.SourceEncryptionAlgorithm },
    input.SourceKeyId,
    "SourceKeyId",
    "kms:ReEncryptFrom",
    "ReEncrypt",
  );
  const source = await openCiphertext(
    context,
    input.CiphertextBlob,
    input.SourceEncryptionContext,
    input.SourceKeyId,
    "kms:ReEncryptFrom",
    "ReEncrypt",
  );
  try {
    requireSymmetricAlgorithm(input.SourceEncryptionAlgorithm, source.key);
    stopIfDryRun(input);
    const sealed = await sealUnderKey(context, destination, source.plaintext, destinationContext);
    return {
      CiphertextBlob: sealed.ciphertext,
      SourceKeyId: keyArn(source.key),
      KeyId: keyArn(destination),
      SourceEncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      DestinationEncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      SourceKeyMaterialId: source.keyMaterialId,
      DestinationKeyMaterialId: sealed.keyMaterialId,
    };
  } finally {
    source.plaintext.fill(0);
  }
};
