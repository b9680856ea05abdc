import type { ReEncryptRequest, ReEncryptResponse } from "@aws-sdk/client-kms";
import { isAsymmetricEncryptionAlgorithm } from "../crypto/asymmetric-encryption.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation } from "./context.js";
import { explainAsymmetricKeyId, openAsymmetricCiphertext } from "./decrypt.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireEncryptionKey, requirePlaintextFits, sealUnderAsymmetricKey } from "./encrypt.js";
import { resolveKey } from "./key-access.js";
import { dryRunIgnoringCiphertext, encodeContext, openCiphertext, sealUnderKey } from "./symmetric-ciphertext.js";

/** Decrypt under the source key, then Encrypt under the destination; either may be a key pair. */
export const reEncrypt: Operation<ReEncryptRequest, ReEncryptResponse> = async (context, input) => {
  const destinationAlgorithm = input.DestinationEncryptionAlgorithm ?? "SYMMETRIC_DEFAULT";
  const destinationContext = encodeContext(input.DestinationEncryptionContext);
  const destination = await resolveKey(context, input.DestinationKeyId as string, "kms:ReEncryptTo", {
    ...encryptionContextConditions(input.DestinationEncryptionContext),
    "kms:EncryptionAlgorithm": destinationAlgorithm,
  });
  const destinationAsymmetric = requireEncryptionKey(
    destination,
    destinationAlgorithm,
    input.DestinationEncryptionContext,
    "ReEncrypt",
  );

  const sourceAlgorithm = input.SourceEncryptionAlgorithm;
  let source: { key: KmsKey; plaintext: Buffer; keyMaterialId?: string };
  if (isAsymmetricEncryptionAlgorithm(sourceAlgorithm)) {
    source = await openAsymmetricCiphertext(context, {
      ...input,
      EncryptionContext: input.SourceEncryptionContext,
      keyIdParameter: input.SourceKeyId,
      keyIdMember: "SourceKeyId",
      algorithm: sourceAlgorithm,
      algorithmMember: "SourceEncryptionAlgorithm",
      action: "kms:ReEncryptFrom",
      operation: "ReEncrypt",
    });
  } else {
    await dryRunIgnoringCiphertext(
      context,
      { ...input, EncryptionAlgorithm: sourceAlgorithm },
      input.SourceKeyId,
      "SourceKeyId",
      "kms:ReEncryptFrom",
      "ReEncrypt",
    );
    source = await explainAsymmetricKeyId(
      context,
      input.SourceKeyId,
      sourceAlgorithm,
      "kms:ReEncryptFrom",
      "ReEncrypt",
      () =>
        openCiphertext(
          context,
          input.CiphertextBlob,
          input.SourceEncryptionContext,
          input.SourceKeyId,
          "kms:ReEncryptFrom",
          "ReEncrypt",
        ),
    );
  }
  try {
    if (destinationAsymmetric !== undefined) {
      requirePlaintextFits(destination, destinationAsymmetric, source.plaintext.length);
    }
    stopIfDryRun(input);
    const sealed =
      destinationAsymmetric === undefined
        ? await sealUnderKey(context, destination, source.plaintext, destinationContext)
        : {
            ciphertext: await sealUnderAsymmetricKey(context, destination, destinationAsymmetric, source.plaintext),
            keyMaterialId: undefined,
          };
    return {
      CiphertextBlob: sealed.ciphertext,
      SourceKeyId: keyArn(source.key),
      KeyId: keyArn(destination),
      SourceEncryptionAlgorithm: sourceAlgorithm ?? "SYMMETRIC_DEFAULT",
      DestinationEncryptionAlgorithm: destinationAsymmetric ?? "SYMMETRIC_DEFAULT",
      // Key material ids belong to symmetric keys only.
      ...(source.keyMaterialId === undefined ? {} : { SourceKeyMaterialId: source.keyMaterialId }),
      ...(sealed.keyMaterialId === undefined ? {} : { DestinationKeyMaterialId: sealed.keyMaterialId }),
    };
  } finally {
    source.plaintext.fill(0);
  }
};
