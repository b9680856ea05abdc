import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { AttestationVerifier, AWS_NITRO_ROOT_G1_PEM, loadTrustRoots } from "../../src/attestation/nitro-attestation.js";
import { DiscardingAuditSink } from "../../src/audit/audit-sink.js";
import { KeyUsageTracker } from "../../src/audit/key-usage.js";
import { BackingKeys } from "../../src/crypto/backing-keys.js";
import { generateKeyPairDer } from "../../src/crypto/data-key-pair-spec.js";
import { storeKeyId } from "../../src/domain/key.js";
import type { OperationContext, Services } from "../../src/ops/context.js";
import { createKey } from "../../src/ops/create-key.js";
import { decrypt } from "../../src/ops/decrypt.js";
import { deleteDueKeys } from "../../src/ops/delete-due-keys.js";
import { describeKey } from "../../src/ops/describe-key.js";
import { enableKeyRotation } from "../../src/ops/enable-key-rotation.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { getKeyRotationStatus } from "../../src/ops/get-key-rotation-status.js";
import { replicateKey } from "../../src/ops/replicate-key.js";
import { rotateDueKeys } from "../../src/ops/rotate-due-keys.js";
import { scheduleKeyDeletion } from "../../src/ops/schedule-key-deletion.js";
import { updatePrimaryRegion } from "../../src/ops/update-primary-region.js";
import { AccountBoundaryAuthorizer } from "../../src/policy/authorizer.js";
import { UnlimitedQuotas } from "../../src/quota/request-quotas.js";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { createRootCheck } from "../../src/root/root-check.js";
import { NoRequestMetrics } from "../../src/server/metrics.js";
import { CachingKeyStore } from "../../src/store/caching-store.js";
import { checkIntegrity } from "../../src/store/integrity-check.js";
import { PostgresKeyStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { IntegrityScan, KeyStore } from "../../src/store/store.js";
import { PostgresNotInstalledError, startPostgres } from "../support/postgres-server.js";
import { testCaller } from "../support/services.js";

const DAY = 86_400_000;
const US = "us-east-1";
const EU = "eu-west-1";

const postgres = await startPostgres().catch((error: unknown) => {
  if (error instanceof PostgresNotInstalledError && !process.env.CI) return error;
  throw error;
});
after(() => (postgres instanceof Error ? undefined : postgres.stop()));
const sqliteDir = mkdtempSync(join(tmpdir(), "trent-mrk-"));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

const backends: { name: string; skip: string | false; open(): Promise<KeyStore & IntegrityScan> }[] = [
  { name: "SQLite", skip: false, open: async () => new SqliteKeyStore(join(sqliteDir, "trent.db")) },
  {
    name: "PostgreSQL",
    skip: postgres instanceof Error && `PostgreSQL is not installed here: ${postgres.message}`,
    async open() {
      assert(!(postgres instanceof Error));
      const client = new pg.Client(postgres.url);
      await client.connect();
      await client.query("CREATE DATABASE multi_region");
      await client.end();
      const url = new URL(postgres.url);
      url.pathname = "/multi_region";
      return PostgresKeyStore.open(url.href);
    },
  },
];

for (const backend of backends) {
  describe(`multi-Region keys on ${backend.name}`, { skip: backend.skip }, () => {
    test("rotation reaches the replica; deleting the last replica starts the primary's window; nothing is left", async () => {
      const inner = await backend.open();
      const root = KeyFileRoot.fromBase64(randomBytes(32).toString("base64"));
      let now = new Date("2026-03-01T00:00:00Z");
      const store = new CachingKeyStore(inner);
      const keyUsage = new KeyUsageTracker(store, () => now);
      const services: Services = {
        store,
        root,
        backingKeys: new BackingKeys(store, root),
        authorizer: new AccountBoundaryAuthorizer(),
        audit: new DiscardingAuditSink(),
        keyUsage,
        quotas: new UnlimitedQuotas(),
        metrics: new NoRequestMetrics(),
        keyPairs: { take: generateKeyPairDer },
        attestation: new AttestationVerifier({
          roots: loadTrustRoots(AWS_NITRO_ROOT_G1_PEM),
          maxAgeMs: 1,
          now: () => now,
        }),
        now: () => now,
        allowSm2: true,
      };
      const inRegion = (region: string): OperationContext => ({
        caller: testCaller("111122223333", region),
        services,
        resources: [],
        grantTokens: [],
      });
      const [us, eu] = [inRegion(US), inRegion(EU)];
      const integrity = async () => (await checkIntegrity(inner, root)).problems;
      await inner.setMeta("account_id", "111122223333");
      await inner.setMeta("root_check", await createRootCheck(root));
      try {
        const keyId = (await createKey(us, { MultiRegion: true })).KeyMetadata?.KeyId as string;
        await enableKeyRotation(us, { KeyId: keyId, RotationPeriodInDays: 90 });
        const old = (await encrypt(us, { KeyId: keyId, Plaintext: Buffer.from("old") })).CiphertextBlob as Uint8Array;
        await replicateKey(us, { KeyId: keyId, ReplicaRegion: EU });
        assert.deepEqual(await integrity(), []);

        now = new Date(now.getTime() + 91 * DAY);
        assert.equal(await rotateDueKeys(services), 1);
        const replica = await inner.getKey(storeKeyId({ keyId, region: EU }));
        assert.equal(replica?.currentVersion, 2);
        assert.equal(replica?.rotationPeriodInDays, null, "the schedule stays on the primary's row");
        assert.equal((await getKeyRotationStatus(eu, { KeyId: keyId })).RotationPeriodInDays, 90);
        const fresh = (await encrypt(eu, { KeyId: keyId, Plaintext: Buffer.from("new") })).CiphertextBlob as Uint8Array;
        for (const [context, blob, text] of [
          [eu, old, "old"],
          [us, fresh, "new"],
        ] as const) {
          assert.equal(
            Buffer.from((await decrypt(context, { CiphertextBlob: blob })).Plaintext as Uint8Array).toString(),
            text,
          );
        }
        assert.deepEqual(await integrity(), []);

        // The primary moves to eu-west-1 with its schedule, and back.
        await updatePrimaryRegion(us, { KeyId: keyId, PrimaryRegion: EU });
        assert.equal((await inner.getKey(storeKeyId({ keyId, region: EU })))?.rotationPeriodInDays, 90);
        assert.equal((await inner.getKey(storeKeyId({ keyId, region: US })))?.rotationPeriodInDays, null);
        assert.deepEqual(await integrity(), []);
        await updatePrimaryRegion(eu, { KeyId: keyId, PrimaryRegion: US });

        const scheduled = await scheduleKeyDeletion(us, { KeyId: keyId, PendingWindowInDays: 9 });
        assert.equal(scheduled.KeyState, "PendingReplicaDeletion");
        await scheduleKeyDeletion(eu, { KeyId: keyId, PendingWindowInDays: 7 });
        now = new Date(now.getTime() + 8 * DAY);
        assert.equal(await deleteDueKeys(services), 1, "only the replica is due; the primary waits for it");
        const primary = (await describeKey(us, { KeyId: keyId })).KeyMetadata;
        assert.equal(primary?.KeyState, "PendingDeletion");
        assert.equal(primary?.DeletionDate?.getTime(), now.getTime() + 9 * DAY);
        assert.deepEqual(primary?.MultiRegionConfiguration?.ReplicaKeys, []);
        assert.deepEqual(await integrity(), []);

        now = new Date(now.getTime() + 9 * DAY);
        assert.equal(await deleteDueKeys(services), 1);
        assert.deepEqual(await inner.multiRegionKeys(keyId), []);
        for (const region of [US, EU]) {
          assert.equal((await inner.listKeyMaterial(storeKeyId({ keyId, region }), 0, 10)).items.length, 0);
        }
        assert.deepEqual(await integrity(), []);
      } finally {
        await keyUsage.close();
        await inner.close();
      }
    });
  });
}
