import { blobIv } from "../../crypto/ciphertext.js";
import type { KmsKey } from "../../domain/key.js";
import type { RequestConditions } from "../../policy/authorizer.js";
import type { OperationContext } from "../context.js";
import { requireSymmetricEncryptionKey, resolveKey } from "../key-access.js";
import { type OpenedCiphertext, openBlob, sealUnderKey } from "../symmetric-ciphertext.js";
import { ivFor, sealUnderCurrentVersion } from "./iv-ciphertext.js";
import { type AlibabaRequest, requiredString } from "./request.js";

/**
 * The request's KeyId, resolved and authorized for `action`, as a usable symmetric encryption key.
 * The Aad is not an encryption context, so it gives no kms:EncryptionContext conditions.
 */
export async function symmetricKeyOf(
  context: OperationContext,
  input: AlibabaRequest,
  action: string,
  operation: string,
  conditions: RequestConditions = {},
): Promise<KmsKey> {
  const key = await resolveKey(context, requiredString(input, "KeyId"), action, {
    ...conditions,
    "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
  });
  requireSymmetricEncryptionKey(key, operation);
  return key;
}

/** As Encrypt does: a non-Advance ciphertext and the Iv the caller must keep with it. */
export async function sealLikeEncrypt(
  context: OperationContext,
  key: KmsKey,
  plaintext: Uint8Array,
  aad: Uint8Array,
  givenIv?: Uint8Array,
): Promise<{ CiphertextBlob: Buffer; Iv: Uint8Array }> {
  const iv = ivFor(givenIv);
  return { CiphertextBlob: await sealUnderCurrentVersion(context, key, plaintext, iv, aad), Iv: iv };
}

/**
 * As AdvanceEncrypt does: Trent's self-describing blob (key id and version inside), with the Aad as
 * its associated context. The domain tag keeps an Alibaba Aad from ever encoding like an AWS
 * encryption context (those begin with a 4-byte pair count far below 0x41000000), so a ciphertext
 * made on one edge cannot be opened as the other's.
 */
export async function sealLikeAdvanceEncrypt(
  context: OperationContext,
  key: KmsKey,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<{ CiphertextBlob: Buffer; Iv: Buffer; KeyVersionId: string }> {
  const sealed = await sealUnderKey(context, key, plaintext, boundAad(aad));
  return { CiphertextBlob: sealed.ciphertext, Iv: blobIv(sealed.ciphertext), KeyVersionId: sealed.keyMaterialId };
}

/** Opens an Advance blob under whichever key version it names; `keyIdParameter`, if given, must name its key. */
export function openAdvance(
  context: OperationContext,
  blob: Uint8Array,
  aad: Uint8Array,
  keyIdParameter: string | undefined,
  operation: string,
): Promise<OpenedCiphertext> {
  return openBlob(
    context,
    blob,
    boundAad(aad),
    { "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT" },
    keyIdParameter,
    "kms:Decrypt",
    operation,
  );
}

const ALIBABA_AAD_TAG = Buffer.from("A", "ascii");

function boundAad(aad: Uint8Array): Buffer {
  return Buffer.concat([ALIBABA_AAD_TAG, aad]);
}
