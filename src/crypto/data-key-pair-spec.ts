import { generateKeyPair, generateKeyPairSync } from "node:crypto";
import { promisify } from "node:util";
import { DATA_KEY_PAIR_SPECS } from "../domain/key-specs.js";

export { DATA_KEY_PAIR_SPECS };

export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];

/** DER SubjectPublicKeyInfo (RFC 5280) and DER PKCS#8 PrivateKeyInfo (RFC 5958), as KMS returns them. */
export interface DerKeyPair {
  publicKey: Buffer;
  privateKey: Buffer;
}

type KeyGenParams = { type: "rsa"; modulusLength: number } | { type: "ec"; namedCurve: string } | { type: "ed25519" };

// OpenSSL 3 encodes 'SM2' keys as id-ecPublicKey with curve OID 1.2.156.10197.1.301, matching AWS KMS.
const PARAMS: Record<DataKeyPairSpec, KeyGenParams> = {
  RSA_2048: { type: "rsa", modulusLength: 2048 },
  RSA_3072: { type: "rsa", modulusLength: 3072 },
  RSA_4096: { type: "rsa", modulusLength: 4096 },
  ECC_NIST_P256: { type: "ec", namedCurve: "prime256v1" },
  ECC_NIST_P384: { type: "ec", namedCurve: "secp384r1" },
  ECC_NIST_P521: { type: "ec", namedCurve: "secp521r1" },
  ECC_SECG_P256K1: { type: "ec", namedCurve: "secp256k1" },
  SM2: { type: "ec", namedCurve: "SM2" },
  ECC_NIST_EDWARDS25519: { type: "ed25519" },
};

const SPKI_DER = { type: "spki", format: "der" } as const;
const PKCS8_DER = { type: "pkcs8", format: "der" } as const;

const RSA_PUBLIC_EXPONENT = 0x10001;

const generateKeyPairAsync = promisify(generateKeyPair);

export function isDataKeyPairSpec(value: unknown): value is DataKeyPairSpec {
  return (DATA_KEY_PAIR_SPECS as readonly unknown[]).includes(value);
}

/** Generates on libuv's threadpool, off the event loop: the key-pair pool's on-demand path. */
export async function generateKeyPairDer(spec: DataKeyPairSpec): Promise<DerKeyPair> {
  const params = PARAMS[spec];
  switch (params.type) {
    case "rsa":
      return generateKeyPairAsync("rsa", {
        modulusLength: params.modulusLength,
        publicExponent: RSA_PUBLIC_EXPONENT,
        publicKeyEncoding: SPKI_DER,
        privateKeyEncoding: PKCS8_DER,
      });
    case "ec":
      return generateKeyPairAsync("ec", {
        namedCurve: params.namedCurve,
        publicKeyEncoding: SPKI_DER,
        privateKeyEncoding: PKCS8_DER,
      });
    case "ed25519":
      return generateKeyPairAsync("ed25519", { publicKeyEncoding: SPKI_DER, privateKeyEncoding: PKCS8_DER });
  }
}

/** Blocks the calling thread for up to seconds (RSA_4096): call it only from a worker thread (pool refills). */
export function generateKeyPairDerSync(spec: DataKeyPairSpec): DerKeyPair {
  const params = PARAMS[spec];
  switch (params.type) {
    case "rsa":
      return generateKeyPairSync("rsa", {
        modulusLength: params.modulusLength,
        publicExponent: RSA_PUBLIC_EXPONENT,
        publicKeyEncoding: SPKI_DER,
        privateKeyEncoding: PKCS8_DER,
      });
    case "ec":
      return generateKeyPairSync("ec", {
        namedCurve: params.namedCurve,
        publicKeyEncoding: SPKI_DER,
        privateKeyEncoding: PKCS8_DER,
      });
    case "ed25519":
      return generateKeyPairSync("ed25519", { publicKeyEncoding: SPKI_DER, privateKeyEncoding: PKCS8_DER });
  }
}
