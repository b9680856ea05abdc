import type { KeyUsageType } from "@aws-sdk/client-kms";
import { KEY_SPECS, type KeyAlgorithms, type MaterialKind } from "../../src/domain/key-specs";

/** The usages of the key specs Trent offers (the SDK knows more, as ML-KEM's ENCAPSULATE_DECAPSULATE). */
export type KeyUsage = Extract<
  KeyUsageType,
  "ENCRYPT_DECRYPT" | "SIGN_VERIFY" | "GENERATE_VERIFY_MAC" | "KEY_AGREEMENT"
>;

export type KeyKind = "symmetric" | "asymmetric" | "hmac";

export interface SpecChoice {
  readonly spec: string;
  readonly kind: KeyKind;
  readonly usage: KeyUsage;
  readonly algorithms: readonly string[];
}

const KIND_OF_MATERIAL: Record<MaterialKind["kind"], KeyKind> = {
  symmetric: "symmetric",
  hmac: "hmac",
  pkcs8: "asymmetric",
  "ml-dsa": "asymmetric",
};

function algorithmsOf(algorithms: KeyAlgorithms): string[] {
  return [
    ...(algorithms.encryption ?? []),
    ...(algorithms.signing ?? []),
    ...(algorithms.mac ?? []),
    ...(algorithms.keyAgreement ?? []),
  ];
}

/**
 * The key specs and usages CreateKey accepts, with the algorithms each allows, as the wizard
 * offers and explains them: read from the server's own table (src/domain/key-specs.ts, AWS's
 * "Key spec reference"), so the two cannot disagree.
 */
export const SPEC_CHOICES: readonly SpecChoice[] = Object.entries(KEY_SPECS).flatMap(([spec, info]) =>
  info === undefined
    ? []
    : Object.entries(info.usages).map(([usage, algorithms]) => ({
        spec,
        kind: KIND_OF_MATERIAL[info.material.kind],
        usage: usage as KeyUsage,
        algorithms: algorithmsOf(algorithms ?? {}),
      })),
);

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
