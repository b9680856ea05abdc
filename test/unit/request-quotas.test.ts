import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { KeySpec } from "@aws-sdk/client-kms";
import { KmsError, ThrottlingException } from "../../src/domain/errors.js";
import { KEY_SPECS } from "../../src/domain/key-specs.js";
import { ALIBABA_OPERATIONS } from "../../src/ops/alibaba/index.js";
import type { OperationContext } from "../../src/ops/context.js";
import { createKey } from "../../src/ops/create-key.js";
import { describeKey } from "../../src/ops/describe-key.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { KMS_OPERATIONS } from "../../src/ops/index.js";
import { reEncrypt } from "../../src/ops/re-encrypt.js";
import {
  AWS_DEFAULT_QUOTAS,
  KEY_TYPED_OPERATIONS,
  keyTypeQuotaClass,
  operationQuotaClass,
} from "../../src/quota/quota-classes.js";
import {
  AWS_DEFAULT_SETTINGS,
  parseQuotaFile,
  QuotaFileError,
  type QuotaSettings,
  quotaSettingsOf,
} from "../../src/quota/quota-settings.js";
import { THROTTLING_MESSAGE, TokenBucketQuotas } from "../../src/quota/request-quotas.js";
import { openTestServices, type TestServices, testCaller, testKey } from "../support/services.js";

const ALICE = testCaller("111122223333");
const BOB = testCaller("444455556666");

/** A clock the test moves by hand, in milliseconds. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let now = 1_000;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

function settings(text: string): QuotaSettings {
  return parseQuotaFile(text, "test quotas");
}

/** How many of `attempts` calls were admitted, all at one instant. */
function admitted(attempts: number, call: () => void): number {
  let count = 0;
  for (let i = 0; i < attempts; i++) {
    try {
      call();
      count++;
    } catch (error) {
      if (!(error instanceof ThrottlingException)) throw error;
    }
  }
  return count;
}

describe("AWS's default quotas", () => {
  test("match the developer guide's request quotas table for the operations Trent serves", () => {
    assert.equal(AWS_DEFAULT_QUOTAS.CreateKey, 5);
    assert.equal(AWS_DEFAULT_QUOTAS.DescribeKey, 2_000);
    assert.equal(AWS_DEFAULT_QUOTAS.CreateGrant, 50);
    assert.equal(AWS_DEFAULT_QUOTAS.ListKeys, 500);
    assert.equal(AWS_DEFAULT_QUOTAS["Cryptographic operations (symmetric)"], 10_000);
    assert.equal(AWS_DEFAULT_QUOTAS["Cryptographic operations (RSA)"], 1_000);
    assert.equal(AWS_DEFAULT_QUOTAS["GenerateDataKeyPair (RSA_4096)"], 1);
    assert.equal(AWS_DEFAULT_QUOTAS["GenerateDataKeyPair (ECC_NIST_P256)"], 100);
  });

  test("classify every operation of both edges, by name or by the key it uses", () => {
    for (const name of [...Object.keys(KMS_OPERATIONS), ...Object.keys(ALIBABA_OPERATIONS)]) {
      const byName = operationQuotaClass(name) !== undefined;
      assert.notEqual(byName, KEY_TYPED_OPERATIONS.has(name), `${name} must be classified exactly one way`);
    }
    assert.equal(operationQuotaClass("GenerateRandom"), "Cryptographic operations (symmetric)");
    assert.equal(operationQuotaClass("Encrypt"), undefined);
  });

  test("put every key spec in the shared quota of its type, HMAC keys with the symmetric ones", () => {
    const expected: Record<string, string> = {
      SYMMETRIC_DEFAULT: "symmetric",
      HMAC_224: "symmetric",
      HMAC_512: "symmetric",
      RSA_2048: "RSA",
      RSA_4096: "RSA",
      ECC_NIST_P256: "ECC and SM2",
      ECC_SECG_P256K1: "ECC and SM2",
      ECC_NIST_EDWARDS25519: "ECC and SM2",
      SM2: "ECC and SM2",
      ML_DSA_65: "ML-DSA",
    };
    for (const [spec, kind] of Object.entries(expected)) {
      assert.equal(keyTypeQuotaClass(spec as KeySpec), `Cryptographic operations (${kind})`, spec);
    }
    for (const spec of Object.keys(KEY_SPECS)) assert.match(keyTypeQuotaClass(spec as KeySpec), /^Cryptographic/);
  });
});

describe("token buckets", () => {
  test("admit a burst of one second's quota, then refuse with AWS's ThrottlingException", () => {
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: manualClock().now });
    assert.equal(
      admitted(20, () => quotas.admit(ALICE, "CreateKey")),
      5,
    );
    assert.throws(
      () => quotas.admit(ALICE, "CreateKey"),
      (error: unknown) =>
        error instanceof KmsError &&
        error.code === "ThrottlingException" &&
        error.status === 400 &&
        error.message === THROTTLING_MESSAGE,
    );
  });

  test("refill at the quota's rate and never hold more than one second of it", () => {
    const clock = manualClock();
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: clock.now });
    assert.equal(
      admitted(5, () => quotas.admit(ALICE, "CreateKey")),
      5,
    );
    clock.advance(199);
    assert.equal(
      admitted(1, () => quotas.admit(ALICE, "CreateKey")),
      0,
    );
    clock.advance(1);
    assert.equal(
      admitted(2, () => quotas.admit(ALICE, "CreateKey")),
      1,
    );
    clock.advance(60_000);
    assert.equal(
      admitted(20, () => quotas.admit(ALICE, "CreateKey")),
      5,
    );
  });

  test("a rate below one per second admits one request per interval", () => {
    const clock = manualClock();
    const quotas = new TokenBucketQuotas(settings('{"rates": {"CreateAlias": 0.25}}'), { clock: clock.now });
    assert.equal(
      admitted(3, () => quotas.admit(ALICE, "CreateAlias")),
      1,
    );
    clock.advance(3_999);
    assert.equal(
      admitted(1, () => quotas.admit(ALICE, "CreateAlias")),
      0,
    );
    clock.advance(1);
    assert.equal(
      admitted(1, () => quotas.admit(ALICE, "CreateAlias")),
      1,
    );
  });

  test("each class is counted on its own", () => {
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: manualClock().now });
    assert.equal(
      admitted(10, () => quotas.admit(ALICE, "CreateKey")),
      5,
    );
    assert.equal(
      admitted(10, () => quotas.admit(ALICE, "CreateAlias")),
      5,
    );
    assert.equal(
      admitted(100, () => quotas.admit(ALICE, "DescribeKey")),
      100,
    );
  });

  test("cryptographic uses share one quota per key type", () => {
    const quotas = new TokenBucketQuotas(
      settings(
        '{"rates": {"Cryptographic operations (symmetric)": 4, "Cryptographic operations (RSA)": 2, "Cryptographic operations (ECC and SM2)": 3}}',
      ),
      { clock: manualClock().now },
    );
    const use = (action: string, keySpec: KeySpec) => () =>
      quotas.admitKeyUse(ALICE, action, testKey({ keySpec }), undefined);
    assert.equal(admitted(2, use("kms:Encrypt", "SYMMETRIC_DEFAULT")), 2);
    assert.equal(admitted(1, use("kms:GenerateMac", "HMAC_256")), 1);
    assert.equal(
      admitted(1, () => quotas.admit(ALICE, "GenerateRandom")),
      1,
    );
    assert.equal(admitted(5, use("kms:Decrypt", "SYMMETRIC_DEFAULT")), 0, "symmetric and HMAC spent together");
    assert.equal(admitted(5, use("kms:Sign", "RSA_2048")), 2);
    assert.equal(admitted(5, use("kms:Verify", "ECC_NIST_P256")), 3);
    assert.equal(admitted(5, use("kms:DeriveSharedSecret", "SM2")), 0, "SM2 shares the ECC quota");
    // Management actions on a key were charged by their operation's name, not here.
    assert.equal(admitted(50, use("kms:DescribeKey", "SYMMETRIC_DEFAULT")), 50);
  });

  test("data key pairs are charged to their spec's quota, not the key's shared quota", () => {
    const clock = manualClock();
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: clock.now });
    const key = testKey();
    const pair = (spec: "RSA_4096" | "RSA_2048" | "ECC_NIST_P256") => () =>
      quotas.admitKeyUse(ALICE, "kms:GenerateDataKeyPairWithoutPlaintext", key, spec);
    assert.equal(admitted(5, pair("RSA_4096")), 1);
    assert.equal(admitted(50, pair("RSA_2048")), 20);
    assert.equal(admitted(200, pair("ECC_NIST_P256")), 100);
    clock.advance(1_000);
    assert.equal(admitted(5, pair("RSA_4096")), 1);
    assert.equal(
      admitted(10_000, () => quotas.admitKeyUse(ALICE, "kms:Encrypt", key, undefined)),
      10_000,
    );
  });

  test("accounts and regions have buckets of their own, and a quota file can set one account's rates", () => {
    const quotas = new TokenBucketQuotas(settings('{"accounts": {"444455556666": {"CreateKey": 1}}}'), {
      clock: manualClock().now,
    });
    assert.equal(
      admitted(10, () => quotas.admit(ALICE, "CreateKey")),
      5,
    );
    assert.equal(
      admitted(10, () => quotas.admit(testCaller("111122223333", "eu-west-1"), "CreateKey")),
      5,
    );
    assert.equal(
      admitted(10, () => quotas.admit(BOB, "CreateKey")),
      1,
    );
    assert.equal(
      admitted(10, () => quotas.admit(BOB, "CreateAlias")),
      5,
    );
  });

  test("with N worker processes each enforces 1/N of every rate", () => {
    const clock = manualClock();
    const worker = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { processes: 2, clock: clock.now });
    assert.equal(worker.rateOf(ALICE.accountId, "CreateKey"), 2.5);
    assert.equal(
      admitted(10, () => worker.admit(ALICE, "CreateKey")),
      2,
    );
    clock.advance(1_000);
    assert.equal(
      admitted(10, () => worker.admit(ALICE, "CreateKey")),
      2,
      "a burst holds 2.5 tokens",
    );
    clock.advance(400);
    assert.equal(
      admitted(10, () => worker.admit(ALICE, "CreateKey")),
      1,
    );
    const fourWorkers = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { processes: 4, clock: clock.now });
    assert.equal(
      admitted(10, () => fourWorkers.admit(ALICE, "DescribeKey")),
      10,
    );
    assert.equal(
      admitted(1_000, () => fourWorkers.admit(BOB, "DescribeKey")),
      500,
    );
    assert.throws(() => new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { processes: 0 }), RangeError);
  });

  test("buckets that have refilled are dropped, and their number is capped", () => {
    const clock = manualClock();
    const quotas = new TokenBucketQuotas(AWS_DEFAULT_SETTINGS, { clock: clock.now, maxBuckets: 1_000 });
    for (let i = 0; i < 500; i++) quotas.admit(testCaller(String(100000000000 + i)), "CreateKey");
    assert.equal(quotas.size, 500);
    clock.advance(10_000);
    quotas.admit(ALICE, "CreateKey");
    assert.equal(quotas.size, 1);
    for (let i = 0; i < 5_000; i++) quotas.admit(testCaller("111122223333", `made-up-${i}`), "CreateKey");
    assert.equal(quotas.size, 1_000);
  });
});

describe("quota files", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "trent-quotas-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("override AWS's defaults class by class and keep the rest", () => {
    const file = join(dir, "quotas.json");
    writeFileSync(file, '{"rates": {"CreateKey": 50, "Cryptographic operations (symmetric)": 100000}}');
    const loaded = quotaSettingsOf(file);
    assert.equal(loaded?.rates.CreateKey, 50);
    assert.equal(loaded?.rates["Cryptographic operations (symmetric)"], 100_000);
    assert.equal(loaded?.rates.CreateAlias, 5);
    assert.equal(quotaSettingsOf("off"), null);
    assert.equal(quotaSettingsOf(false), null);
    assert.equal(quotaSettingsOf(undefined), AWS_DEFAULT_SETTINGS);
    assert.equal(quotaSettingsOf("default"), AWS_DEFAULT_SETTINGS);
  });

  test("refuse what they cannot mean, saying why", () => {
    const refusals: [string, RegExp][] = [
      ["not json", /not JSON/],
      ["[]", /JSON object/],
      ['{"rate": {}}', /unknown member rate/],
      ['{"rates": {"CreateKeys": 5}}', /unknown quota class "CreateKeys"; the classes are Cryptographic/],
      ['{"rates": {"CreateKey": 0}}', /"CreateKey" must be a positive number/],
      ['{"rates": {"CreateKey": "5"}}', /"CreateKey" must be a positive number/],
      ['{"accounts": {"12345": {}}}', /12345 is not a 12-digit account id/],
      ['{"accounts": {"111122223333": {"CreateKey": -1}}}', /accounts.111122223333: "CreateKey" must be a positive/],
    ];
    for (const [text, message] of refusals) {
      assert.throws(
        () => parseQuotaFile(text, "q.json"),
        (error: unknown) => {
          assert.ok(error instanceof QuotaFileError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
    assert.throws(() => quotaSettingsOf(join(dir, "missing.json")), /cannot read the quota file/);
  });
});

describe("the key-use check where operations resolve their key", () => {
  let fixture: TestServices;
  let quotas: TokenBucketQuotas;
  const context = (): OperationContext => ({
    caller: ALICE,
    services: { ...fixture.services, quotas },
    resources: [],
    grantTokens: [],
  });
  before(() => {
    fixture = openTestServices({ now: () => new Date() });
  });
  after(() => fixture.close());

  test("charges a cryptographic operation to its key's type once per key, and a management one nothing", async () => {
    quotas = new TokenBucketQuotas(settings('{"rates": {"Cryptographic operations (symmetric)": 3}}'), {
      clock: manualClock().now,
    });
    const keyId = (await createKey(context(), {})).KeyMetadata?.KeyId as string;
    for (let i = 0; i < 10; i++) await describeKey(context(), { KeyId: keyId });
    const blob = (await encrypt(context(), { KeyId: keyId, Plaintext: Buffer.from("x") })).CiphertextBlob;
    // ReEncrypt from and to the same key is one use of it.
    await reEncrypt(context(), { CiphertextBlob: blob, SourceKeyId: keyId, DestinationKeyId: keyId });
    await encrypt(context(), { KeyId: keyId, Plaintext: Buffer.from("x") });
    await assert.rejects(encrypt(context(), { KeyId: keyId, Plaintext: Buffer.from("x") }), ThrottlingException);
  });
});
