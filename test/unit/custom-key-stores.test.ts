import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { clusterIdOfToken } from "../../src/domain/custom-key-store.js";
import { Pkcs11Token } from "../../src/hsm/pkcs11-token.js";
import { TokenClusters } from "../../src/hsm/token-clusters.js";
import { connectCustomKeyStore } from "../../src/ops/connect-custom-key-store.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createCustomKeyStore } from "../../src/ops/create-custom-key-store.js";
import { createKey } from "../../src/ops/create-key.js";
import { deleteDueKeys } from "../../src/ops/delete-due-keys.js";
import { disconnectCustomKeyStore } from "../../src/ops/disconnect-custom-key-store.js";
import { scheduleKeyDeletion } from "../../src/ops/schedule-key-deletion.js";
import { checkIntegrity } from "../../src/store/integrity-check.js";
import type { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import { openTestServices, type TestServices, testCaller } from "../support/services.js";
import { makeTestToken, TRUST_ANCHOR } from "../support/softhsm.js";

const DAY_MS = 86_400_000;

describe("keys in a custom key store, when their deletion window passes", () => {
  const token = makeTestToken("cks-unit");
  let now = new Date("2030-01-01T00:00:00Z");
  let test_: TestServices;
  let context: OperationContext;
  let customKeyStoreId: string;

  before(async () => {
    if (token === undefined) return;
    test_ = openTestServices({ now: () => now });
    const services = { ...test_.services, customKeyStores: new TokenClusters(token.modulePath) };
    context = { caller: testCaller(), services, resources: [], grantTokens: [] };
    const probe = Pkcs11Token.open(token);
    const serial = probe.serialNumber;
    probe.close();
    ({ CustomKeyStoreId: customKeyStoreId } = (await createCustomKeyStore(context, {
      CustomKeyStoreName: "unit",
      CloudHsmClusterId: clusterIdOfToken(serial),
      KeyStorePassword: token.pin,
      TrustAnchorCertificate: TRUST_ANCHOR,
    })) as { CustomKeyStoreId: string });
    await connectCustomKeyStore(context, { CustomKeyStoreId: customKeyStoreId });
  });

  after(async () => {
    if (token === undefined) return;
    await context.services.customKeyStores?.closeAll();
    await test_.close();
    rmSync(token.dir, { recursive: true, force: true });
  });

  const inToken = (keyId: string) => {
    const session = Pkcs11Token.open(token as NonNullable<typeof token>);
    try {
      return session.findKey(keyId) !== undefined;
    } finally {
      session.close();
    }
  };

  const scheduledKey = async () => {
    const created = await createKey(context, { CustomKeyStoreId: customKeyStoreId, Origin: "AWS_CLOUDHSM" });
    const keyId = created.KeyMetadata?.KeyId as string;
    await scheduleKeyDeletion(context, { KeyId: keyId, PendingWindowInDays: 7 });
    return keyId;
  };

  test("a connected store's token loses the key object too; a key has no material outside the token", {
    skip: token === undefined && "SoftHSM2 is not installed",
  }, async () => {
    const keyId = await scheduledKey();
    assert.equal(inToken(keyId), true);
    assert.equal((await context.services.store.listKeyMaterial(keyId, 0, 10)).items.length, 0);
    const report = await checkIntegrity(context.services.store as SqliteKeyStore, context.services.root);
    // The store was never opened by `trent serve` (no root check, no account): only its keys and stores count here.
    const found = report.problems.filter((problem) => problem.startsWith("key ") || problem.startsWith("custom key"));
    assert.deepEqual(found, []);
    now = new Date(now.getTime() + 8 * DAY_MS);
    assert.equal(await deleteDueKeys(context.services), 1);
    assert.equal(await context.services.store.getKey(keyId), undefined);
    assert.equal(inToken(keyId), false);
  });

  test("a disconnected store's token keeps it as orphaned key material, as AWS documents", {
    skip: token === undefined && "SoftHSM2 is not installed",
  }, async () => {
    const keyId = await scheduledKey();
    await disconnectCustomKeyStore(context, { CustomKeyStoreId: customKeyStoreId });
    now = new Date(now.getTime() + 8 * DAY_MS);
    assert.equal(await deleteDueKeys(context.services), 1);
    assert.equal(await context.services.store.getKey(keyId), undefined);
    assert.equal(inToken(keyId), true);
  });
});
