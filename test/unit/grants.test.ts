import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { CreateGrantRequest } from "@aws-sdk/client-kms";
import type { KmsKey } from "../../src/domain/key.js";
import type { Caller } from "../../src/domain/principal.js";
import type { OperationContext, Services } from "../../src/ops/context.js";
import { createAlias } from "../../src/ops/create-alias.js";
import { createGrant } from "../../src/ops/create-grant.js";
import { createKey } from "../../src/ops/create-key.js";
import { disableKey } from "../../src/ops/disable-key.js";
import { KMS_OPERATIONS } from "../../src/ops/index.js";
import { listGrants } from "../../src/ops/list-grants.js";
import { listRetirableGrants } from "../../src/ops/list-retirable-grants.js";
import { retireGrant } from "../../src/ops/retire-grant.js";
import { revokeGrant } from "../../src/ops/revoke-grant.js";
import { scheduleKeyDeletion } from "../../src/ops/schedule-key-deletion.js";
import {
  constraintsAtLeastAsStrict,
  grantAllows,
  grantIdFromToken,
  grantOperationForAction,
  grantOperationsForKey,
  issueGrantToken,
  newGrantId,
} from "../../src/policy/grants.js";
import type { GrantConstraints } from "../../src/store/store.js";
import { errorCode, openTestServices, type TestServices } from "../support/services.js";

const ACCOUNT = "111122223333";
const OTHER_ACCOUNT = "444455556666";
const userArn = (accountId: string, name: string) => `arn:aws:iam::${accountId}:user/${name}`;
const ALICE = userArn(ACCOUNT, "alice");
const BOB = userArn(ACCOUNT, "bob");

let fixture: TestServices;
let services: Services;
const clock = new Date("2026-01-01T00:00:00Z");

function callerAs(principalArn: string, accountId = ACCOUNT, region = "us-east-1"): Caller {
  return {
    principalArn,
    principalId: "AIDATESTER",
    accountId,
    accessKeyId: "AKIATEST",
    region,
    sourceIp: "127.0.0.1",
    secureTransport: false,
  };
}

function as(caller: Caller): OperationContext {
  return { caller, services, resources: [], grantTokens: [] };
}

const admin = () => as(callerAs(userArn(ACCOUNT, "admin")));
const user = (principalArn: string) => {
  const accountId = /^arn:aws:iam::(\d{12}):/.exec(principalArn)?.[1] ?? ACCOUNT;
  return as(callerAs(principalArn, accountId));
};

async function newKey(): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await createKey(admin(), {});
  return { keyId: KeyMetadata?.KeyId as string, arn: KeyMetadata?.Arn as string };
}

async function grant(keyId: string, request: Partial<CreateGrantRequest> = {}) {
  const { GrantId, GrantToken } = await createGrant(admin(), {
    KeyId: keyId,
    GranteePrincipal: ALICE,
    Operations: ["Encrypt", "Decrypt"],
    ...request,
  });
  return { grantId: GrantId as string, token: GrantToken as string };
}

async function grantIds(keyId: string): Promise<string[]> {
  return ((await listGrants(admin(), { KeyId: keyId })).Grants ?? []).map((entry) => entry.GrantId as string);
}

before(() => {
  fixture = openTestServices({ now: () => clock });
  services = fixture.services;
});

after(() => fixture.close());

describe("grant tokens", () => {
  test("a token names its grant, and every token issued for a grant is different", () => {
    const grantId = newGrantId();
    assert.match(grantId, /^[0-9a-f]{64}$/);
    const first = issueGrantToken(grantId);
    const second = issueGrantToken(grantId);
    assert.notEqual(first, second);
    assert.match(first, /^[A-Za-z0-9_-]+$/);
    assert.equal(grantIdFromToken(first), grantId);
    assert.equal(grantIdFromToken(second), grantId);
  });

  const token = issueGrantToken(newGrantId());
  const malformed: Record<string, string> = {
    "not base64url": "not a token!",
    "another encoding of the same bytes": `${token}=`,
    "a truncated token": token.slice(0, -4),
    "a token with bytes appended": `${token}AAAA`,
    "the wrong leading bytes": Buffer.concat([Buffer.from([0x54, 0x02]), randomBytes(64)]).toString("base64url"),
    "an AWS-style token": "AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFlNTIzODZhMzgy",
  };
  for (const [what, value] of Object.entries(malformed)) {
    test(`${what} is an InvalidGrantTokenException`, () => {
      assert.throws(() => grantIdFromToken(value), { name: "InvalidGrantTokenException" });
    });
  }
});

describe("grantAllows", () => {
  const subset: GrantConstraints = { EncryptionContextSubset: { Department: "IT", Purpose: "Test" } };
  const equals: GrantConstraints = { EncryptionContextEquals: { Department: "IT" } };
  const operations = ["Encrypt", "Decrypt", "ReEncryptFrom", "DescribeKey", "RetireGrant", "CreateGrant"];
  const cases: [string, GrantConstraints | null, string, Record<string, string> | undefined, boolean][] = [
    ["a listed operation without constraints", null, "Encrypt", undefined, true],
    ["an operation the grant does not list", null, "GenerateDataKey", undefined, false],
    ["Subset: the same pairs", subset, "Decrypt", { Purpose: "Test", Department: "IT" }, true],
    ["Subset: the pairs and more", subset, "Decrypt", { Department: "IT", Purpose: "Test", Customer: "1" }, true],
    ["Subset: a pair missing", subset, "Decrypt", { Department: "IT" }, false],
    ["Subset: a value differing in case", subset, "Decrypt", { Department: "it", Purpose: "Test" }, false],
    [
      "Subset: keys differing in case (keys are case-insensitive)",
      subset,
      "Decrypt",
      { department: "IT", purpose: "Test" },
      true,
    ],
    ["Subset: no encryption context", subset, "Encrypt", undefined, false],
    [
      "Subset: two keys differing only by case",
      subset,
      "Encrypt",
      { Department: "IT", department: "IT", Purpose: "Test" },
      false,
    ],
    ["Equals: the same pair", equals, "Encrypt", { Department: "IT" }, true],
    ["Equals: the pair and more", equals, "Encrypt", { Department: "IT", Purpose: "Test" }, false],
    ["Equals: another value", equals, "Encrypt", { Department: "HR" }, false],
    ["Equals: a key differing in case", equals, "ReEncryptFrom", { DEPARTMENT: "IT" }, true],
    ["Equals: an empty context", equals, "Encrypt", {}, false],
    ["constraints do not apply to DescribeKey", equals, "DescribeKey", undefined, true],
    ["constraints do not apply to RetireGrant", subset, "RetireGrant", undefined, true],
  ];
  for (const [what, constraints, operation, context, expected] of cases) {
    test(`${what}: ${expected ? "allowed" : "not allowed"}`, () => {
      assert.equal(grantAllows({ operations, constraints }, operation, context), expected);
    });
  }

  test("a constrained grant allows no operation that takes no encryption context", () => {
    assert.equal(grantAllows({ operations: ["Sign"], constraints: equals }, "Sign", undefined), false);
    assert.equal(grantAllows({ operations: ["Sign"], constraints: null }, "Sign", undefined), true);
  });

  test("CreateGrant through a grant: a subset of its operations, constraints at least as strict", () => {
    const parent = { operations: ["Decrypt", "GenerateDataKey", "CreateGrant"], constraints: subset };
    const allows = (operations: string[], constraints: GrantConstraints | null) =>
      grantAllows(parent, "CreateGrant", undefined, { operations, constraints });
    assert.equal(allows(["Decrypt", "CreateGrant"], subset), true);
    assert.equal(allows(["Decrypt", "Encrypt"], subset), false);
    assert.equal(allows(["Decrypt"], null), false);
    assert.equal(allows(["Decrypt"], { EncryptionContextEquals: { Department: "IT", Purpose: "Test", X: "1" } }), true);
    assert.equal(grantAllows(parent, "CreateGrant", undefined), false, "without the requested grant");
  });

  const strictness: [string, GrantConstraints | null, GrantConstraints | null, boolean][] = [
    ["anything under no constraint", null, null, true],
    ["no constraint under a constraint", { EncryptionContextSubset: { A: "1" } }, null, false],
    [
      "a Subset adding pairs",
      { EncryptionContextSubset: { A: "1" } },
      { EncryptionContextSubset: { A: "1", B: "2" } },
      true,
    ],
    [
      "a Subset removing pairs",
      { EncryptionContextSubset: { A: "1", B: "2" } },
      { EncryptionContextSubset: { A: "1" } },
      false,
    ],
    [
      "an Equals under a Subset",
      { EncryptionContextSubset: { A: "1" } },
      { EncryptionContextEquals: { A: "1", B: "2" } },
      true,
    ],
    [
      "a Subset under an Equals",
      { EncryptionContextEquals: { A: "1" } },
      { EncryptionContextSubset: { A: "1" } },
      false,
    ],
    ["the same Equals", { EncryptionContextEquals: { A: "1" } }, { EncryptionContextEquals: { a: "1" } }, true],
    ["another Equals", { EncryptionContextEquals: { A: "1" } }, { EncryptionContextEquals: { A: "1", B: "2" } }, false],
  ];
  for (const [what, parent, child, expected] of strictness) {
    test(`child constraints: ${what} is ${expected ? "" : "not "}as strict`, () => {
      assert.equal(constraintsAtLeastAsStrict(parent, child), expected);
    });
  }
});

describe("grant operations", () => {
  const actions: [string, string | null][] = [
    ["kms:Encrypt", "Encrypt"],
    ["kms:ReEncryptFrom", "ReEncryptFrom"],
    ["kms:GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyPairWithoutPlaintext"],
    ["kms:CreateGrant", "CreateGrant"],
    ["kms:DescribeKey", "DescribeKey"],
    ["KMS:decrypt", "Decrypt"],
    ["kms:RetireGrant", null],
    ["kms:ScheduleKeyDeletion", null],
    ["kms:ReEncrypt*", null],
  ];
  for (const [action, operation] of actions) {
    test(`${action} → ${operation}`, () => assert.equal(grantOperationForAction(action), operation));
  }

  test("a symmetric encryption key supports exactly the operations AWS lists", () => {
    const symmetric = { keySpec: "SYMMETRIC_DEFAULT", keyUsage: "ENCRYPT_DECRYPT" } as Pick<
      KmsKey,
      "keySpec" | "keyUsage"
    >;
    assert.deepEqual([...grantOperationsForKey(symmetric)].sort(), [
      "CreateGrant",
      "Decrypt",
      "DescribeKey",
      "Encrypt",
      "GenerateDataKey",
      "GenerateDataKeyPair",
      "GenerateDataKeyPairWithoutPlaintext",
      "GenerateDataKeyWithoutPlaintext",
      "ReEncryptFrom",
      "ReEncryptTo",
      "RetireGrant",
    ]);
    const signing = { keySpec: "ECC_NIST_P256", keyUsage: "SIGN_VERIFY" } as Pick<KmsKey, "keySpec" | "keyUsage">;
    assert.deepEqual([...grantOperationsForKey(signing)].sort(), [
      "CreateGrant",
      "DescribeKey",
      "GetPublicKey",
      "RetireGrant",
      "Sign",
      "Verify",
    ]);
  });
});

describe("CreateGrant", () => {
  test("the grant is listed as AWS shows it, with a 64-hex id and a token naming it", async () => {
    const { keyId, arn } = await newKey();
    const { GrantId, GrantToken } = await createGrant(admin(), {
      KeyId: arn,
      GranteePrincipal: ALICE,
      RetiringPrincipal: BOB,
      Operations: ["Decrypt", "GenerateDataKey", "Decrypt"],
      Constraints: { EncryptionContextSubset: { Department: "IT" } },
      Name: "it-decrypt",
    });
    assert.match(GrantId as string, /^[0-9a-f]{64}$/);
    assert.equal(grantIdFromToken(GrantToken as string), GrantId);
    const { Grants, Truncated } = await listGrants(admin(), { KeyId: keyId });
    assert.equal(Truncated, false);
    assert.deepEqual(Grants, [
      {
        KeyId: arn,
        GrantId,
        Name: "it-decrypt",
        CreationDate: clock,
        GranteePrincipal: ALICE,
        RetiringPrincipal: BOB,
        IssuingAccount: `arn:aws:iam::${ACCOUNT}:root`,
        Operations: ["Decrypt", "GenerateDataKey"],
        Constraints: { EncryptionContextSubset: { Department: "IT" } },
      },
    ]);
  });

  test("a grant without name, retiring principal or constraints lists none of them", async () => {
    const { keyId } = await newKey();
    await grant(keyId);
    const [entry] = (await listGrants(admin(), { KeyId: keyId })).Grants ?? [];
    assert.deepEqual(Object.keys(entry ?? {}).sort(), [
      "CreationDate",
      "GrantId",
      "GranteePrincipal",
      "IssuingAccount",
      "KeyId",
      "Operations",
    ]);
  });

  test("the same Name with the same parameters returns the existing grant id with a new token", async () => {
    const { keyId } = await newKey();
    const request = {
      Name: "retry",
      Constraints: { EncryptionContextEquals: { a: "1", b: "2" } },
    };
    const first = await grant(keyId, { ...request, Operations: ["Encrypt", "Decrypt"] });
    const retry = await grant(keyId, {
      ...request,
      Operations: ["Decrypt", "Encrypt"],
      Constraints: { EncryptionContextEquals: { b: "2", a: "1" } },
    });
    assert.equal(retry.grantId, first.grantId);
    assert.notEqual(retry.token, first.token);
    assert.equal(grantIdFromToken(retry.token), first.grantId);
    assert.deepEqual(await grantIds(keyId), [first.grantId]);
  });

  test("the same Name on another key is another grant", async () => {
    const [one, two] = [await newKey(), await newKey()];
    const first = await grant(one.keyId, { Name: "shared" });
    const second = await grant(two.keyId, { Name: "shared" });
    assert.notEqual(first.grantId, second.grantId);
  });

  test("without a Name every request creates a new grant", async () => {
    const { keyId } = await newKey();
    const first = await grant(keyId);
    const second = await grant(keyId);
    assert.notEqual(first.grantId, second.grantId);
    assert.equal((await grantIds(keyId)).length, 2);
  });

  const differing: [string, Partial<CreateGrantRequest>][] = [
    ["another grantee", { GranteePrincipal: BOB }],
    ["other operations", { Operations: ["Encrypt"] }],
    ["a retiring principal", { RetiringPrincipal: BOB }],
    ["a constraint", { Constraints: { EncryptionContextSubset: { a: "1" } } }],
  ];
  for (const [what, change] of differing) {
    test(`the same Name with ${what} is refused and creates nothing`, async () => {
      const { keyId } = await newKey();
      await grant(keyId, { Name: "taken" });
      assert.equal(await errorCode(grant(keyId, { Name: "taken", ...change })), "AlreadyExistsException");
      assert.equal((await grantIds(keyId)).length, 1);
    });
  }

  const invalid: [string, Partial<CreateGrantRequest>][] = [
    ["Sign on a symmetric encryption key", { Operations: ["Encrypt", "Sign"] }],
    ["Verify on a symmetric encryption key", { Operations: ["Verify"] }],
    ["GetPublicKey on a symmetric encryption key", { Operations: ["GetPublicKey"] }],
    ["GenerateMac on a symmetric encryption key", { Operations: ["GenerateMac"] }],
    ["VerifyMac on a symmetric encryption key", { Operations: ["VerifyMac"] }],
    ["DeriveSharedSecret on a symmetric encryption key", { Operations: ["DeriveSharedSecret"] }],
    ["no operation", { Operations: [] }],
    ["only CreateGrant", { Operations: ["CreateGrant"] }],
    [
      "more than 8 constraint pairs",
      { Constraints: { EncryptionContextSubset: Object.fromEntries([...Array(9).keys()].map((i) => [`k${i}`, "v"])) } },
    ],
    ["a constraint value over 384 characters", { Constraints: { EncryptionContextEquals: { k: "v".repeat(385) } } }],
  ];
  for (const [what, change] of invalid) {
    test(`${what} is a ValidationException`, async () => {
      const { keyId } = await newKey();
      assert.equal(await errorCode(grant(keyId, change)), "ValidationException");
      assert.deepEqual(await grantIds(keyId), []);
    });
  }

  test("constraints with DescribeKey, RetireGrant and CreateGrant are accepted", async () => {
    const { keyId } = await newKey();
    const operations = ["Decrypt", "DescribeKey", "RetireGrant", "CreateGrant"] as const;
    await grant(keyId, { Operations: [...operations], Constraints: { EncryptionContextEquals: { a: "b" } } });
    assert.equal((await grantIds(keyId)).length, 1);
  });

  const states: [string, (keyId: string) => Promise<unknown>, string][] = [
    ["Disabled", (KeyId) => disableKey(admin(), { KeyId }), "DisabledException"],
    ["PendingDeletion", (KeyId) => scheduleKeyDeletion(admin(), { KeyId }), "KMSInvalidStateException"],
  ];
  for (const [state, enter, expected] of states) {
    test(`on a ${state} key: ${expected}`, async () => {
      const { keyId } = await newKey();
      await enter(keyId);
      assert.equal(await errorCode(grant(keyId)), expected);
    });
  }

  test("DryRun checks everything and creates nothing", async () => {
    const { keyId } = await newKey();
    assert.equal(await errorCode(grant(keyId, { DryRun: true })), "DryRunOperationException");
    assert.equal(await errorCode(grant(keyId, { DryRun: true, Operations: ["Sign"] })), "ValidationException");
    assert.deepEqual(await grantIds(keyId), []);
    await grant(keyId, { Name: "dry" });
    assert.equal(await errorCode(grant(keyId, { Name: "dry", DryRun: true })), "DryRunOperationException");
  });

  test("another account's key is denied, an unknown key is not found, an alias resolves", async () => {
    const { keyId, arn } = await newKey();
    await createAlias(admin(), { AliasName: "alias/granted", TargetKeyId: keyId });
    const stranger = as(callerAs(userArn(OTHER_ACCOUNT, "eve"), OTHER_ACCOUNT));
    const request = { GranteePrincipal: ALICE, Operations: ["Encrypt" as const] };
    assert.equal(await errorCode(createGrant(stranger, { KeyId: arn, ...request })), "AccessDeniedException");
    assert.equal(
      await errorCode(createGrant(admin(), { KeyId: "11111111-2222-3333-4444-555555555555", ...request })),
      "NotFoundException",
    );
    assert.equal(await errorCode(createGrant(admin(), { KeyId: "alias/granted", ...request })), "ok");
  });

  test("the policy conditions AWS documents for CreateGrant reach the authorizer", async () => {
    const { keyId } = await newKey();
    const seen: Record<string, unknown>[] = [];
    const context: OperationContext = {
      ...admin(),
      services: {
        ...services,
        authorizer: {
          authorize: async (request) => {
            seen.push({ action: request.action, ...request.conditions });
          },
        },
      },
    };
    await createGrant(context, {
      KeyId: keyId,
      GranteePrincipal: ALICE,
      RetiringPrincipal: BOB,
      Operations: ["Encrypt", "Decrypt"],
      Constraints: { EncryptionContextEquals: { a: "1" } },
    });
    assert.deepEqual(seen, [
      {
        action: "kms:CreateGrant",
        "kms:GrantOperations": ["Encrypt", "Decrypt"],
        "kms:GranteePrincipal": ALICE,
        "kms:RetiringPrincipal": BOB,
        "kms:GrantIsForAWSResource": "false",
        "kms:GrantConstraintType": ["EncryptionContextEquals"],
        "kms:EncryptionContext:a": "1",
        "kms:EncryptionContextKeys": ["a"],
      },
    ]);
  });
});

describe("ListGrants", () => {
  test("pages by Limit and Marker through every grant once", async () => {
    const { keyId } = await newKey();
    const created = new Set<string>();
    for (let i = 0; i < 5; i++) created.add((await grant(keyId)).grantId);
    const listed: string[] = [];
    let Marker: string | undefined;
    for (let pages = 1; ; pages++) {
      const page = await listGrants(admin(), { KeyId: keyId, Limit: 2, ...(Marker ? { Marker } : {}) });
      listed.push(...(page.Grants ?? []).map((entry) => entry.GrantId as string));
      if (!page.Truncated) {
        assert.equal(pages, 3);
        assert.equal(page.NextMarker, undefined);
        break;
      }
      Marker = page.NextMarker;
    }
    assert.deepEqual(new Set(listed), created);
    assert.equal(listed.length, 5);
  });

  test("filters by GrantId and by GranteePrincipal", async () => {
    const { keyId } = await newKey();
    const forAlice = await grant(keyId);
    const forBob = await grant(keyId, { GranteePrincipal: BOB });
    await grant(keyId, { GranteePrincipal: BOB });
    const ids = async (filter: { GrantId?: string; GranteePrincipal?: string; Limit?: number }) =>
      ((await listGrants(admin(), { KeyId: keyId, ...filter })).Grants ?? []).map((entry) => entry.GrantId);
    assert.deepEqual(await ids({ GrantId: forBob.grantId }), [forBob.grantId]);
    assert.deepEqual(await ids({ GranteePrincipal: ALICE }), [forAlice.grantId]);
    assert.equal((await ids({ GranteePrincipal: BOB })).length, 2);
    assert.equal((await listGrants(admin(), { KeyId: keyId, GranteePrincipal: BOB, Limit: 1 })).Truncated, true);
    assert.deepEqual(await ids({ GrantId: forBob.grantId, GranteePrincipal: ALICE }), []);
    const { keyId: otherKey } = await newKey();
    assert.deepEqual(
      ((await listGrants(admin(), { KeyId: otherKey, GrantId: forBob.grantId })).Grants ?? []).length,
      0,
      "a grant of another key",
    );
    assert.equal(await errorCode(listGrants(admin(), { KeyId: keyId, GrantId: "nope" })), "InvalidGrantIdException");
  });

  test("a bad marker, an unknown key and another account's key are refused", async () => {
    const { keyId, arn } = await newKey();
    assert.equal(await errorCode(listGrants(admin(), { KeyId: keyId, Marker: "bogus" })), "InvalidMarkerException");
    assert.equal(
      await errorCode(listGrants(admin(), { KeyId: "11111111-2222-3333-4444-555555555555" })),
      "NotFoundException",
    );
    const stranger = as(callerAs(userArn(OTHER_ACCOUNT, "eve"), OTHER_ACCOUNT));
    assert.equal(await errorCode(listGrants(stranger, { KeyId: arn })), "AccessDeniedException");
  });

  test("grants of a disabled key are still listed", async () => {
    const { keyId } = await newKey();
    await grant(keyId);
    await disableKey(admin(), { KeyId: keyId });
    assert.equal((await grantIds(keyId)).length, 1);
  });
});

describe("ListRetirableGrants", () => {
  test("lists the grants a principal may retire across keys, and only those", async () => {
    const retiring = userArn(ACCOUNT, `retirer-${randomBytes(4).toString("hex")}`);
    const [one, two] = [await newKey(), await newKey()];
    const expected = new Set([
      (await grant(one.keyId, { RetiringPrincipal: retiring })).grantId,
      (await grant(two.keyId, { RetiringPrincipal: retiring })).grantId,
      (await grant(two.keyId, { RetiringPrincipal: retiring })).grantId,
    ]);
    await grant(one.keyId, { RetiringPrincipal: BOB });
    await grant(one.keyId);
    const listed: string[] = [];
    let Marker: string | undefined;
    for (;;) {
      const page = await listRetirableGrants(admin(), {
        RetiringPrincipal: retiring,
        Limit: 2,
        ...(Marker ? { Marker } : {}),
      });
      for (const entry of page.Grants ?? []) {
        listed.push(entry.GrantId as string);
        assert.equal(entry.RetiringPrincipal, retiring);
        assert.match(entry.KeyId as string, /^arn:aws:kms:us-east-1:111122223333:key\//);
      }
      if (!page.Truncated) break;
      Marker = page.NextMarker;
    }
    assert.deepEqual(new Set(listed), expected);
    assert.equal(listed.length, 3);
  });

  test("a retiring principal of another account is refused; grants on another region's keys are left out", async () => {
    assert.equal(
      await errorCode(listRetirableGrants(admin(), { RetiringPrincipal: userArn(OTHER_ACCOUNT, "eve") })),
      "AccessDeniedException",
    );
    const retiring = userArn(ACCOUNT, `regional-${randomBytes(4).toString("hex")}`);
    const { keyId } = await newKey();
    await grant(keyId, { RetiringPrincipal: retiring });
    const west = as(callerAs(userArn(ACCOUNT, "admin"), ACCOUNT, "us-west-2"));
    assert.deepEqual((await listRetirableGrants(west, { RetiringPrincipal: retiring })).Grants, []);
    assert.equal((await listRetirableGrants(admin(), { RetiringPrincipal: retiring })).Grants?.length, 1);
  });

  test("another account sees the grants on our keys that name its principal as retiring principal", async () => {
    const retiring = userArn(OTHER_ACCOUNT, `partner-${randomBytes(4).toString("hex")}`);
    const { keyId } = await newKey();
    const { grantId } = await grant(keyId, { RetiringPrincipal: retiring });
    const partner = as(callerAs(userArn(OTHER_ACCOUNT, "admin"), OTHER_ACCOUNT));
    const { Grants } = await listRetirableGrants(partner, { RetiringPrincipal: retiring });
    assert.deepEqual(
      Grants?.map((entry) => entry.GrantId),
      [grantId],
    );
  });
});

describe("RetireGrant", () => {
  test("by grant token, by the retiring principal", async () => {
    const { keyId } = await newKey();
    const { token } = await grant(keyId, { RetiringPrincipal: BOB });
    assert.equal(await errorCode(retireGrant(user(BOB), { GrantToken: token })), "ok");
    assert.deepEqual(await grantIds(keyId), []);
    assert.equal(await errorCode(retireGrant(user(BOB), { GrantToken: token })), "NotFoundException");
  });

  test("by key ARN and grant id, by the grantee when the grant allows RetireGrant", async () => {
    const { keyId, arn } = await newKey();
    const { grantId } = await grant(keyId, { Operations: ["Decrypt", "RetireGrant"] });
    assert.equal(await errorCode(retireGrant(user(ALICE), { KeyId: arn, GrantId: grantId })), "ok");
    assert.deepEqual(await grantIds(keyId), []);
  });

  test("by key id too, as long as it names the grant's key", async () => {
    const { keyId } = await newKey();
    const { keyId: otherKey } = await newKey();
    const { grantId } = await grant(keyId, { RetiringPrincipal: BOB });
    assert.equal(await errorCode(retireGrant(user(BOB), { KeyId: otherKey, GrantId: grantId })), "NotFoundException");
    assert.equal(await errorCode(retireGrant(user(BOB), { KeyId: keyId, GrantId: grantId })), "ok");
  });

  const strangerOf = (accountId: string) => userArn(accountId, "stranger");
  const cases: [string, Partial<CreateGrantRequest>, string, string][] = [
    [
      "another account's grantee without RetireGrant",
      { GranteePrincipal: strangerOf(OTHER_ACCOUNT) },
      strangerOf(OTHER_ACCOUNT),
      "AccessDeniedException",
    ],
    [
      "another account's grantee with RetireGrant",
      { GranteePrincipal: strangerOf(OTHER_ACCOUNT), Operations: ["Decrypt", "RetireGrant"] },
      strangerOf(OTHER_ACCOUNT),
      "ok",
    ],
    [
      "another account's retiring principal",
      { RetiringPrincipal: strangerOf(OTHER_ACCOUNT) },
      strangerOf(OTHER_ACCOUNT),
      "ok",
    ],
    [
      "a principal of the account the grant names as retiring principal",
      { RetiringPrincipal: `arn:aws:iam::${OTHER_ACCOUNT}:root` },
      strangerOf(OTHER_ACCOUNT),
      "ok",
    ],
    [
      "a principal of another account the grant does not name",
      { RetiringPrincipal: BOB },
      strangerOf(OTHER_ACCOUNT),
      "AccessDeniedException",
    ],
    [
      "a principal of the issuing account (delegated by its policies)",
      { RetiringPrincipal: BOB },
      strangerOf(ACCOUNT),
      "ok",
    ],
  ];
  for (const [who, request, caller, expected] of cases) {
    test(`${who}: ${expected}`, async () => {
      const { keyId } = await newKey();
      const { token } = await grant(keyId, request);
      assert.equal(await errorCode(retireGrant(user(caller), { GrantToken: token })), expected);
      assert.equal((await grantIds(keyId)).length, expected === "ok" ? 0 : 1);
    });
  }

  test("a malformed token, a malformed grant id and missing parameters are refused", async () => {
    const { keyId } = await newKey();
    const { grantId } = await grant(keyId, { RetiringPrincipal: BOB });
    const retire = (input: Parameters<typeof retireGrant>[1]) => errorCode(retireGrant(user(BOB), input));
    assert.equal(await retire({ GrantToken: "garbage" }), "InvalidGrantTokenException");
    assert.equal(await retire({ KeyId: keyId, GrantId: "not-a-grant-id" }), "InvalidGrantIdException");
    assert.equal(await retire({ GrantId: grantId }), "ValidationException");
    assert.equal(await retire({ KeyId: keyId }), "ValidationException");
    assert.equal(await retire({ KeyId: keyId, GrantId: newGrantId() }), "NotFoundException");
    assert.equal(await retire({ GrantToken: issueGrantToken(grantId), GrantId: newGrantId() }), "ValidationException");
    assert.equal((await grantIds(keyId)).length, 1);
  });

  test("DryRun checks the caller and retires nothing; a disabled key's grant can be retired", async () => {
    const { keyId } = await newKey();
    const { token } = await grant(keyId, { RetiringPrincipal: BOB });
    assert.equal(
      await errorCode(retireGrant(user(userArn(OTHER_ACCOUNT, "eve")), { GrantToken: token, DryRun: true })),
      "AccessDeniedException",
    );
    assert.equal(
      await errorCode(retireGrant(user(BOB), { GrantToken: token, DryRun: true })),
      "DryRunOperationException",
    );
    assert.equal((await grantIds(keyId)).length, 1);
    await disableKey(admin(), { KeyId: keyId });
    assert.equal(await errorCode(retireGrant(user(BOB), { GrantToken: token })), "ok");
  });
});

describe("RevokeGrant", () => {
  test("deletes the grant; again it is not found", async () => {
    const { keyId, arn } = await newKey();
    const { grantId } = await grant(keyId);
    assert.equal(await errorCode(revokeGrant(admin(), { KeyId: arn, GrantId: grantId })), "ok");
    assert.deepEqual(await grantIds(keyId), []);
    assert.equal(await errorCode(revokeGrant(admin(), { KeyId: keyId, GrantId: grantId })), "NotFoundException");
  });

  test("a grant of another key is not found, a malformed id is invalid, another account is denied", async () => {
    const { keyId, arn } = await newKey();
    const { keyId: otherKey } = await newKey();
    const { grantId } = await grant(keyId);
    assert.equal(await errorCode(revokeGrant(admin(), { KeyId: otherKey, GrantId: grantId })), "NotFoundException");
    assert.equal(await errorCode(revokeGrant(admin(), { KeyId: keyId, GrantId: "xyz" })), "InvalidGrantIdException");
    const stranger = as(callerAs(userArn(OTHER_ACCOUNT, "eve"), OTHER_ACCOUNT));
    assert.equal(await errorCode(revokeGrant(stranger, { KeyId: arn, GrantId: grantId })), "AccessDeniedException");
    assert.equal((await grantIds(keyId)).length, 1);
  });

  test("DryRun revokes nothing; a key pending deletion still has its grants revoked", async () => {
    const { keyId } = await newKey();
    const { grantId } = await grant(keyId);
    assert.equal(
      await errorCode(revokeGrant(admin(), { KeyId: keyId, GrantId: grantId, DryRun: true })),
      "DryRunOperationException",
    );
    assert.equal((await grantIds(keyId)).length, 1);
    await scheduleKeyDeletion(admin(), { KeyId: keyId });
    assert.equal(await errorCode(revokeGrant(admin(), { KeyId: keyId, GrantId: grantId })), "ok");
  });
});

test("the five grant operations are registered by their API names", () => {
  for (const name of ["CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant"]) {
    assert.equal(typeof KMS_OPERATIONS[name], "function", name);
  }
});
