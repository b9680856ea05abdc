import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/**
 * Trent's symmetric ciphertext blob (docs/ciphertext-format.md):
 *
 *   version(1)=1 | keyType(1)=1 | keyIdLength(1) | keyId | keyVersion(4, BE) | salt(32) | iv(12) | body | tag(16)
 *
 * Every ciphertext gets its own AES-256-GCM key, HKDF-SHA256(backing key, salt, header), so the
 * number of ciphertexts per backing key is not bounded by GCM's random-IV limit. The header
 * (everything before `body`) and the canonical encryption context are the associated data: any
 * change to the blob, or a different context, fails authentication.
 */
export const CIPHERTEXT_FORMAT_VERSION = 1;
export const KEY_TYPE_SYMMETRIC_AES_256_GCM = 1;
/** The same layout, with the content key derived inside a PKCS#11 token (keys in a custom key store). */
export const KEY_TYPE_TOKEN_DERIVED_AES_256_GCM = 2;
/** Every key type this version reads, for a reader that learns the key (and its kind) from the header. */
export const ANY_KEY_TYPE: readonly number[] = [KEY_TYPE_SYMMETRIC_AES_256_GCM, KEY_TYPE_TOKEN_DERIVED_AES_256_GCM];

/** A ciphertext's content key from its salt and the header bytes before the salt (computed where the key lives). */
export type ContentKeyDerivation = (salt: Buffer, info: Buffer) => Buffer;

const SALT_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FIXED_HEADER_BYTES = 3;
const KEY_ID_CHARACTERS = /^[0-9a-z-]+$/;
const MAX_KEY_VERSION = 0x7fffffff;

export interface CiphertextHeader {
  readonly keyId: string;
  readonly keyVersion: number;
  /** KEY_TYPE_SYMMETRIC_AES_256_GCM unless given. */
  readonly keyType?: number;
}

export class MalformedCiphertextError extends Error {}

export function encryptBlob(
  backingKey: Buffer | ContentKeyDerivation,
  header: CiphertextHeader,
  plaintext: Uint8Array,
  encodedContext: Buffer,
): Buffer {
  const keyId = Buffer.from(header.keyId, "ascii");
  if (keyId.length === 0 || keyId.length > 255) throw new RangeError("key id length out of range");
  if (!Number.isInteger(header.keyVersion) || header.keyVersion < 1 || header.keyVersion > MAX_KEY_VERSION) {
    throw new RangeError("key version out of range");
  }
  const head = Buffer.allocUnsafe(FIXED_HEADER_BYTES + keyId.length + 4 + SALT_BYTES + IV_BYTES);
  head[0] = CIPHERTEXT_FORMAT_VERSION;
  head[1] = header.keyType ?? KEY_TYPE_SYMMETRIC_AES_256_GCM;
  head[2] = keyId.length;
  keyId.copy(head, FIXED_HEADER_BYTES);
  let offset = FIXED_HEADER_BYTES + keyId.length;
  head.writeUInt32BE(header.keyVersion, offset);
  offset += 4;
  randomBytes(SALT_BYTES + IV_BYTES).copy(head, offset);
  const salt = head.subarray(offset, offset + SALT_BYTES);
  const iv = head.subarray(offset + SALT_BYTES);

  const dataKey = contentKey(backingKey, salt, head.subarray(0, offset));
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
  dataKey.fill(0);
  cipher.setAAD(head);
  cipher.setAAD(encodedContext);
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

/** Reads the header without authenticating it; `decryptBlob` authenticates everything. */
export function parseBlobHeader(
  blob: Uint8Array,
  keyTypes: readonly number[] = [KEY_TYPE_SYMMETRIC_AES_256_GCM],
): CiphertextHeader {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < FIXED_HEADER_BYTES) throw new MalformedCiphertextError("too short");
  if (b[0] !== CIPHERTEXT_FORMAT_VERSION || !keyTypes.includes(b[1] as number)) {
    throw new MalformedCiphertextError("unknown format");
  }
  const keyIdLength = b[2] as number;
  if (keyIdLength === 0 || b.length < headerLength(keyIdLength) + TAG_BYTES) {
    throw new MalformedCiphertextError("too short");
  }
  const keyId = b.toString("latin1", FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + keyIdLength);
  if (!KEY_ID_CHARACTERS.test(keyId)) throw new MalformedCiphertextError("invalid key id");
  const keyVersion = b.readUInt32BE(FIXED_HEADER_BYTES + keyIdLength);
  // Versions count up from 1 and are stored as signed 32-bit integers: anything else was never issued.
  if (keyVersion === 0 || keyVersion > MAX_KEY_VERSION) throw new MalformedCiphertextError("invalid key version");
  return b[1] === KEY_TYPE_SYMMETRIC_AES_256_GCM
    ? { keyId, keyVersion }
    : { keyId, keyVersion, keyType: b[1] as number };
}

/** The blob's GCM IV, for an edge that reports it (Alibaba's Advance responses); the header must parse. */
export function blobIv(blob: Uint8Array): Buffer {
  const { keyId } = parseBlobHeader(blob);
  const start = FIXED_HEADER_BYTES + keyId.length + 4 + SALT_BYTES;
  return Buffer.from(blob.subarray(start, start + IV_BYTES));
}

/** Returns the plaintext, or throws MalformedCiphertextError when anything fails to authenticate. */
export function decryptBlob(
  backingKey: Buffer | ContentKeyDerivation,
  blob: Uint8Array,
  encodedContext: Buffer,
  keyType = KEY_TYPE_SYMMETRIC_AES_256_GCM,
): Buffer {
  parseBlobHeader(blob, [keyType]);
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const keyIdLength = b[2] as number;
  const headEnd = headerLength(keyIdLength);
  const saltStart = FIXED_HEADER_BYTES + keyIdLength + 4;
  const head = b.subarray(0, headEnd);
  const dataKey = contentKey(backingKey, b.subarray(saltStart, saltStart + SALT_BYTES), b.subarray(0, saltStart));
  const decipher = createDecipheriv("aes-256-gcm", dataKey, b.subarray(saltStart + SALT_BYTES, headEnd));
  dataKey.fill(0);
  decipher.setAAD(head);
  decipher.setAAD(encodedContext);
  decipher.setAuthTag(b.subarray(b.length - TAG_BYTES));
  const plaintext = decipher.update(b.subarray(headEnd, b.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw new MalformedCiphertextError("authentication failed");
  }
  return plaintext;
}

function headerLength(keyIdLength: number): number {
  return FIXED_HEADER_BYTES + keyIdLength + 4 + SALT_BYTES + IV_BYTES;
}

const HKDF_FIRST_BLOCK = Buffer.of(1);

function contentKey(backingKey: Buffer | ContentKeyDerivation, salt: Buffer, info: Buffer): Buffer {
  return typeof backingKey === "function" ? backingKey(salt, info) : deriveCiphertextKey(backingKey, salt, info);
}

/**
 * HKDF-SHA256 (RFC 5869) of one 32-byte block: extract, then the first expand block. The same
 * bytes as `hkdfSync(..., 32)` (a unit test holds them equal), at a third of its cost, which
 * builds key objects on every call.
 */
function deriveCiphertextKey(backingKey: Buffer, salt: Buffer, info: Buffer): Buffer {
  const pseudoRandomKey = createHmac("sha256", salt).update(backingKey).digest();
  const key = createHmac("sha256", pseudoRandomKey).update(info).update(HKDF_FIRST_BLOCK).digest();
  pseudoRandomKey.fill(0);
  return key;
}
