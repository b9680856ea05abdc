import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AUDIT_SEAL_PURPOSE } from "../../src/audit/audit-keys.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createKey } from "../../src/ops/create-key.js";
import type { AvailableRoots } from "../../src/root/available-roots.js";
import { rootKindOf } from "../../src/root/available-roots.js";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { PKCS11_ROOT_FORMAT } from "../../src/root/pkcs11-root.js";
import { purposeKey, purposeKeyMetaName, storedPurposeKeyProblems } from "../../src/root/purpose-keys.js";
import { createRootCheck } from "../../src/root/root-check.js";
import { migrateRoot } from "../../src/root/root-migration.js";
import type { RootOfTrust } from "../../src/root/root-of-trust.js";
import { checkIntegrity } from "../../src/store/integrity-check.js";
import type { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import type { KeyStore } from "../../src/store/store.js";
import { openTestServices, type TestServices, testCaller } from "../support/services.js";

/** A root whose values say they are the PKCS#11 root's (its format byte), for a migration without a token. */
function tokenLikeRoot(): RootOfTrust {
  const inner = KeyFileRoot.fromBase64(randomBytes(32).toString("base64"));
  return {
    wrap: async (plaintext, context) =>
      Buffer.concat([Buffer.of(PKCS11_ROOT_FORMAT), await inner.wrap(plaintext, context)]),
    unwrap: async (wrapped, context) => inner.unwrap(wrapped.subarray(1), context),
    deriveKey: (purpose) => inner.deriveKey(purpose),
  };
}

describe("root migration and the stored purpose keys", () => {
  let test_: TestServices;
  let context: OperationContext;
  let fileRoot: RootOfTrust;
  let roots: AvailableRoots;

  before(async () => {
    test_ = openTestServices({ now: () => new Date() });
    context = { caller: testCaller(), services: test_.services, resources: [], grantTokens: [] };
    fileRoot = test_.services.root;
    const target = tokenLikeRoot();
    roots = {
      existing: (kind: string) => (kind === "file" ? fileRoot : target),
      create: (kind: string) => ({ root: kind === "file" ? fileRoot : target, created: false }),
    } as unknown as AvailableRoots;
    await test_.services.store.initMeta("root_check", await createRootCheck(fileRoot));
    await createKey(context, {});
  });

  after(async () => {
    await test_?.close();
  });

  test("a migration whose rows keep changing under it does not move the root check", async () => {
    const store = test_.services.store;
    // Every compare-and-set loses, as if each row were rewritten between its read and its write.
    const busy = new Proxy(store, {
      get(target, name) {
        if (name === "replaceWrappedValue") return async () => false;
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as KeyStore;
    const result = await migrateRoot(busy, roots, "pkcs11", { purposes: [] });
    assert.equal(result.finished, false);
    assert.match(result.failures.join("\n"), /still being written under the key-file root/);
    const check = (await store.getMeta("root_check")) as string;
    assert.equal(rootKindOf(Buffer.from(check, "base64")), "file", "the root check stays the source root's");
  });

  test("trent check opens each stored purpose key, and names one that does not open", async () => {
    const store = test_.services.store;
    await purposeKey(store, fileRoot, AUDIT_SEAL_PURPOSE);
    assert.deepEqual(await storedPurposeKeyProblems(store, fileRoot), []);
    const other = KeyFileRoot.fromBase64(randomBytes(32).toString("base64"));
    await store.setMeta(
      purposeKeyMetaName(AUDIT_SEAL_PURPOSE),
      (await other.wrap(randomBytes(32), "trent/purpose-key/x")).toString("base64"),
    );
    const report = await checkIntegrity(store as SqliteKeyStore, fileRoot);
    const found = report.problems.filter((problem) => problem.includes("purpose key"));
    assert.equal(found.length, 1, report.problems.join("\n"));
    assert.match(
      found[0] as string,
      /^the stored purpose key trent\/audit\/seal\/v1 does not unwrap under the root key/,
    );
  });
});
