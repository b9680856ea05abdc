import { createPrivateKey, createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import type { KeySpec } from "@aws-sdk/client-kms";
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { keySpecInfo } from "../domain/key-specs.js";
import { generateKeyPairDer, isDataKeyPairSpec } from "./data-key-pair-spec.js";
import { derTlv, ecPrivateScalar } from "./der.js";

const SYMMETRIC_KEY_BYTES = 32;
const ML_DSA_SEED_BYTES = 32;

/**
 * A new KMS key's secret material: 32 random bytes for a symmetric key, the spec's length for an
 * HMAC key, PKCS#8 DER for RSA, ECC, SM2 and Ed25519 keys, and the 32-byte seed of an ML-DSA key.
 */
export async function generateKeyMaterial(keySpec: KeySpec): Promise<Buffer> {
  const material = keySpecInfo(keySpec).material;
  switch (material.kind) {
    case "symmetric":
      return randomBytes(SYMMETRIC_KEY_BYTES);
    case "hmac":
      return randomBytes(material.bytes);
    case "ml-dsa":
      return randomBytes(ML_DSA_SEED_BYTES);
    case "pkcs8": {
      if (!isDataKeyPairSpec(keySpec)) throw new Error(`no key pair generator for ${keySpec}`);
      const pair = await generateKeyPairDer(keySpec);
      return pair.privateKey;
    }
  }
}

export const ML_DSA = { 44: ml_dsa44, 65: ml_dsa65, 87: ml_dsa87 } as const;

/** id-ml-dsa-44/65/87 (NIST, 2.16.840.1.101.3.4.3.17–19), DER-encoded. */
const ML_DSA_OID = {
  44: Buffer.from("0609608648016503040311", "hex"),
  65: Buffer.from("0609608648016503040312", "hex"),
  87: Buffer.from("0609608648016503040313", "hex"),
} as const;

/** SubjectPublicKeyInfo of an ML-DSA public key (RFC 9881): the algorithm has no parameters. */
function mlDsaSpki(level: 44 | 65 | 87, publicKey: Uint8Array): Buffer {
  const algorithm = derTlv(0x30, ML_DSA_OID[level]);
  const bits = derTlv(0x03, Buffer.concat([Buffer.of(0), publicKey]));
  return derTlv(0x30, Buffer.concat([algorithm, bits]));
}

/** An asymmetric KMS key's private half, ready to use; built once per key version and cached. */
export type AsymmetricKey =
  | {
      readonly kind: "node";
      readonly privateKey: KeyObject;
      readonly publicKey: KeyObject;
      readonly spki: Buffer;
      /** SM2 keys only: the scalar and the uncompressed point, for the SM2 algorithms Node lacks. */
      readonly sm2?: { readonly privateScalar: Buffer; readonly publicPoint: Buffer };
    }
  | {
      readonly kind: "ml-dsa";
      readonly level: 44 | 65 | 87;
      readonly secretKey: Uint8Array;
      readonly publicKey: Uint8Array;
      readonly spki: Buffer;
    };

export function asymmetricKeyFrom(keySpec: KeySpec, material: Buffer): AsymmetricKey {
  const info = keySpecInfo(keySpec).material;
  if (info.kind === "ml-dsa") {
    const { secretKey, publicKey } = ML_DSA[info.level].keygen(material);
    return { kind: "ml-dsa", level: info.level, secretKey, publicKey, spki: mlDsaSpki(info.level, publicKey) };
  }
  if (info.kind !== "pkcs8") throw new Error(`${keySpec} keys have no key pair`);
  const privateKey = createPrivateKey({ key: material, format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ type: "spki", format: "der" });
  if (keySpec !== "SM2") return { kind: "node", privateKey, publicKey, spki };
  // An SM2 SPKI ends with the 65-byte uncompressed point (OpenSSL always writes it so).
  const sm2 = { privateScalar: ecPrivateScalar(material), publicPoint: spki.subarray(spki.length - 65) };
  return { kind: "node", privateKey, publicKey, spki, sm2 };
}
