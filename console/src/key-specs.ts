/**
 * The key specs and usages CreateKey accepts, with the algorithms each allows: the table of AWS's
 * "Key spec reference" (and Trent's docs/key-types.md), which the wizard offers and explains.
 */
export type KeyUsage = "ENCRYPT_DECRYPT" | "SIGN_VERIFY" | "GENERATE_VERIFY_MAC" | "KEY_AGREEMENT";

export interface SpecChoice {
  readonly spec: string;
  readonly usage: KeyUsage;
  readonly algorithms: readonly string[];
}

const RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];
const RSA_SIGNING = [
  "RSASSA_PSS_SHA_256",
  "RSASSA_PSS_SHA_384",
  "RSASSA_PSS_SHA_512",
  "RSASSA_PKCS1_V1_5_SHA_256",
  "RSASSA_PKCS1_V1_5_SHA_384",
  "RSASSA_PKCS1_V1_5_SHA_512",
];

export const SPEC_CHOICES: readonly SpecChoice[] = [
  { spec: "SYMMETRIC_DEFAULT", usage: "ENCRYPT_DECRYPT", algorithms: ["SYMMETRIC_DEFAULT"] },
  ...["RSA_2048", "RSA_3072", "RSA_4096"].flatMap((spec) => [
    { spec, usage: "ENCRYPT_DECRYPT" as const, algorithms: RSA_ENCRYPTION },
    { spec, usage: "SIGN_VERIFY" as const, algorithms: RSA_SIGNING },
  ]),
  { spec: "ECC_NIST_P256", usage: "SIGN_VERIFY", algorithms: ["ECDSA_SHA_256"] },
  { spec: "ECC_NIST_P384", usage: "SIGN_VERIFY", algorithms: ["ECDSA_SHA_384"] },
  { spec: "ECC_NIST_P521", usage: "SIGN_VERIFY", algorithms: ["ECDSA_SHA_512"] },
  { spec: "ECC_SECG_P256K1", usage: "SIGN_VERIFY", algorithms: ["ECDSA_SHA_256"] },
  { spec: "ECC_NIST_EDWARDS25519", usage: "SIGN_VERIFY", algorithms: ["ED25519_SHA_512", "ED25519_PH_SHA_512"] },
  { spec: "ML_DSA_44", usage: "SIGN_VERIFY", algorithms: ["ML_DSA_SHAKE_256"] },
  { spec: "ML_DSA_65", usage: "SIGN_VERIFY", algorithms: ["ML_DSA_SHAKE_256"] },
  { spec: "ML_DSA_87", usage: "SIGN_VERIFY", algorithms: ["ML_DSA_SHAKE_256"] },
  { spec: "ECC_NIST_P256", usage: "KEY_AGREEMENT", algorithms: ["ECDH"] },
  { spec: "ECC_NIST_P384", usage: "KEY_AGREEMENT", algorithms: ["ECDH"] },
  { spec: "ECC_NIST_P521", usage: "KEY_AGREEMENT", algorithms: ["ECDH"] },
  { spec: "SM2", usage: "ENCRYPT_DECRYPT", algorithms: ["SM2PKE"] },
  { spec: "SM2", usage: "SIGN_VERIFY", algorithms: ["SM2DSA"] },
  { spec: "SM2", usage: "KEY_AGREEMENT", algorithms: ["ECDH"] },
  { spec: "HMAC_224", usage: "GENERATE_VERIFY_MAC", algorithms: ["HMAC_SHA_224"] },
  { spec: "HMAC_256", usage: "GENERATE_VERIFY_MAC", algorithms: ["HMAC_SHA_256"] },
  { spec: "HMAC_384", usage: "GENERATE_VERIFY_MAC", algorithms: ["HMAC_SHA_384"] },
  { spec: "HMAC_512", usage: "GENERATE_VERIFY_MAC", algorithms: ["HMAC_SHA_512"] },
];

export type KeyKind = "symmetric" | "asymmetric" | "hmac";

export const KIND_LABELS: Record<KeyKind, string> = {
  symmetric: "Symmetric — one key that encrypts and decrypts (the default)",
  asymmetric: "Asymmetric — a key pair: public-key encryption, signing, or key agreement",
  hmac: "HMAC — generate and verify message authentication codes",
};

export const USAGE_LABELS: Record<KeyUsage, string> = {
  ENCRYPT_DECRYPT: "Encrypt and decrypt",
  SIGN_VERIFY: "Sign and verify",
  GENERATE_VERIFY_MAC: "Generate and verify MAC",
  KEY_AGREEMENT: "Key agreement",
};

export function kindOf(choice: SpecChoice): KeyKind {
  if (choice.spec === "SYMMETRIC_DEFAULT") return "symmetric";
  if (choice.spec.startsWith("HMAC_")) return "hmac";
  return "asymmetric";
}

/** What the origin of a key's material may be for a spec: imported material is for symmetric and HMAC keys (and RSA/ECC in AWS). */
export const ORIGINS = ["AWS_KMS", "EXTERNAL"] as const;
