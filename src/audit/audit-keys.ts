/** Purposes of the keys the audit trail derives from the root of trust (RootOfTrust.deriveKey). */
export const AUDIT_SEAL_PURPOSE = "trent/audit/seal/v1";
export const AUDIT_CORRELATION_PURPOSE = "trent/audit/correlation/v1";
