import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { InvalidCiphertextException, ValidationException } from "../../domain/errors.js";
import type { KmsKey } from "../../domain/key.js";
import { keyMaterial } from "../asymmetric-access.js";
import type { OperationContext } from "../context.js";

const IV_BYTES = 12;
const SALT_BYTES = 32;
const TAG_BYTES = 16;

/**
 * The non-Advance ciphertext of Alibaba's Encrypt: salt(32) ‖ body ‖ tag(16). The caller keeps the
 * Iv, Aad and KeyId and hands them back to Decrypt, as the instance API defines; the blob names no
 * key version.
 *
 * The backing key never meets GCM directly. Each ciphertext gets its own AES-256 key,
 * HKDF-SHA256(backing key, random salt, "trent/alibaba/encrypt/<keyId>/<version>"), so neither
 * random Ivs nor a caller who repeats an Iv run into GCM's nonce-reuse limit, and the derived key
 * is bound to the key version. Decrypt tries the versions newest first: under the wrong version the
 * GCM tag fails, which is a clean "not this one".
 */
function sealWithIv(
  backingKey: Buffer,
  key: KmsKey,
  version: number,
  plaintext: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const salt = randomBytes(SALT_BYTES);
  const dataKey = deriveKey(backingKey, salt, key, version);
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
  dataKey.fill(0);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([salt, body, cipher.getAuthTag()]);
}

/** The caller's Iv (12 bytes, AES_GCM's length) or a fresh random one. */
export function ivFor(given: Uint8Array | undefined): Uint8Array {
  if (given === undefined) return randomBytes(IV_BYTES);
  requireIvLength(given);
  return given;
}

export function requireIvLength(iv: Uint8Array): void {
  if (iv.length !== IV_BYTES) {
    throw new ValidationException(`The Param Iv is invalid: AES_GCM takes a ${IV_BYTES}-byte Iv, not ${iv.length}.`);
  }
}

/** Encrypts under the key's current version. */
export async function sealUnderCurrentVersion(
  context: OperationContext,
  key: KmsKey,
  plaintext: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
): Promise<Buffer> {
  const backingKey = await keyMaterial(context.services, key);
  return sealWithIv(backingKey, key, key.currentVersion, plaintext, iv, aad);
}

/** Decrypts a non-Advance ciphertext of `key`, trying its versions newest first. */
export async function openWithIv(
  context: OperationContext,
  key: KmsKey,
  blob: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
): Promise<{ plaintext: Buffer; version: number }> {
  requireIvLength(iv);
  if (blob.length < SALT_BYTES + TAG_BYTES) throw invalidCiphertext();
  const salt = blob.subarray(0, SALT_BYTES);
  const body = blob.subarray(SALT_BYTES, blob.length - TAG_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  for (let version = key.currentVersion; version >= 1; version--) {
    const backingKey = await context.services.backingKeys.get(key, version);
    if (!backingKey) continue;
    const dataKey = deriveKey(backingKey, salt, key, version);
    const decipher = createDecipheriv("aes-256-gcm", dataKey, iv);
    dataKey.fill(0);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(body);
    try {
      decipher.final();
      return { plaintext, version };
    } catch {
      plaintext.fill(0);
    }
  }
  throw invalidCiphertext();
}

function deriveKey(backingKey: Buffer, salt: Uint8Array, key: KmsKey, version: number): Buffer {
  return Buffer.from(hkdfSync("sha256", backingKey, salt, `trent/alibaba/encrypt/${key.keyId}/${version}`, 32));
}

export function invalidCiphertext(): InvalidCiphertextException {
  return new InvalidCiphertextException(
    "The ciphertext is invalid, or its KeyId, Iv or Aad is not the one it was encrypted with.",
  );
}
