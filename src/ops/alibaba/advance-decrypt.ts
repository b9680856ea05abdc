import { blobIv } from "../../crypto/ciphertext.js";
import { IncorrectKeyException, InvalidCiphertextException } from "../../domain/errors.js";
import { keyMaterialId } from "../../domain/key.js";
import type { AlibabaOperation } from "./index.js";
import { invalidCiphertext, openWithIv } from "./iv-ciphertext.js";
import { aadOf, optionalBytes, optionalString, requireAesGcm, requiredBytes } from "./request.js";
import { openAdvance, symmetricKeyOf } from "./sealing.js";

/**
 * Opens an Advance ciphertext from the blob (and Aad) alone, under whichever key version made it.
 * As Alibaba documents, it also opens Encrypt's ciphertexts, which need their KeyId and Iv.
 */
export const advanceDecrypt: AlibabaOperation = async (context, input) => {
  requireAesGcm(input);
  const blob = requiredBytes(input, "CiphertextBlob");
  const keyIdParameter = optionalString(input, "KeyId");
  const iv = optionalBytes(input, "Iv");
  const aad = aadOf(input);
  const resolved = context.resources.length;
  let opened: Awaited<ReturnType<typeof openAdvance>> | undefined;
  try {
    opened = await openAdvance(context, blob, aad, keyIdParameter, "AdvanceDecrypt");
  } catch (error) {
    const notAdvance = error instanceof InvalidCiphertextException || error instanceof IncorrectKeyException;
    if (!notAdvance || iv === undefined || keyIdParameter === undefined) throw error;
  }
  if (opened !== undefined) {
    // An Iv, if given, is a claim about the ciphertext: it must be the one AdvanceEncrypt returned.
    if (iv !== undefined && !blobIv(blob).equals(iv)) {
      opened.plaintext.fill(0);
      throw invalidCiphertext();
    }
    return {
      KeyId: opened.key.keyId,
      Plaintext: opened.plaintext,
      Algorithm: "AES_GCM",
      KeyVersionId: opened.keyMaterialId,
    };
  }
  // Not an Advance blob that opens: Encrypt's format, whose key the request names. Record that key once.
  if (iv === undefined) throw invalidCiphertext();
  context.resources.splice(resolved);
  const key = await symmetricKeyOf(context, input, "kms:Decrypt", "AdvanceDecrypt");
  const { plaintext, version } = await openWithIv(context, key, blob, iv, aad);
  return {
    KeyId: key.keyId,
    Plaintext: plaintext,
    Algorithm: "AES_GCM",
    KeyVersionId: keyMaterialId(key.keyId, version),
  };
};
