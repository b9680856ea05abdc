import { constants, privateDecrypt, publicEncrypt } from "node:crypto";
import type { EncryptionAlgorithmSpec, KeySpec } from "@aws-sdk/client-kms";
import { sm2 } from "sm-crypto-v2";
import { derTlv, readDer } from "./der.js";
import type { AsymmetricKey } from "./key-material.js";

/**
 * Public-key encryption as KMS does it for ENCRYPT_DECRYPT key pairs. The ciphertext carries no
 * header: it is exactly what the algorithm defines, so anyone holding the public key (from
 * GetPublicKey) can produce one with standard tools.
 *
 * - RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256: RFC 8017 OAEP, MGF1 with the same hash, empty label;
 *   the ciphertext is k bytes.
 * - SM2PKE (GM/T 0003.4): DER SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3 (SM3, 32 bytes),
 *   OCTET STRING C2 } (GM/T 0009), the form OpenSSL's `pkeyutl -encrypt` writes for SM2.
 */
export type AsymmetricEncryptionAlgorithm = Exclude<EncryptionAlgorithmSpec, "SYMMETRIC_DEFAULT">;

/** The ciphertext is malformed, was made under another key or algorithm, or was modified. */
export class AsymmetricCiphertextError extends Error {}

const OAEP_HASH = { RSAES_OAEP_SHA_1: "sha1", RSAES_OAEP_SHA_256: "sha256" } as const;
const HASH_BYTES = { sha1: 20, sha256: 32 } as const;
const RSA_MODULUS_BYTES: Partial<Record<KeySpec, number>> = { RSA_2048: 256, RSA_3072: 384, RSA_4096: 512 };
const SM2PKE_MAX_PLAINTEXT_BYTES = 1024;
const SM2_COORDINATE_BYTES = 32;
const SM3_BYTES = 32;

export function isAsymmetricEncryptionAlgorithm(
  algorithm: EncryptionAlgorithmSpec | undefined,
): algorithm is AsymmetricEncryptionAlgorithm {
  return algorithm === "RSAES_OAEP_SHA_1" || algorithm === "RSAES_OAEP_SHA_256" || algorithm === "SM2PKE";
}

/** The most plaintext KMS accepts for the key spec and algorithm (k − 2·hLen − 2 for OAEP). */
export function maxPlaintextBytes(keySpec: KeySpec, algorithm: AsymmetricEncryptionAlgorithm): number {
  if (algorithm === "SM2PKE" && keySpec === "SM2") return SM2PKE_MAX_PLAINTEXT_BYTES;
  const modulusBytes = RSA_MODULUS_BYTES[keySpec];
  if (algorithm === "SM2PKE" || modulusBytes === undefined) throw new Error(`${algorithm} cannot use ${keySpec}`);
  return modulusBytes - 2 * HASH_BYTES[OAEP_HASH[algorithm]] - 2;
}

export function encrypt(
  key: AsymmetricKey,
  keySpec: KeySpec,
  algorithm: AsymmetricEncryptionAlgorithm,
  plaintext: Uint8Array,
): Buffer {
  if (plaintext.length > maxPlaintextBytes(keySpec, algorithm)) throw new RangeError("plaintext too large");
  const publicKey = nodeKey(key).publicKey;
  if (algorithm === "SM2PKE") {
    // Mode 1 is C1C3C2: 64 bytes of C1 (x‖y, no 04 prefix), then C3, then C2, as hex.
    const raw = Buffer.from(sm2.doEncrypt(plaintext, sm2KeyHex(key).publicKey, 1), "hex");
    const point = raw.subarray(0, 2 * SM2_COORDINATE_BYTES);
    return derSequence([
      derInteger(point.subarray(0, SM2_COORDINATE_BYTES)),
      derInteger(point.subarray(SM2_COORDINATE_BYTES)),
      derTlv(0x04, raw.subarray(2 * SM2_COORDINATE_BYTES, 2 * SM2_COORDINATE_BYTES + SM3_BYTES)),
      derTlv(0x04, raw.subarray(2 * SM2_COORDINATE_BYTES + SM3_BYTES)),
    ]);
  }
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[algorithm] },
    plaintext,
  );
}

/** Throws AsymmetricCiphertextError for any ciphertext that does not decrypt and authenticate. */
export function decrypt(
  key: AsymmetricKey,
  keySpec: KeySpec,
  algorithm: AsymmetricEncryptionAlgorithm,
  ciphertext: Uint8Array,
): Buffer {
  maxPlaintextBytes(keySpec, algorithm); // refuses a spec the algorithm cannot use
  const privateKey = nodeKey(key).privateKey;
  if (algorithm === "SM2PKE") {
    const { x, y, hash, cipher } = parseSm2Ciphertext(ciphertext);
    const d = sm2KeyHex(key).privateKey;
    // In raw C1C3C2 mode the library reads C1 with fromHex, which checks that the point is on the
    // curve: a point off it would let crafted ciphertexts reveal the private key.
    const rawHex = Buffer.concat([x, y, hash, cipher]).toString("hex");
    let plaintext: Uint8Array;
    try {
      plaintext = sm2.doDecrypt(rawHex, d, 1, { output: "array" });
    } catch {
      throw new AsymmetricCiphertextError("invalid SM2 ciphertext");
    }
    // doDecrypt answers an empty array when C3 does not match; C2 is never empty.
    if (plaintext.length === 0) throw new AsymmetricCiphertextError("SM2 ciphertext does not authenticate");
    return Buffer.from(plaintext);
  }
  try {
    return privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[algorithm] },
      ciphertext,
    );
  } catch {
    throw new AsymmetricCiphertextError("RSA OAEP decryption failed");
  }
}

function nodeKey(key: AsymmetricKey): Extract<AsymmetricKey, { kind: "node" }> {
  if (key.kind !== "node") throw new Error("ML-DSA keys do not encrypt");
  return key;
}

/** The hex forms sm-crypto-v2 takes, from the scalar and point parsed once with the key. */
function sm2KeyHex(key: AsymmetricKey): { privateKey: string; publicKey: string } {
  const parts = nodeKey(key).sm2;
  if (parts === undefined) throw new Error("SM2PKE on a non-SM2 key");
  return { privateKey: parts.privateScalar.toString("hex"), publicKey: parts.publicPoint.toString("hex") };
}

function derSequence(items: Buffer[]): Buffer {
  return derTlv(0x30, Buffer.concat(items));
}

/** A non-negative INTEGER from big-endian bytes, minimally encoded. */
function derInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const content = (trimmed[0] as number) & 0x80 ? Buffer.concat([Buffer.of(0), trimmed]) : Buffer.from(trimmed);
  return derTlv(0x02, content);
}

interface Sm2Ciphertext {
  readonly x: Buffer;
  readonly y: Buffer;
  readonly hash: Buffer;
  readonly cipher: Buffer;
}

/** Strict DER: definite minimal lengths, nothing after the SEQUENCE, coordinates below 2^256. */
function parseSm2Ciphertext(ciphertext: Uint8Array): Sm2Ciphertext {
  try {
    return readSm2Ciphertext(ciphertext);
  } catch (error) {
    throw new AsymmetricCiphertextError(`malformed SM2 ciphertext: ${(error as Error).message}`);
  }
}

function readSm2Ciphertext(ciphertext: Uint8Array): Sm2Ciphertext {
  const bytes = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  const sequence = readTlv(bytes, 0, 0x30);
  if (sequence.end !== bytes.length) throw new Error("trailing bytes after the SM2 ciphertext");
  const body = sequence.content;
  const x = readTlv(body, 0, 0x02);
  const y = readTlv(body, x.end, 0x02);
  const hash = readTlv(body, y.end, 0x04);
  const cipher = readTlv(body, hash.end, 0x04);
  if (cipher.end !== body.length || hash.content.length !== SM3_BYTES || cipher.content.length === 0) {
    throw new Error("malformed SM2 ciphertext");
  }
  return { x: coordinate(x.content), y: coordinate(y.content), hash: hash.content, cipher: cipher.content };
}

function readTlv(bytes: Buffer, offset: number, tag: number): { content: Buffer; end: number } {
  const element = readDer(bytes, offset);
  if (element?.tag !== tag) throw new Error("malformed DER");
  return { content: bytes.subarray(element.start, element.end), end: element.end };
}

/** A DER INTEGER's content as a 32-byte coordinate; negative or oversized values are refused. */
function coordinate(content: Buffer): Buffer {
  if (content.length === 0 || (content[0] as number) & 0x80) throw new Error("bad coordinate");
  const value = content.length === SM2_COORDINATE_BYTES + 1 && content[0] === 0 ? content.subarray(1) : content;
  if (value.length > SM2_COORDINATE_BYTES) throw new Error("bad coordinate");
  return Buffer.concat([Buffer.alloc(SM2_COORDINATE_BYTES - value.length), value]);
}
