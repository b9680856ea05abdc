import {
  constants,
  createHash,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  privateDecrypt,
  privateEncrypt,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import type { KeySpec, MessageType, SigningAlgorithmSpec } from "@aws-sdk/client-kms";
import { DER } from "@noble/curves/abstract/weierstrass.js";
import { ed25519ph } from "@noble/curves/ed25519.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sm2 } from "sm-crypto-v2";
import { ValidationException } from "../domain/errors.js";
import { type AsymmetricKey, ML_DSA } from "./key-material.js";

type Hash = "sha256" | "sha384" | "sha512";
const HASH_BYTES: Readonly<Record<Hash, number>> = { sha256: 32, sha384: 48, sha512: 64 };

type Scheme =
  | { readonly kind: "pkcs1" | "pss" | "ecdsa"; readonly hash: Hash }
  | { readonly kind: "ed25519" | "ed25519ph" | "sm2" | "ml-dsa" };

const SCHEMES: Readonly<Record<SigningAlgorithmSpec, Scheme>> = {
  RSASSA_PKCS1_V1_5_SHA_256: { kind: "pkcs1", hash: "sha256" },
  RSASSA_PKCS1_V1_5_SHA_384: { kind: "pkcs1", hash: "sha384" },
  RSASSA_PKCS1_V1_5_SHA_512: { kind: "pkcs1", hash: "sha512" },
  RSASSA_PSS_SHA_256: { kind: "pss", hash: "sha256" },
  RSASSA_PSS_SHA_384: { kind: "pss", hash: "sha384" },
  RSASSA_PSS_SHA_512: { kind: "pss", hash: "sha512" },
  ECDSA_SHA_256: { kind: "ecdsa", hash: "sha256" },
  ECDSA_SHA_384: { kind: "ecdsa", hash: "sha384" },
  ECDSA_SHA_512: { kind: "ecdsa", hash: "sha512" },
  ED25519_SHA_512: { kind: "ed25519" },
  ED25519_PH_SHA_512: { kind: "ed25519ph" },
  SM2DSA: { kind: "sm2" },
  ML_DSA_SHAKE_256: { kind: "ml-dsa" },
};

/** The message types each scheme accepts, and the exact length of a DIGEST or EXTERNAL_MU message. */
function messageRule(scheme: Scheme): { readonly types: readonly MessageType[]; readonly bytes: number } {
  switch (scheme.kind) {
    case "pkcs1":
    case "pss":
    case "ecdsa":
      return { types: ["RAW", "DIGEST"], bytes: HASH_BYTES[scheme.hash] };
    case "ed25519":
      return { types: ["RAW"], bytes: 0 };
    case "ed25519ph":
      return { types: ["DIGEST"], bytes: 64 };
    case "sm2":
      // An SM3 hash of Z‖M, which the caller computed.
      return { types: ["RAW", "DIGEST"], bytes: 32 };
    case "ml-dsa":
      // EXTERNAL_MU is μ, FIPS 204's 64-byte message representative.
      return { types: ["RAW", "EXTERNAL_MU"], bytes: 64 };
  }
}

/** AWS's checks of MessageType and a digest's length, made before anything is signed or verified. */
export function requireMessageType(
  keySpec: KeySpec,
  algorithm: SigningAlgorithmSpec,
  messageType: MessageType,
  message: Uint8Array,
): void {
  const rule = messageRule(SCHEMES[algorithm]);
  if (algorithm === "ML_DSA_SHAKE_256" && messageType === "DIGEST") {
    throw new ValidationException(`Message type DIGEST is incompatible with key spec ${keySpec}.`);
  }
  if (!rule.types.includes(messageType)) {
    throw new ValidationException(`Message type ${messageType} is incompatible with algorithm ${algorithm}.`);
  }
  if (messageType !== "RAW" && message.length !== rule.bytes) {
    throw new ValidationException(`Digest is invalid length for algorithm ${algorithm}.`);
  }
}

/** Signs as KMS does: the encodings are AWS's (PKCS#1 bytes, DER for ECDSA and SM2, raw for EdDSA and ML-DSA). */
export function sign(
  key: AsymmetricKey,
  keySpec: KeySpec,
  algorithm: SigningAlgorithmSpec,
  messageType: MessageType,
  message: Uint8Array,
): Buffer {
  requireMessageType(keySpec, algorithm, messageType, message);
  const scheme = SCHEMES[algorithm];
  if (scheme.kind === "ml-dsa") {
    const { level, secretKey } = mlDsaKey(key);
    // Deterministic, so that an EXTERNAL_MU signature equals the RAW one, as AWS documents.
    const signature =
      messageType === "EXTERNAL_MU"
        ? ML_DSA[level].internal.sign(message, secretKey, { externalMu: true, extraEntropy: false })
        : ML_DSA[level].sign(message, secretKey, { extraEntropy: false });
    return Buffer.from(signature);
  }
  const { privateKey } = nodeKey(key);
  switch (scheme.kind) {
    case "pkcs1":
      return privateEncrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
        digestInfo(scheme.hash, digestOf(scheme.hash, messageType, message)),
      );
    case "pss": {
      const em = emsaPssEncode(scheme.hash, digestOf(scheme.hash, messageType, message), modulusBits(privateKey));
      return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em);
    }
    case "ecdsa": {
      const digest = digestOf(scheme.hash, messageType, message);
      return Buffer.from(
        ecdsaCurve(keySpec).sign(digest, ecPrivateScalar(privateKey), { prehash: false, format: "der" }),
      );
    }
    case "ed25519":
      return nodeSign(null, message, privateKey);
    case "ed25519ph":
      // KMS takes the caller's digest as Ed25519ph's message and hashes it once more (FIPS 186-5 §7.8.1).
      return Buffer.from(ed25519ph.sign(message, ed25519Seed(privateKey)));
    case "sm2": {
      const { d, publicPoint } = sm2Key(key);
      const signature = sm2.doSignature(message, d, { der: true, hash: messageType === "RAW", publicKey: publicPoint });
      return Buffer.from(signature, "hex");
    }
  }
}

/** True when the signature is valid; malformed signature bytes are simply not valid. */
export function verify(
  key: AsymmetricKey,
  keySpec: KeySpec,
  algorithm: SigningAlgorithmSpec,
  messageType: MessageType,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  requireMessageType(keySpec, algorithm, messageType, message);
  try {
    return verifyChecked(key, keySpec, SCHEMES[algorithm], messageType, message, signature);
  } catch (error) {
    if (error instanceof KeyMismatchError) throw error;
    return false;
  }
}

function verifyChecked(
  key: AsymmetricKey,
  keySpec: KeySpec,
  scheme: Scheme,
  messageType: MessageType,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (scheme.kind === "ml-dsa") {
    const { level, publicKey } = mlDsaKey(key);
    return messageType === "EXTERNAL_MU"
      ? ML_DSA[level].internal.verify(signature, message, publicKey, { externalMu: true })
      : ML_DSA[level].verify(signature, message, publicKey);
  }
  const { publicKey } = nodeKey(key);
  switch (scheme.kind) {
    case "pkcs1": {
      const em = rsaPublic(publicKey, signature);
      const digest = digestOf(scheme.hash, messageType, message);
      return em !== undefined && equalBytes(em, emsaPkcs1Encode(digestInfo(scheme.hash, digest), em.length));
    }
    case "pss": {
      const em = rsaPublic(publicKey, signature);
      const digest = digestOf(scheme.hash, messageType, message);
      return em !== undefined && emsaPssVerify(scheme.hash, digest, em, modulusBits(publicKey));
    }
    case "ecdsa": {
      const digest = digestOf(scheme.hash, messageType, message);
      // AWS does not require low-S; neither do we.
      return ecdsaCurve(keySpec).verify(signature, digest, ecPublicPoint(publicKey), {
        prehash: false,
        format: "der",
        lowS: false,
      });
    }
    case "ed25519":
      return nodeVerify(null, message, publicKey, signature);
    case "ed25519ph":
      return ed25519ph.verify(signature, message, ed25519PublicKey(publicKey), { zip215: false });
    case "sm2": {
      const { publicPoint } = sm2Key(key);
      const { r, s } = DER.toSig(signature);
      if (r < 1n || r >= SM2_ORDER || s < 1n || s >= SM2_ORDER) return false;
      const compact = r.toString(16).padStart(64, "0") + s.toString(16).padStart(64, "0");
      return sm2.doVerifySignature(message, compact, publicPoint, { hash: messageType === "RAW" });
    }
  }
}

/** The key's material does not fit its spec: a bug or corruption, never an invalid signature. */
class KeyMismatchError extends Error {}

function mlDsaKey(key: AsymmetricKey): Extract<AsymmetricKey, { kind: "ml-dsa" }> {
  if (key.kind !== "ml-dsa") throw new KeyMismatchError("ML-DSA algorithm on a non-ML-DSA key");
  return key;
}

function nodeKey(key: AsymmetricKey): Extract<AsymmetricKey, { kind: "node" }> {
  if (key.kind !== "node") throw new KeyMismatchError("ML-DSA key used with another algorithm");
  return key;
}

function digestOf(hash: Hash, messageType: MessageType, message: Uint8Array): Buffer {
  return messageType === "DIGEST" ? Buffer.from(message) : createHash(hash).update(message).digest();
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// --- RSA (RFC 8017) ---

/** DER DigestInfo headers of RFC 8017 §9.2, note 1. */
const DIGEST_INFO: Readonly<Record<Hash, Buffer>> = {
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  sha512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

function digestInfo(hash: Hash, digest: Buffer): Buffer {
  return Buffer.concat([DIGEST_INFO[hash], digest]);
}

function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new KeyMismatchError("RSA algorithm on a non-RSA key");
  return bits;
}

/** s^e mod n, as k bytes; undefined when the signature is not an integer below n of the modulus's length. */
function rsaPublic(publicKey: KeyObject, signature: Uint8Array): Buffer | undefined {
  if (signature.length !== Math.ceil(modulusBits(publicKey) / 8)) return undefined;
  return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
}

/** EMSA-PKCS1-v1_5: 00 01 FF…FF 00 DigestInfo. */
function emsaPkcs1Encode(info: Buffer, length: number): Buffer {
  const em = Buffer.alloc(length, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[length - info.length - 1] = 0x00;
  info.copy(em, length - info.length);
  return em;
}

function mgf1(hash: Hash, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * HASH_BYTES[hash] < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** H = Hash(0x00×8 ‖ mHash ‖ salt). */
function pssHash(hash: Hash, digest: Buffer, salt: Buffer): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with MGF1 of the same hash and, as KMS, a salt as long as the hash; k bytes. */
function emsaPssEncode(hash: Hash, digest: Buffer, modBits: number): Buffer {
  const hLen = HASH_BYTES[hash];
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = pssHash(hash, digest, salt);
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - 2 * hLen - 2] = 0x01;
  salt.copy(db, emLen - 2 * hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([db, h, Buffer.of(0xbc)]);
  const k = Math.ceil(modBits / 8);
  return k === emLen ? em : Buffer.concat([Buffer.alloc(k - emLen), em]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) of the k-byte s^e mod n, with a salt as long as the hash. */
function emsaPssVerify(hash: Hash, digest: Buffer, block: Buffer, modBits: number): boolean {
  const hLen = HASH_BYTES[hash];
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (block.length > emLen && block[0] !== 0) return false;
  const em = block.subarray(block.length - emLen);
  if (emLen < 2 * hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const topBits = 0xff >> (8 * emLen - emBits);
  if (((em[0] as number) & ~topBits) !== 0) return false;
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & topBits;
  const separator = emLen - 2 * hLen - 2;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 0x01) return false;
  return equalBytes(h, pssHash(hash, digest, db.subarray(separator + 1)));
}

// --- Elliptic curves ---

function ecdsaCurve(keySpec: KeySpec): typeof p256 {
  switch (keySpec) {
    case "ECC_NIST_P256":
      return p256;
    case "ECC_NIST_P384":
      return p384;
    case "ECC_NIST_P521":
      return p521;
    case "ECC_SECG_P256K1":
      return secp256k1;
    default:
      throw new KeyMismatchError(`no ECDSA curve for ${keySpec}`);
  }
}

const jwks = new WeakMap<KeyObject, { d?: string; x?: string; y?: string }>();

function jwkOf(key: KeyObject): { d?: string; x?: string; y?: string } {
  let jwk = jwks.get(key);
  if (jwk === undefined) {
    jwk = key.export({ format: "jwk" });
    jwks.set(key, jwk);
  }
  return jwk;
}

function jwkBytes(value: string | undefined): Buffer {
  if (value === undefined) throw new KeyMismatchError("key has no such JWK member");
  return Buffer.from(value, "base64url");
}

function ecPrivateScalar(privateKey: KeyObject): Buffer {
  return jwkBytes(jwkOf(privateKey).d);
}

function ecPublicPoint(publicKey: KeyObject): Buffer {
  const jwk = jwkOf(publicKey);
  return Buffer.concat([Buffer.of(0x04), jwkBytes(jwk.x), jwkBytes(jwk.y)]);
}

function ed25519Seed(privateKey: KeyObject): Buffer {
  return jwkBytes(jwkOf(privateKey).d);
}

function ed25519PublicKey(publicKey: KeyObject): Buffer {
  return jwkBytes(jwkOf(publicKey).x);
}

const SM2_ORDER = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
/** The hex forms sm-crypto-v2 takes, from the scalar and point parsed once with the key. */
function sm2Key(key: AsymmetricKey): { d: string; publicPoint: string } {
  const parts = nodeKey(key).sm2;
  if (parts === undefined) throw new KeyMismatchError("SM2 algorithm on a non-SM2 key");
  return { d: parts.privateScalar.toString("hex"), publicPoint: parts.publicPoint.toString("hex") };
}
