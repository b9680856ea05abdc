/**
 * KMS's cryptographic operations: those that use a key's material (the service model's
 * KeyLastUsageTrackingOperation). GetKeyLastUsage reports them, and each is charged to its key
 * type's shared request quota.
 */
export const CRYPTOGRAPHIC_OPERATIONS: ReadonlySet<string> = new Set([
  "Decrypt",
  "DeriveSharedSecret",
  "Encrypt",
  "GenerateDataKey",
  "GenerateDataKeyPair",
  "GenerateDataKeyPairWithoutPlaintext",
  "GenerateDataKeyWithoutPlaintext",
  "GenerateMac",
  "ReEncrypt",
  "Sign",
  "Verify",
  "VerifyMac",
]);

/** The Alibaba instance API's cryptographic operations, as the AWS operation each one is. */
export const ALIBABA_CRYPTOGRAPHIC_OPERATIONS: Readonly<Record<string, string>> = {
  Encrypt: "Encrypt",
  AdvanceEncrypt: "Encrypt",
  Decrypt: "Decrypt",
  AdvanceDecrypt: "Decrypt",
  GenerateDataKey: "GenerateDataKey",
  AdvanceGenerateDataKey: "GenerateDataKey",
  GenerateDataKeyPair: "GenerateDataKeyPair",
  AdvanceGenerateDataKeyPair: "GenerateDataKeyPair",
  GenerateDataKeyPairWithoutPlaintext: "GenerateDataKeyPairWithoutPlaintext",
  AdvanceGenerateDataKeyPairWithoutPlaintext: "GenerateDataKeyPairWithoutPlaintext",
  Sign: "Sign",
  Verify: "Verify",
  Hmac: "GenerateMac",
};
