import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Caller } from "../../src/domain/principal.js";
import { cancelKeyDeletion } from "../../src/ops/cancel-key-deletion.js";
import type { OperationContext, Services } from "../../src/ops/context.js";
import { createAlias } from "../../src/ops/create-alias.js";
import { createKey } from "../../src/ops/create-key.js";
import { decrypt } from "../../src/ops/decrypt.js";
import { deleteDueKeys } from "../../src/ops/delete-due-keys.js";
import { describeKey } from "../../src/ops/describe-key.js";
import { disableKey } from "../../src/ops/disable-key.js";
import { enableKey } from "../../src/ops/enable-key.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { generateDataKey } from "../../src/ops/generate-data-key.js";
import { generateDataKeyPair } from "../../src/ops/generate-data-key-pair.js";
import { listAliases } from "../../src/ops/list-aliases.js";
import { listResourceTags } from "../../src/ops/list-resource-tags.js";
import { scheduleKeyDeletion } from "../../src/ops/schedule-key-deletion.js";
import { tagResource } from "../../src/ops/tag-resource.js";
import { updateKeyDescription } from "../../src/ops/update-key-description.js";
import { KeyFileRoot, RootKeyError } from "../../src/root/key-file-root.js";
import { openDataDirectory } from "../../src/server/trent.js";
import { errorCode, openTestServices, type TestServices, testCaller } from "../support/services.js";

const DAY = 24 * 60 * 60 * 1000;
const ACCOUNT = "111122223333";
const OTHER_ACCOUNT = "444455556666";

let fixture: TestServices;
let services: Services;
let clock = new Date("2026-01-01T00:00:00Z");

const callerIn = testCaller;

function as(caller: Caller): OperationContext {
  return { caller, services, resources: [], grantTokens: [] };
}

const admin = () => as(callerIn(ACCOUNT));

async function newKey(): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await createKey(admin(), {});
  return { keyId: KeyMetadata?.KeyId as string, arn: KeyMetadata?.Arn as string };
}

before(async () => {
  fixture = openTestServices({ now: () => clock });
  services = fixture.services;
});

after(() => fixture.close());

describe("key deletion", () => {
  test("a key scheduled for deletion is deleted only once its window has passed, with its aliases and tags", async () => {
    const { keyId, arn } = await newKey();
    await createAlias(admin(), { AliasName: "alias/doomed", TargetKeyId: keyId });
    await tagResource(admin(), { KeyId: keyId, Tags: [{ TagKey: "team", TagValue: "a" }] });
    const { CiphertextBlob } = await encrypt(admin(), { KeyId: keyId, Plaintext: Buffer.from("secret") });
    const scheduled = await scheduleKeyDeletion(admin(), { KeyId: keyId, PendingWindowInDays: 7 });
    assert.equal(scheduled.KeyId, arn);
    assert.equal(scheduled.DeletionDate?.getTime(), clock.getTime() + 7 * DAY);

    clock = new Date(clock.getTime() + 7 * DAY - 1000);
    assert.equal(await deleteDueKeys(services), 0);
    assert.equal((await describeKey(admin(), { KeyId: keyId })).KeyMetadata?.KeyState, "PendingDeletion");

    clock = new Date(clock.getTime() + 2000);
    assert.equal(await deleteDueKeys(services), 1);
    assert.equal(await errorCode(describeKey(admin(), { KeyId: keyId })), "NotFoundException");
    assert.equal(await errorCode(describeKey(admin(), { KeyId: "alias/doomed" })), "NotFoundException");
    const aliases = await listAliases(admin(), {});
    assert.equal(
      aliases.Aliases?.some((a) => a.AliasName === "alias/doomed"),
      false,
    );
    assert.equal(await errorCode(decrypt(admin(), { CiphertextBlob })), "InvalidCiphertextException");
    assert.equal(await services.store.getKeyMaterial(keyId, 1), undefined);
    assert.equal((await services.store.listTags(keyId, null, 50)).items.length, 0);
  });

  test("a cancelled deletion leaves the key Disabled and it is never deleted", async () => {
    const { keyId } = await newKey();
    await scheduleKeyDeletion(admin(), { KeyId: keyId });
    await cancelKeyDeletion(admin(), { KeyId: keyId });
    clock = new Date(clock.getTime() + 31 * DAY);
    await deleteDueKeys(services);
    const metadata = (await describeKey(admin(), { KeyId: keyId })).KeyMetadata;
    assert.equal(metadata?.KeyState, "Disabled");
    assert.equal(metadata?.DeletionDate, undefined);
  });
});

/** AWS's key-state table for the operations Trent implements: state → operation → outcome. */
const KEY_STATE_TABLE: Record<string, Record<string, string>> = {
  Enabled: {
    Encrypt: "ok",
    GenerateDataKey: "ok",
    GenerateDataKeyPair: "ok",
    Decrypt: "ok",
    DescribeKey: "ok",
    ListResourceTags: "ok",
    TagResource: "ok",
    UpdateKeyDescription: "ok",
    CreateAlias: "ok",
    EnableKey: "ok",
    DisableKey: "ok",
    CancelKeyDeletion: "KMSInvalidStateException",
    ScheduleKeyDeletion: "ok",
  },
  Disabled: {
    Encrypt: "DisabledException",
    GenerateDataKey: "DisabledException",
    GenerateDataKeyPair: "DisabledException",
    Decrypt: "DisabledException",
    DescribeKey: "ok",
    ListResourceTags: "ok",
    TagResource: "ok",
    UpdateKeyDescription: "ok",
    CreateAlias: "ok",
    EnableKey: "ok",
    DisableKey: "ok",
    CancelKeyDeletion: "KMSInvalidStateException",
    ScheduleKeyDeletion: "ok",
  },
  PendingDeletion: {
    Encrypt: "KMSInvalidStateException",
    GenerateDataKey: "KMSInvalidStateException",
    GenerateDataKeyPair: "KMSInvalidStateException",
    Decrypt: "KMSInvalidStateException",
    DescribeKey: "ok",
    ListResourceTags: "ok",
    TagResource: "KMSInvalidStateException",
    UpdateKeyDescription: "KMSInvalidStateException",
    CreateAlias: "KMSInvalidStateException",
    EnableKey: "KMSInvalidStateException",
    DisableKey: "KMSInvalidStateException",
    CancelKeyDeletion: "ok",
    ScheduleKeyDeletion: "KMSInvalidStateException",
  },
};

let aliasCounter = 0;
const OPERATIONS: Record<string, (keyId: string, blob: Uint8Array) => Promise<unknown>> = {
  Encrypt: (KeyId) => encrypt(admin(), { KeyId, Plaintext: Buffer.from("x") }),
  GenerateDataKey: (KeyId) => generateDataKey(admin(), { KeyId, KeySpec: "AES_256" }),
  GenerateDataKeyPair: (KeyId) => generateDataKeyPair(admin(), { KeyId, KeyPairSpec: "ECC_NIST_P256" }),
  Decrypt: (_, CiphertextBlob) => decrypt(admin(), { CiphertextBlob }),
  DescribeKey: (KeyId) => describeKey(admin(), { KeyId }),
  ListResourceTags: (KeyId) => listResourceTags(admin(), { KeyId }),
  TagResource: (KeyId) => tagResource(admin(), { KeyId, Tags: [{ TagKey: "k", TagValue: "v" }] }),
  UpdateKeyDescription: (KeyId) => updateKeyDescription(admin(), { KeyId, Description: "d" }),
  CreateAlias: (TargetKeyId) => createAlias(admin(), { AliasName: `alias/state-${++aliasCounter}`, TargetKeyId }),
  EnableKey: (KeyId) => enableKey(admin(), { KeyId }),
  DisableKey: (KeyId) => disableKey(admin(), { KeyId }),
  CancelKeyDeletion: (KeyId) => cancelKeyDeletion(admin(), { KeyId }),
  ScheduleKeyDeletion: (KeyId) => scheduleKeyDeletion(admin(), { KeyId }),
};

describe("key states, as AWS's key-state table lists them", () => {
  for (const [state, outcomes] of Object.entries(KEY_STATE_TABLE)) {
    for (const [operation, expected] of Object.entries(outcomes)) {
      test(`${operation} on a ${state} key: ${expected}`, async () => {
        const { keyId } = await newKey();
        const { CiphertextBlob } = await encrypt(admin(), { KeyId: keyId, Plaintext: Buffer.from("x") });
        if (state === "Disabled") await disableKey(admin(), { KeyId: keyId });
        if (state === "PendingDeletion") await scheduleKeyDeletion(admin(), { KeyId: keyId });
        assert.equal(
          await errorCode(
            (OPERATIONS[operation] as NonNullable<(typeof OPERATIONS)[string]>)(keyId, CiphertextBlob as Uint8Array),
          ),
          expected,
        );
      });
    }
  }
});

describe("accounts and regions", () => {
  test("another account's key is not found by key id, and denied by key ARN", async () => {
    const { keyId, arn } = await newKey();
    const stranger = as(callerIn(OTHER_ACCOUNT));
    assert.equal(await errorCode(describeKey(stranger, { KeyId: keyId })), "NotFoundException");
    assert.equal(await errorCode(describeKey(stranger, { KeyId: arn })), "AccessDeniedException");
  });

  test("a key lives in the region it was created in", async () => {
    const { keyId } = await newKey();
    const elsewhere = as(callerIn(ACCOUNT, "eu-west-1"));
    assert.equal(await errorCode(describeKey(elsewhere, { KeyId: keyId })), "NotFoundException");
    assert.equal(await errorCode(describeKey(admin(), { KeyId: keyId })), "ok");
  });
});

describe("root of trust", () => {
  test("backing keys are wrapped with their key id bound: material moved to another key does not unwrap", async () => {
    const root = KeyFileRoot.fromBase64(randomBytes(32).toString("base64"));
    const wrapped = await root.wrap(Buffer.alloc(32, 7), "trent/backing-key/a/1");
    assert.deepEqual(await root.unwrap(wrapped, "trent/backing-key/a/1"), Buffer.alloc(32, 7));
    await assert.rejects(root.unwrap(wrapped, "trent/backing-key/b/1"), RootKeyError);
    await assert.rejects(root.unwrap(wrapped, "trent/backing-key/a/2"), RootKeyError);
  });

  test("a data directory refuses to open under a different root key", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "trent-root-"));
    try {
      const first = await openDataDirectory(dataDir, randomBytes(32).toString("base64"));
      await first.store.close();
      await assert.rejects(openDataDirectory(dataDir, randomBytes(32).toString("base64")), RootKeyError);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("the store holds no backing key in plaintext", async () => {
    const { keyId } = await newKey();
    const plaintext = await services.backingKeys.get({ keyId, region: "us-east-1" }, 1);
    const wrapped = await services.store.getKeyMaterial(keyId, 1);
    assert.ok(plaintext && wrapped);
    assert.equal(wrapped.includes(plaintext), false);
  });
});

describe("SM2", () => {
  test("SM2 data key pairs are refused when the service is configured without SM2, as AWS does outside China", async () => {
    const { keyId } = await newKey();
    const withoutSm2 = { ...admin(), services: { ...services, allowSm2: false } };
    assert.equal(
      await errorCode(generateDataKeyPair(withoutSm2, { KeyId: keyId, KeyPairSpec: "SM2" })),
      "UnsupportedOperationException",
    );
    assert.equal(await errorCode(generateDataKeyPair(admin(), { KeyId: keyId, KeyPairSpec: "SM2" })), "ok");
  });
});
