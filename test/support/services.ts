import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AttestationVerifier, AWS_NITRO_ROOT_G1_PEM, loadTrustRoots } from "../../src/attestation/nitro-attestation.js";
import { DiscardingAuditSink } from "../../src/audit/audit-sink.js";
import { KeyUsageTracker } from "../../src/audit/key-usage.js";
import { BackingKeys } from "../../src/crypto/backing-keys.js";
import { generateKeyPairDer } from "../../src/crypto/data-key-pair-spec.js";
import { KmsError } from "../../src/domain/errors.js";
import type { KmsKey } from "../../src/domain/key.js";
import type { Caller } from "../../src/domain/principal.js";
import type { Services } from "../../src/ops/context.js";
import { AccountBoundaryAuthorizer, type Authorizer } from "../../src/policy/authorizer.js";
import { UnlimitedQuotas } from "../../src/quota/request-quotas.js";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { NoRequestMetrics } from "../../src/server/metrics.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { KeyStore } from "../../src/store/store.js";

export interface TestServices {
  readonly services: Services;
  /** Closes the store and removes its temporary directory. */
  close(): Promise<void>;
}

/**
 * What operations run against, for calling them directly in unit tests: a real SQLite store in a
 * temporary directory, a random root key, an injected clock, and (unless given) the authorizer
 * that lets every principal use its own account's keys.
 */
export function openTestServices(options: {
  now: () => Date;
  authorizer?: (store: KeyStore) => Authorizer;
  attestationRoots?: string;
}): TestServices {
  const dir = mkdtempSync(join(tmpdir(), "trent-unit-"));
  const store = new SqliteKeyStore(join(dir, "trent.db"));
  const root = KeyFileRoot.fromBase64(randomBytes(32).toString("base64"));
  const services: Services = {
    store,
    root,
    backingKeys: new BackingKeys(store, root),
    authorizer: options.authorizer?.(store) ?? new AccountBoundaryAuthorizer(),
    audit: new DiscardingAuditSink(),
    keyUsage: new KeyUsageTracker(store, options.now),
    quotas: new UnlimitedQuotas(),
    metrics: new NoRequestMetrics(),
    keyPairs: { take: generateKeyPairDer },
    attestation: new AttestationVerifier({
      roots: loadTrustRoots(options.attestationRoots ?? AWS_NITRO_ROOT_G1_PEM),
      maxAgeMs: 300_000,
      now: options.now,
    }),
    now: options.now,
    allowSm2: true,
  };
  return {
    services,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The caller the unit tests act as: user `tester` of `accountId`. */
export function testCaller(accountId = "111122223333", region = "us-east-1"): Caller {
  return {
    principalArn: `arn:aws:iam::${accountId}:user/tester`,
    principalId: "AIDATESTER",
    accountId,
    accessKeyId: "AKIATEST",
    region,
    sourceIp: "127.0.0.1",
    secureTransport: false,
  };
}

/** A KMS key as the store holds it: an enabled symmetric key of `111122223333` unless `fields` say otherwise. */
export function testKey(fields: Partial<KmsKey> = {}): KmsKey {
  return {
    keyId: randomUUID(),
    accountId: "111122223333",
    region: "us-east-1",
    createdAt: new Date(0),
    description: "",
    keySpec: "SYMMETRIC_DEFAULT",
    keyUsage: "ENCRYPT_DECRYPT",
    origin: "AWS_KMS",
    keyState: "Enabled",
    deletionDate: null,
    pendingDeletionWindowInDays: null,
    policy: "{}",
    currentVersion: 1,
    rotationPeriodInDays: null,
    nextRotationDate: null,
    ...fields,
  };
}

/** "ok" when the call succeeds, else the code of the KMS error it throws (any other error is thrown on). */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof KmsError) return error.code;
    throw error;
  }
}
