import assert from "node:assert/strict";
import { readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { clusterIdOfToken } from "../../src/domain/custom-key-store.js";
import { DependencyTimeoutException } from "../../src/domain/errors.js";
import { Pkcs11Token } from "../../src/hsm/pkcs11-token.js";
import { TokenClusters } from "../../src/hsm/token-clusters.js";
import { connectCustomKeyStore } from "../../src/ops/connect-custom-key-store.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createCustomKeyStore } from "../../src/ops/create-custom-key-store.js";
import { createKey } from "../../src/ops/create-key.js";
import { tokenOfStore } from "../../src/ops/custom-key-store-access.js";
import { decrypt } from "../../src/ops/decrypt.js";
import { describeCustomKeyStores } from "../../src/ops/describe-custom-key-stores.js";
import { disconnectCustomKeyStore } from "../../src/ops/disconnect-custom-key-store.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { generateRandom } from "../../src/ops/generate-random.js";
import { updateCustomKeyStore } from "../../src/ops/update-custom-key-store.js";
import { Pkcs11Root } from "../../src/root/pkcs11-root.js";
import { openTestServices, type TestServices, testCaller } from "../support/services.js";
import { makeTestToken, TRUST_ANCHOR } from "../support/softhsm.js";

describe("custom key store sessions on a token this process already uses", () => {
  const token = makeTestToken("cks-sessions");
  const skip = token === undefined && "SoftHSM2 is not installed";
  let test_: TestServices;
  let context: OperationContext;
  let clusterId: string;
  /** Stands for the root of trust's session on the same token: it keeps the token logged in. */
  let rootSession: Pkcs11Token;

  before(() => {
    if (token === undefined) return;
    test_ = openTestServices({ now: () => new Date() });
    const services = { ...test_.services, customKeyStores: new TokenClusters(token.modulePath) };
    context = { caller: testCaller(), services, resources: [], grantTokens: [] };
    rootSession = Pkcs11Token.open(token);
    clusterId = clusterIdOfToken(rootSession.serialNumber);
  });

  after(async () => {
    if (token === undefined) return;
    await context.services.customKeyStores?.closeAll();
    rootSession.close();
    await test_.close();
    rmSync(token.dir, { recursive: true, force: true });
  });

  const stateOf = async (customKeyStoreId: string) => {
    const { CustomKeyStores } = await describeCustomKeyStores(context, { CustomKeyStoreId: customKeyStoreId });
    return [CustomKeyStores?.[0]?.ConnectionState, CustomKeyStores?.[0]?.ConnectionErrorCode];
  };

  test("a wrong password fails the connection although the token is logged in already", { skip }, async () => {
    const wrong = { ...(token as NonNullable<typeof token>), pin: "not-the-pin" };
    assert.throws(() => Pkcs11Token.open(wrong), { code: "CKR_PIN_INCORRECT" });
    const { CustomKeyStoreId: id } = (await createCustomKeyStore(context, {
      CustomKeyStoreName: "on-the-root-token",
      CloudHsmClusterId: clusterId,
      KeyStorePassword: "not-the-pin",
      TrustAnchorCertificate: TRUST_ANCHOR,
    })) as { CustomKeyStoreId: string };
    await connectCustomKeyStore(context, { CustomKeyStoreId: id });
    assert.deepEqual(await stateOf(id), ["FAILED", "INVALID_CREDENTIALS"]);
    await disconnectCustomKeyStore(context, { CustomKeyStoreId: id });
    await updateCustomKeyStore(context, { CustomKeyStoreId: id, KeyStorePassword: token?.pin });
    await connectCustomKeyStore(context, { CustomKeyStoreId: id });
    assert.deepEqual(await stateOf(id), ["CONNECTED", undefined]);
    // The root's session was not disturbed by either attempt.
    assert.equal(rootSession.isReachable(), true);
  });

  test("a session lost behind Trent's back is replaced: the next operation works", { skip }, async () => {
    const [store] = await context.services.store.customKeyStores
      .listCustomKeyStores(testCaller().accountId, testCaller().region, null, 10)
      .then((page) => page.items);
    assert.ok(store !== undefined && store.connectionState === "CONNECTED");
    const loseSession = async () => (await tokenOfStore(context.services, store)).close();
    const created = await createKey(context, { CustomKeyStoreId: store.customKeyStoreId, Origin: "AWS_CLOUDHSM" });
    const keyId = created.KeyMetadata?.KeyId as string;
    await loseSession();
    const { CiphertextBlob } = await encrypt(context, { KeyId: keyId, Plaintext: Buffer.from("still here") });
    await loseSession();
    const opened = await decrypt(context, { CiphertextBlob: CiphertextBlob as Uint8Array });
    assert.equal(Buffer.from(opened.Plaintext as Uint8Array).toString(), "still here");
    await loseSession();
    const random = await generateRandom(context, { NumberOfBytes: 16, CustomKeyStoreId: store.customKeyStoreId });
    assert.equal(random.Plaintext?.length, 16);
  });

  // Last: SoftHSM2 does not find a token again once its directory went away, so this one leaves it gone.
  test("a root of trust whose token went away answers a retryable DependencyTimeoutException", { skip }, async () => {
    const { root } = Pkcs11Root.open(
      { ...(token as NonNullable<typeof token>), keyLabel: "sessions-root" },
      {
        create: true,
      },
    );
    const wrapped = await root.wrap(Buffer.from("a secret"), "context");
    root.token.close();
    const tokenDir = readdirSync((token as NonNullable<typeof token>).dir).find((name) => !name.endsWith(".conf"));
    renameSync(join(token?.dir as string, tokenDir as string), join(token?.dir as string, "removed"));
    await assert.rejects(root.unwrap(wrapped, "context"), DependencyTimeoutException);
    await assert.rejects(root.wrap(Buffer.from("x"), "context"), DependencyTimeoutException);
  });
});
