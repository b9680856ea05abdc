/** Byte fields of the instance API that are ciphertexts: hashed; every other byte field is left out. */
const CIPHERTEXT_FIELDS = new Set(["CiphertextBlob", "PrivateKeyCiphertextBlob"]);
const SECRET_TEXT_FIELDS = /Password|Secret|Plaintext|PrivateKey/;

type Hash = (value: Uint8Array | string) => string;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * An instance-API message as the audit record shows it: fields in lowerCamelCase, ciphertexts as
 * a keyed hash, and every other byte field (plaintexts, private keys, IVs, AAD, digests,
 * signatures, HMACs, random bytes) left out.
 */
export function alibabaAuditView(message: Readonly<Record<string, unknown>>, hash: Hash): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(message)) {
    if (value === undefined || value === null) continue;
    if (value instanceof Uint8Array) {
      if (CIPHERTEXT_FIELDS.has(field) && value.length > 0) out[lowerFirst(field)] = hash(value);
      continue;
    }
    if (SECRET_TEXT_FIELDS.test(field)) continue;
    if (typeof value === "object" && !Array.isArray(value)) {
      out[lowerFirst(field)] = alibabaAuditView(value as Record<string, unknown>, hash);
      continue;
    }
    out[lowerFirst(field)] = value;
  }
  return out;
}
