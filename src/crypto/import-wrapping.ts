import { constants, createDecipheriv, createPrivateKey, privateDecrypt } from "node:crypto";
import type { AlgorithmSpec, WrappingKeySpec } from "@aws-sdk/client-kms";
import { AsymmetricCiphertextError, decrypt as asymmetricDecrypt } from "./asymmetric-encryption.js";
import { asymmetricKeyFrom } from "./key-material.js";

/** The encrypted key material does not decrypt under the token's wrapping key (AWS: InvalidCiphertextException). */
export class UnwrapError extends Error {}

const OAEP_HASH: Partial<Record<AlgorithmSpec, string>> = {
  RSAES_OAEP_SHA_1: "sha1",
  RSAES_OAEP_SHA_256: "sha256",
  RSA_AES_KEY_WRAP_SHA_1: "sha1",
  RSA_AES_KEY_WRAP_SHA_256: "sha256",
};
const MODULUS_BYTES: Partial<Record<WrappingKeySpec, number>> = { RSA_2048: 256, RSA_3072: 384, RSA_4096: 512 };
/** RFC 5649's alternative initial value: the 32-bit prefix A65959A6, followed by the length. */
const KWP_IV = Buffer.from("A65959A6", "hex");
const AES_KWP: Record<number, string> = {
  16: "id-aes128-wrap-pad",
  24: "id-aes192-wrap-pad",
  32: "id-aes256-wrap-pad",
};

/**
 * Recovers key material wrapped for import, as AWS's "Encrypt the key material" step makes it:
 *
 * - RSAES_OAEP_SHA_1 / _256: RSA-OAEP (MGF1 with the same hash, empty label) of the material.
 * - RSA_AES_KEY_WRAP_SHA_1 / _256 (PKCS #11 CKM_RSA_AES_KEY_WRAP): the RSA-OAEP encryption of an
 *   ephemeral AES key (k bytes, k the modulus length), followed by the material wrapped under
 *   that key with AES key wrap with padding (RFC 5649), what `openssl enc -id-aes256-wrap-pad
 *   -iv A65959A6` writes.
 * - SM2PKE: the SM2 public-key encryption (GM/T 0003.4, DER C1C3C2) of the material.
 */
export function unwrapKeyMaterial(
  algorithm: AlgorithmSpec,
  wrappingKeySpec: WrappingKeySpec,
  privateKeyDer: Buffer,
  encrypted: Uint8Array,
): Buffer {
  const ciphertext = Buffer.from(encrypted.buffer, encrypted.byteOffset, encrypted.byteLength);
  if (algorithm === "SM2PKE") {
    try {
      return asymmetricDecrypt(asymmetricKeyFrom("SM2", privateKeyDer), "SM2", "SM2PKE", ciphertext);
    } catch (error) {
      if (error instanceof AsymmetricCiphertextError) throw new UnwrapError(error.message);
      throw error;
    }
  }
  const hash = OAEP_HASH[algorithm];
  const modulusBytes = MODULUS_BYTES[wrappingKeySpec];
  if (hash === undefined || modulusBytes === undefined)
    throw new UnwrapError(`${algorithm} is not an import wrapping algorithm`);
  const privateKey = createPrivateKey({ key: privateKeyDer, format: "der", type: "pkcs8" });
  const rsaOaep = (bytes: Buffer) => {
    if (bytes.length !== modulusBytes) throw new UnwrapError("the RSA ciphertext is not as long as the modulus");
    try {
      return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, bytes);
    } catch {
      throw new UnwrapError("RSA-OAEP decryption failed");
    }
  };
  if (algorithm === "RSAES_OAEP_SHA_1" || algorithm === "RSAES_OAEP_SHA_256") return rsaOaep(ciphertext);
  const aesKey = rsaOaep(ciphertext.subarray(0, modulusBytes));
  try {
    return aesKeyUnwrapWithPadding(aesKey, ciphertext.subarray(modulusBytes));
  } finally {
    aesKey.fill(0);
  }
}

/** RFC 5649 unwrap; throws UnwrapError when the integrity check fails. */
export function aesKeyUnwrapWithPadding(aesKey: Buffer, wrapped: Buffer): Buffer {
  const cipher = AES_KWP[aesKey.length];
  if (cipher === undefined) throw new UnwrapError("the ephemeral AES key must be 128, 192 or 256 bits");
  // The shortest wrap of one byte is 16 bytes; every wrap is a multiple of 8.
  if (wrapped.length < 16 || wrapped.length % 8 !== 0)
    throw new UnwrapError("the AES-wrapped key material is malformed");
  try {
    const decipher = createDecipheriv(cipher, aesKey, KWP_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    throw new UnwrapError("AES key unwrap failed its integrity check");
  }
}
