import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import type { KeySpec } from "@aws-sdk/client-kms";
import { sm2 } from "sm-crypto-v2";
import { keySpecInfo } from "../domain/key-specs.js";
import { ecPrivateScalar, readDer, readDerChild } from "./der.js";
import { ML_DSA } from "./key-material.js";

/** The material does not fit the key spec (AWS: IncorrectKeyMaterialException). */
export class UnfitKeyMaterialError extends Error {}

/** Imported material as Trent keeps it, and the canonical bytes that say which key it is. */
export interface AcceptedKeyMaterial {
  /** What BackingKeys wraps: the bytes for symmetric and HMAC keys, the PKCS#8 DER, the ML-DSA seed. */
  readonly material: Buffer;
  /**
   * The same for every encoding of one key: the bytes themselves, the public key (SPKI DER) of a
   * key pair, the ML-DSA seed. Two imports are the same material exactly when these are equal.
   */
  readonly identity: Buffer;
}

const SYMMETRIC_KEY_BYTES = 32;
const HMAC_MAX_BYTES = 64;
const ML_DSA_SEED_BYTES = 32;
/** Node's names for the curves of the ECC key specs. */
const CURVES: Partial<Record<KeySpec, string>> = {
  ECC_NIST_P256: "prime256v1",
  ECC_NIST_P384: "secp384r1",
  ECC_NIST_P521: "secp521r1",
  ECC_SECG_P256K1: "secp256k1",
};
/** AlgorithmIdentifier content of an SM2 key: id-ecPublicKey, then the SM2 curve OID. */
const SM2_ALGORITHM = "06072a8648ce3d020106082a811ccf5501822d";
const RSA_BITS: Partial<Record<KeySpec, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };
/** id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17–19), as DER content. */
const ML_DSA_OID = { 44: "608648016503040311", 65: "608648016503040312", 87: "608648016503040313" } as const;

/**
 * Checks imported material against AWS's requirements for the key spec ("Requirements for
 * imported key material"): 256 bits for a symmetric key; for HMAC keys from the spec's length up
 * to 64 bytes; for key pairs a DER PKCS#8 private key of exactly the spec, whose halves match.
 */
export function acceptKeyMaterial(keySpec: KeySpec, plaintext: Buffer): AcceptedKeyMaterial {
  const kind = keySpecInfo(keySpec).material;
  switch (kind.kind) {
    case "symmetric":
      if (plaintext.length !== SYMMETRIC_KEY_BYTES) {
        throw new UnfitKeyMaterialError(`Key material for ${keySpec} must be 256 bits (32 bytes).`);
      }
      return { material: plaintext, identity: plaintext };
    case "hmac":
      if (plaintext.length < kind.bytes || plaintext.length > HMAC_MAX_BYTES) {
        throw new UnfitKeyMaterialError(
          `Key material for ${keySpec} must be ${kind.bytes} to ${HMAC_MAX_BYTES} bytes long; it is ${plaintext.length}.`,
        );
      }
      return { material: plaintext, identity: plaintext };
    case "ml-dsa": {
      const seed = mlDsaSeed(kind.level, plaintext);
      return { material: seed, identity: seed };
    }
    case "pkcs8":
      return { material: plaintext, identity: keyPairIdentity(keySpec, plaintext) };
  }
}

function keyPairIdentity(keySpec: KeySpec, der: Buffer): Buffer {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch {
    throw new UnfitKeyMaterialError(`Key material for ${keySpec} must be a DER-encoded PKCS #8 private key.`);
  }
  const details = privateKey.asymmetricKeyDetails ?? {};
  const fits =
    keySpec === "SM2"
      ? isSm2PrivateKeyInfo(der)
      : keySpec === "ECC_NIST_EDWARDS25519"
        ? privateKey.asymmetricKeyType === "ed25519"
        : RSA_BITS[keySpec] !== undefined
          ? privateKey.asymmetricKeyType === "rsa" && details.modulusLength === RSA_BITS[keySpec]
          : privateKey.asymmetricKeyType === "ec" && details.namedCurve === CURVES[keySpec];
  if (!fits) throw new UnfitKeyMaterialError(`The private key is not a ${keySpec} key.`);
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ type: "spki", format: "der" });
  if (!halvesMatch(keySpec, der, privateKey, publicKey, spki)) {
    throw new UnfitKeyMaterialError("The private key is inconsistent: its public half does not match it.");
  }
  return spki;
}

/**
 * A PKCS#8 file may carry a public key that is not the private key's, and OpenSSL checks little
 * of an RSA key when loading it: a test signature proves the pair before it becomes a KMS key.
 */
function halvesMatch(keySpec: KeySpec, der: Buffer, privateKey: KeyObject, publicKey: KeyObject, spki: Buffer) {
  const message = Buffer.from("trent: imported key material pairwise consistency test");
  try {
    if (keySpec === "SM2") {
      // Node has no SM2 signatures: the point must be the scalar's.
      const scalar = ecPrivateScalar(der).toString("hex").padStart(64, "0");
      const point = sm2.getPublicKeyFromPrivateKey(scalar);
      return point.toLowerCase() === spki.subarray(spki.length - 65).toString("hex");
    }
    const hash = keySpec === "ECC_NIST_EDWARDS25519" ? null : "sha256";
    return verify(hash, message, publicKey, sign(hash, message, privateKey));
  } catch {
    return false;
  }
}

/** SM2 keys are id-ecPublicKey on curve 1.2.156.10197.1.301 (Node, once it has loaded one, cannot say so). */
function isSm2PrivateKeyInfo(der: Buffer): boolean {
  const info = readDer(der, 0);
  const version = info && readDerChild(der, info.start, info, 0x02);
  const algorithm = version && info && readDerChild(der, version.end, info, 0x30);
  return algorithm !== undefined && der.subarray(algorithm.start, algorithm.end).toString("hex") === SM2_ALGORITHM;
}

/**
 * The seed of an ML-DSA PKCS#8 private key (RFC 9881): the privateKey OCTET STRING holds the
 * seed ([0] IMPLICIT, 32 bytes) or both seed and expanded key, which must then agree. An
 * expanded key alone cannot be imported: Trent keeps ML-DSA keys as their seed.
 */
function mlDsaSeed(level: 44 | 65 | 87, der: Buffer): Buffer {
  const unfit = () =>
    new UnfitKeyMaterialError(
      `Key material for ML_DSA_${level} must be a DER PKCS #8 private key holding its 32-byte seed.`,
    );
  const info = readDer(der, 0);
  if (info?.tag !== 0x30 || info.end !== der.length) throw unfit();
  const version = readDerChild(der, info.start, info, 0x02);
  const algorithm = version && readDerChild(der, version.end, info, 0x30);
  const oid = algorithm && readDerChild(der, algorithm.start, algorithm, 0x06);
  if (!oid || der.subarray(oid.start, oid.end).toString("hex") !== ML_DSA_OID[level]) throw unfit();
  const privateKey = readDerChild(der, (algorithm as { end: number }).end, info, 0x04);
  const inner = privateKey && readDer(der, privateKey.start, privateKey.end);
  if (!inner || !privateKey || inner.end !== privateKey.end) throw unfit();
  if (inner.tag === 0x80 && inner.end - inner.start === ML_DSA_SEED_BYTES) {
    return Buffer.from(der.subarray(inner.start, inner.end));
  }
  if (inner.tag === 0x30) {
    const seed = readDerChild(der, inner.start, inner, 0x04);
    const expanded = seed && readDerChild(der, seed.end, inner, 0x04);
    if (!seed || !expanded || seed.end - seed.start !== ML_DSA_SEED_BYTES) throw unfit();
    const value = Buffer.from(der.subarray(seed.start, seed.end));
    const { secretKey } = ML_DSA[level].keygen(value);
    if (!Buffer.from(secretKey).equals(der.subarray(expanded.start, expanded.end))) throw unfit();
    return value;
  }
  throw unfit();
}
