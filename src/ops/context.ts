import type { AttestationVerifier, VerifiedAttestation } from "../attestation/nitro-attestation.js";
import type { AuditSink } from "../audit/audit-sink.js";
import type { KeyUsageLedger } from "../audit/key-usage.js";
import type { BackingKeys } from "../crypto/backing-keys.js";
import type { DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import type { Caller } from "../domain/principal.js";
import type { TokenClusters } from "../hsm/token-clusters.js";
import type { Authorizer } from "../policy/authorizer.js";
import type { RequestQuotas } from "../quota/request-quotas.js";
import type { RootOfTrust } from "../root/root-of-trust.js";
import type { RequestMetrics } from "../server/metrics.js";
import type { KeyStore } from "../store/store.js";

export interface KeyPairSource {
  take(spec: DataKeyPairSpec): Promise<{ publicKey: Buffer; privateKey: Buffer }>;
}

/** What every operation runs against; built once at start-up. */
export interface Services {
  readonly store: KeyStore;
  readonly root: RootOfTrust;
  readonly backingKeys: BackingKeys;
  readonly authorizer: Authorizer;
  readonly audit: AuditSink;
  /** Each key's last successful cryptographic use, fed by the audit trail (GetKeyLastUsage). */
  readonly keyUsage: KeyUsageLedger;
  /** Request-rate quotas; every edge admits a request before running its operation. */
  readonly quotas: RequestQuotas;
  /** Counts and times answered requests for /metrics. */
  readonly metrics: RequestMetrics;
  readonly keyPairs: KeyPairSource;
  /** Verifies Nitro Enclave attestation documents against the configured trust roots. */
  readonly attestation: AttestationVerifier;
  readonly now: () => Date;
  /** SM2 is a China-regions key spec in AWS; Trent offers it everywhere unless this is false. */
  readonly allowSm2: boolean;
  /** The PKCS#11 tokens behind custom key stores, and this process's sessions on them; none when absent. */
  readonly customKeyStores?: TokenClusters;
}

/** One request as an operation sees it: who asks, and what the request touched (for audit). */
export interface OperationContext {
  readonly caller: Caller;
  readonly services: Services;
  /** Key ARNs the operation resolved, recorded in the audit event. */
  readonly resources: string[];
  /** The request's GrantTokens, where the operation takes them. */
  readonly grantTokens: readonly string[];
  /** The verified attestation of the request's Recipient, when it has one (see recipient.ts). */
  readonly recipient?: VerifiedAttestation;
}

export type Operation<I = never, O = unknown> = (context: OperationContext, input: I) => Promise<O>;
