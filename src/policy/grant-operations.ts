import type { GrantOperation } from "@aws-sdk/client-kms";

// Free of Node imports: the web console offers a key's grant operations from this same table.

/** Grant operations whose requests carry an encryption context, the only ones constraints can govern. */
export const ENCRYPTION_CONTEXT_OPERATIONS: ReadonlySet<string> = new Set<GrantOperation>([
  "Decrypt",
  "Encrypt",
  "GenerateDataKey",
  "GenerateDataKeyWithoutPlaintext",
  "GenerateDataKeyPair",
  "GenerateDataKeyPairWithoutPlaintext",
  "ReEncryptFrom",
  "ReEncryptTo",
]);

export const COMMON_OPERATIONS: readonly GrantOperation[] = ["CreateGrant", "RetireGrant", "DescribeKey"];

export const OPERATIONS_BY_KEY_USAGE: Readonly<Record<string, readonly GrantOperation[]>> = {
  ENCRYPT_DECRYPT: ["Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"],
  SIGN_VERIFY: ["Sign", "Verify", "GetPublicKey"],
  GENERATE_VERIFY_MAC: ["GenerateMac", "VerifyMac"],
  KEY_AGREEMENT: ["DeriveSharedSecret", "GetPublicKey"],
};

/** The grant operations a key of this type supports; a grant for any other operation is refused. */
export function grantOperationsForKey(key: {
  readonly keySpec: string;
  readonly keyUsage: string;
}): ReadonlySet<string> {
  if (key.keySpec === "SYMMETRIC_DEFAULT") return new Set([...ENCRYPTION_CONTEXT_OPERATIONS, ...COMMON_OPERATIONS]);
  return new Set([...(OPERATIONS_BY_KEY_USAGE[key.keyUsage] ?? []), ...COMMON_OPERATIONS]);
}
