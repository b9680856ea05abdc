import { AUDIT_CORRELATION_PURPOSE, AUDIT_SEAL_PURPOSE } from "../audit/audit-keys.js";
import type { KeyStore } from "../store/store.js";
import type { RootOfTrust } from "./root-of-trust.js";

/** The key of imported key material's fingerprints (ops/imported-key-material.ts), which must outlive a change of root. */
export const IMPORTED_MATERIAL_FINGERPRINT_PURPOSE = "trent/imported-key-material/fingerprint";

/** The purpose keys kept in the store, which a change of root carries over and `trent check` opens. */
export const STORED_PURPOSES = [
  AUDIT_SEAL_PURPOSE,
  AUDIT_CORRELATION_PURPOSE,
  IMPORTED_MATERIAL_FINGERPRINT_PURPOSE,
] as const;
const PURPOSE_KEY_BYTES = 32;

/** The meta value holding a purpose key, wrapped under the root of trust. */
export function purposeKeyMetaName(purpose: string): string {
  return `purpose_key/${purpose}`;
}

export function purposeKeyContext(purpose: string): string {
  return `trent/purpose-key/${purpose}`;
}

/**
 * The key for a named purpose (the audit trail's seal and correlation keys). Derived from the
 * root of trust the first time it is asked for, then kept in the store wrapped under the root,
 * so that it outlives a change of root: `trent root migrate` re-wraps it like any secret, and
 * audit files sealed before the migration still verify. A store that never changed root keeps
 * exactly the key its root derives.
 */
export async function purposeKey(
  store: Pick<KeyStore, "getMeta" | "initMeta">,
  root: RootOfTrust,
  purpose: string,
): Promise<Buffer> {
  const name = purposeKeyMetaName(purpose);
  let stored = await store.getMeta(name);
  if (stored === undefined) {
    const derived = await root.deriveKey(purpose);
    // Several processes may start at once: the first value stored is everyone's.
    stored = await store.initMeta(name, (await root.wrap(derived, purposeKeyContext(purpose))).toString("base64"));
  }
  return root.unwrap(Buffer.from(stored, "base64"), purposeKeyContext(purpose));
}

/** The purpose key as stored, or, for a store that never stored it, as the root derives it; never writes. */
export async function storedOrDerivedPurposeKey(
  store: Pick<KeyStore, "getMeta"> | undefined,
  root: RootOfTrust,
  purpose: string,
): Promise<Buffer> {
  const stored = await store?.getMeta(purposeKeyMetaName(purpose));
  if (stored === undefined) return root.deriveKey(purpose);
  return root.unwrap(Buffer.from(stored, "base64"), purposeKeyContext(purpose));
}

/** What `trent check` finds wrong with the stored purpose keys: each must open under the root, with its context. */
export async function storedPurposeKeyProblems(store: Pick<KeyStore, "getMeta">, root: RootOfTrust): Promise<string[]> {
  const problems: string[] = [];
  for (const purpose of STORED_PURPOSES) {
    const stored = await store.getMeta(purposeKeyMetaName(purpose));
    if (stored === undefined) continue;
    try {
      const key = await root.unwrap(Buffer.from(stored, "base64"), purposeKeyContext(purpose));
      const length = key.length;
      key.fill(0);
      if (length !== PURPOSE_KEY_BYTES) problems.push(`the stored purpose key ${purpose} is ${length} bytes, not 32`);
    } catch (error) {
      problems.push(
        `the stored purpose key ${purpose} does not unwrap under the root key (${(error as Error).message}): the audit trail cannot be sealed or verified with it`,
      );
    }
  }
  return problems;
}
