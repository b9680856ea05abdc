import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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

const NOT_INSTALLED = 3;
const DAY_MS = 86_400_000;
const TRUST_ANCHOR = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUYFeNoOWxl1fQrTI+GQnU8TbeLd4wCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKY3VzdG9tZXJDQTAeFw0yNjExMjYwMTI3MzRaFw0zNjExMjMw
MTI3MzRaMBUxEzARBgNVBAMMCmN1c3RvbWVyQ0EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQNtbpCvhO5xieKsGBKNbwpWx2nPOMsJJoZJ56juz/et+x6IHePWm/C
I91buMdQEhsPLuF/JgK57QLR0xZvSod3o1MwUTAdBgNVHQ4EFgQUr4sAgHHk+G76
FPoUqc6c5HNEbT8wHwYDVR0jBBgwFoAUr4sAgHHk+G76FPoUqc6c5HNEbT8wDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAy2aB71UshY0GrW1xBFq4
+QbQ3swbawqHI55J9/WYT0sCIEybxqU066viES3tyDecC+kLXmovR8/gVMMFwgm0
yGyR
-----END CERTIFICATE-----
`;

/** A throwaway SoftHSM2 token; undefined (the tests skip) when SoftHSM2 is missing outside CI. */
function makeToken(): { modulePath: string; dir: string; tokenLabel: string; pin: string } | undefined {
  const made = spawnSync("node", ["scripts/softhsm-test-token.mjs", "create", "cks-unit"], { encoding: "utf8" });
  if (made.status === NOT_INSTALLED && !process.env.CI) return undefined;
  assert.equal(made.status, 0, made.stderr);
  const token = JSON.parse(made.stdout);
  // Cryptoki reads the configuration once per process: before the module is first loaded.
  process.env.SOFTHSM2_CONF = token.conf;
  return token;
}

describe("keys in a custom key store, when their deletion window passes", () => {
  const token = makeToken();
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
