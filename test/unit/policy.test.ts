import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KmsError } from "../../src/domain/errors.js";
import { evaluateStatements, type RequestContext } from "../../src/policy/evaluate.js";
import { type PolicyKind, parsePolicyDocument } from "../../src/policy/policy-document.js";

const ACCOUNT = "111122223333";
const OTHER_ACCOUNT = "444455556666";
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB = `arn:aws:iam::${ACCOUNT}:user/bob`;
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/ops/deployer`;
const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

type Json = Record<string, unknown>;
type Conditions = Record<string, string | string[]>;

function policy(...statements: Json[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

/** A request by alice to Encrypt with KEY_ARN; `conditions` keys are given lower-cased, as the context builder must. */
function request(overrides: Partial<Omit<RequestContext, "conditions">> & { conditions?: Conditions } = {}) {
  const { conditions = {}, ...rest } = overrides;
  const context: RequestContext = {
    action: "kms:Encrypt",
    resource: KEY_ARN,
    principalArn: ALICE,
    principalAccount: ACCOUNT,
    conditions: new Map(Object.entries(conditions).map(([k, v]) => [k, typeof v === "string" ? [v] : v])),
    ...rest,
  };
  return context;
}

function outcome(text: string, context: RequestContext, kind: PolicyKind = "key"): Outcome {
  const result = evaluateStatements(parsePolicyDocument(text, kind), context, kind);
  return { deny: result.deny?.sid ?? null, allow: result.allow?.sid ?? null, via: result.allowViaAccount?.sid ?? null };
}

interface Outcome {
  readonly deny: string | null;
  readonly allow: string | null;
  readonly via: string | null;
}
const NONE: Outcome = { deny: null, allow: null, via: null };

describe("parsePolicyDocument rejects malformed policies", () => {
  const allow = { Effect: "Allow", Principal: { AWS: ROOT }, Action: "kms:*", Resource: "*" };
  const identityAllow = { Effect: "Allow", Action: "kms:*", Resource: "*" };
  const rows: [label: string, text: string, kind: PolicyKind, error: string, message: RegExp][] = [
    ["not JSON", "{", "key", "MalformedPolicyDocumentException", /not valid JSON/],
    ["not an object", "[]", "key", "MalformedPolicyDocumentException", /must be a JSON object/],
    ["a JSON string is not an object", '"policy"', "key", "MalformedPolicyDocumentException", /JSON object/],
    [
      "unknown top-level element",
      JSON.stringify({ Version: "2012-10-17", Statement: [allow], Statment: [] }),
      "key",
      "MalformedPolicyDocumentException",
      /Unknown policy element 'Statment'/,
    ],
    [
      "unsupported Version",
      JSON.stringify({ Version: "2020-01-01", Statement: [allow] }),
      "key",
      "MalformedPolicyDocumentException",
      /Version '2020-01-01'/,
    ],
    [
      "Version that is not a string",
      JSON.stringify({ Version: 2012, Statement: [allow] }),
      "key",
      "MalformedPolicyDocumentException",
      /Version must be a string/,
    ],
    [
      "Statement missing",
      JSON.stringify({ Version: "2012-10-17" }),
      "key",
      "MalformedPolicyDocumentException",
      /at least one Statement/,
    ],
    ["Statement empty", policy(), "key", "MalformedPolicyDocumentException", /at least one Statement/],
    [
      "statement that is not an object",
      JSON.stringify({ Statement: ["Allow"] }),
      "key",
      "MalformedPolicyDocumentException",
      /Statement\[0\] must be a JSON object/,
    ],
    [
      "statement without Effect",
      policy({ Principal: "*", Action: "kms:*", Resource: "*" }),
      "key",
      "MalformedPolicyDocumentException",
      /Statement\[0\] has no Effect/,
    ],
    [
      "Effect other than Allow or Deny (case-sensitive)",
      policy({ ...allow, Effect: "allow" }),
      "key",
      "MalformedPolicyDocumentException",
      /Effect must be "Allow" or "Deny", not "allow"/,
    ],
    [
      "unknown statement element",
      policy({ ...allow, Actions: "kms:Encrypt" }),
      "key",
      "MalformedPolicyDocumentException",
      /unknown element 'Actions'/,
    ],
    [
      "both Action and NotAction",
      policy({ ...allow, NotAction: "kms:Decrypt" }),
      "key",
      "MalformedPolicyDocumentException",
      /both Action and NotAction/,
    ],
    [
      "identity policy: neither Action nor NotAction",
      policy({ Effect: "Allow", Resource: "*" }),
      "identity",
      "MalformedPolicyDocumentException",
      /must have an Action or NotAction/,
    ],
    [
      "both Principal and NotPrincipal",
      policy({ ...allow, NotPrincipal: { AWS: BOB } }),
      "key",
      "MalformedPolicyDocumentException",
      /both Principal and NotPrincipal/,
    ],
    [
      "both Resource and NotResource",
      policy({ ...allow, NotResource: KEY_ARN }),
      "key",
      "MalformedPolicyDocumentException",
      /both Resource and NotResource/,
    ],
    [
      "key policy: statement without Principal or NotPrincipal",
      policy(identityAllow),
      "key",
      "MalformedPolicyDocumentException",
      /must have a Principal or NotPrincipal in a key policy/,
    ],
    [
      "identity policy: Principal not allowed",
      policy(allow),
      "identity",
      "MalformedPolicyDocumentException",
      /must not have a Principal or NotPrincipal in an identity policy/,
    ],
    [
      "identity policy: NotPrincipal not allowed",
      policy({ ...identityAllow, NotPrincipal: { AWS: BOB } }),
      "identity",
      "MalformedPolicyDocumentException",
      /must not have a Principal or NotPrincipal/,
    ],
    [
      "identity policy: neither Resource nor NotResource",
      policy({ Effect: "Allow", Action: "kms:*" }),
      "identity",
      "MalformedPolicyDocumentException",
      /must have a Resource or NotResource/,
    ],
    [
      "unknown condition operator",
      policy({ ...allow, Condition: { StringEqual: { "kms:CallerAccount": ACCOUNT } } }),
      "key",
      "MalformedPolicyDocumentException",
      /unknown condition operator 'StringEqual'/,
    ],
    [
      "IfExists on Null",
      policy({ ...allow, Condition: { NullIfExists: { "kms:GrantIsForAWSResource": "true" } } }),
      "key",
      "MalformedPolicyDocumentException",
      /unknown condition operator 'NullIfExists'/,
    ],
    [
      "two set qualifiers",
      policy({
        ...allow,
        Condition: { "ForAnyValue:ForAllValues:StringEquals": { "kms:EncryptionContextKeys": "a" } },
      }),
      "key",
      "MalformedPolicyDocumentException",
      /unknown condition operator/,
    ],
    [
      "Condition that is not an object",
      policy({ ...allow, Condition: ["StringEquals"] }),
      "key",
      "MalformedPolicyDocumentException",
      /Condition must be a JSON object/,
    ],
    [
      "condition value that is an object",
      policy({ ...allow, Condition: { StringEquals: { "kms:CallerAccount": { id: ACCOUNT } } } }),
      "key",
      "MalformedPolicyDocumentException",
      /values must be strings, numbers or booleans/,
    ],
    [
      "NumericEquals value that is not a number",
      policy({ ...allow, Condition: { NumericEquals: { "kms:ValidTo": "ten" } } }),
      "key",
      "MalformedPolicyDocumentException",
      /'ten' is not valid for NumericEquals/,
    ],
    [
      "DateLessThan value that is not a date",
      policy({ ...allow, Condition: { DateLessThan: { "aws:CurrentTime": "yesterday" } } }),
      "key",
      "MalformedPolicyDocumentException",
      /not valid for DateLessThan/,
    ],
    [
      "IpAddress value that is not a CIDR",
      policy({ ...allow, Condition: { IpAddress: { "aws:SourceIp": "300.1.1.1/8" } } }),
      "key",
      "MalformedPolicyDocumentException",
      /not valid for IpAddress/,
    ],
    [
      "Bool value other than true/false",
      policy({ ...allow, Condition: { Bool: { "aws:SecureTransport": "yes" } } }),
      "key",
      "MalformedPolicyDocumentException",
      /not valid for Bool/,
    ],
    [
      "ForAllValues on kms:EncryptionContext:context-key (KMS's OverlyPermissiveCondition)",
      policy({ ...allow, Condition: { "ForAllValues:StringEquals": { "kms:EncryptionContext:Dept": "IT" } } }),
      "key",
      "MalformedPolicyDocumentException",
      /OverlyPermissiveCondition/,
    ],
    [
      "action without a service prefix",
      policy({ ...allow, Action: "Encrypt" }),
      "key",
      "MalformedPolicyDocumentException",
      /'Encrypt' is not an action name/,
    ],
    [
      "action with characters outside names and wildcards",
      policy({ ...allow, Action: ["kms:Encrypt", "kms:Decrypt!"] }),
      "key",
      "MalformedPolicyDocumentException",
      /'kms:Decrypt!' is not an action name/,
    ],
    [
      "action with an empty name",
      policy({ ...allow, Action: "kms:" }),
      "key",
      "MalformedPolicyDocumentException",
      /'kms:' is not an action name/,
    ],
    [
      "empty Action list",
      policy({ ...allow, Action: [] }),
      "key",
      "MalformedPolicyDocumentException",
      /Action must not be empty/,
    ],
    [
      "duplicate Sids",
      policy({ Sid: "One", ...allow }, { Sid: "One", ...allow }),
      "key",
      "MalformedPolicyDocumentException",
      /Duplicate Sid 'One'/,
    ],
    [
      "principal that is not an ARN or account id",
      policy({ ...allow, Principal: { AWS: "arn:aws:iam::1234:user/bob" } }),
      "key",
      "MalformedPolicyDocumentException",
      /invalid principals/,
    ],
    [
      "principal ARN with a wildcard",
      policy({ ...allow, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/*` } }),
      "key",
      "MalformedPolicyDocumentException",
      /invalid principals/,
    ],
    [
      "principal as a bare string other than *",
      policy({ ...allow, Principal: ALICE }),
      "key",
      "MalformedPolicyDocumentException",
      /Principal must be "\*" or an object/,
    ],
    [
      "unsupported principal type",
      policy({ ...allow, Principal: { CanonicalUser: "79a59df900b949e55d96a1e698fbaced" } }),
      "key",
      "MalformedPolicyDocumentException",
      /unsupported principal type 'CanonicalUser'/,
    ],
    [
      "key policy with a character outside Latin-1",
      policy({ Sid: "Ā", ...allow }),
      "key",
      "MalformedPolicyDocumentException",
      /characters other than/,
    ],
    [
      "key policy over 32768 characters (LimitExceededException, as PutKeyPolicy documents)",
      policy({ Sid: "x".repeat(32_768), ...allow }),
      "key",
      "LimitExceededException",
      /limit is 32768 characters/,
    ],
  ];
  for (const [label, text, kind, error, message] of rows) {
    test(`rejects ${label}`, () => {
      assert.throws(
        () => parsePolicyDocument(text, kind),
        (e: unknown) => e instanceof KmsError && e.code === error && message.test(e.message),
      );
    });
  }
});

describe("parsePolicyDocument accepts and normalises", () => {
  const allow = { Effect: "Allow", Principal: { AWS: ROOT }, Action: "kms:*", Resource: "*" };

  test("Version may be absent or 2008-10-17; Statement may be a single object", () => {
    assert.equal(parsePolicyDocument(JSON.stringify({ Statement: allow }), "key").version, null);
    const old = parsePolicyDocument(JSON.stringify({ Version: "2008-10-17", Id: "k", Statement: allow }), "key");
    assert.deepEqual([old.version, old.id, old.statements.length], ["2008-10-17", "k", 1]);
  });

  test("a key policy of exactly 32768 characters is accepted; identity policies have no such limit here", () => {
    const base = policy({ Sid: "", ...allow });
    const exact = policy({ Sid: "x".repeat(32_768 - base.length), ...allow });
    assert.equal(exact.length, 32_768);
    assert.doesNotThrow(() => parsePolicyDocument(exact, "key"));
    const identity = policy({ Sid: "x".repeat(40_000), Effect: "Allow", Action: "kms:*", Resource: "*" });
    assert.doesNotThrow(() => parsePolicyDocument(identity, "identity"));
  });

  test("principal forms normalise to ARNs or *", () => {
    const parsed = parsePolicyDocument(
      policy(
        { ...allow, Principal: "*" },
        { ...allow, Principal: { AWS: "*" } },
        { ...allow, Principal: { AWS: [ALICE, "*"] } },
        { ...allow, Principal: { AWS: ACCOUNT } },
        { ...allow, Principal: { AWS: [ROOT, DEPLOYER, `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/s1`] } },
        { ...allow, Principal: { Service: "ec2.amazonaws.com", Federated: "cognito-identity.amazonaws.com" } },
      ),
      "key",
    );
    assert.deepEqual(
      parsed.statements.map((s) => s.principal),
      [
        "*",
        "*",
        "*",
        { aws: [ROOT], service: [], federated: [] },
        { aws: [ROOT, DEPLOYER, `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/s1`], service: [], federated: [] },
        { aws: [], service: ["ec2.amazonaws.com"], federated: ["cognito-identity.amazonaws.com"] },
      ],
    );
  });

  test("actions of other services, *, and wildcards are accepted", () => {
    const parsed = parsePolicyDocument(
      policy({ ...allow, Action: ["s3:*", "*", "kms:Generate*", "KMS:?ncrypt"] }),
      "key",
    );
    assert.deepEqual(parsed.statements[0]?.action, ["s3:*", "*", "kms:Generate*", "KMS:?ncrypt"]);
  });

  test("condition keys are lower-cased, values become strings, operators are split", () => {
    const parsed = parsePolicyDocument(
      policy({
        ...allow,
        Condition: {
          "ForAnyValue:StringLikeIfExists": { "kms:EncryptionContextKeys": ["App*", "Dept"] },
          Bool: { "kms:BypassPolicyLockoutSafetyCheck": true },
          NumericLessThan: { "kms:ValidTo": 1700000000 },
          StringEquals: { "kms:EncryptionContext:AppName": "ExampleApp" },
        },
      }),
      "key",
    );
    assert.deepEqual(parsed.statements[0]?.condition, [
      {
        operator: "ForAnyValue:StringLikeIfExists",
        test: "StringLike",
        qualifier: "ForAnyValue",
        ifExists: true,
        key: "kms:encryptioncontextkeys",
        values: ["App*", "Dept"],
      },
      {
        operator: "Bool",
        test: "Bool",
        qualifier: null,
        ifExists: false,
        key: "kms:bypasspolicylockoutsafetycheck",
        values: ["true"],
      },
      {
        operator: "NumericLessThan",
        test: "NumericLessThan",
        qualifier: null,
        ifExists: false,
        key: "kms:validto",
        values: ["1700000000"],
      },
      {
        operator: "StringEquals",
        test: "StringEquals",
        qualifier: null,
        ifExists: false,
        key: "kms:encryptioncontext:appname",
        values: ["ExampleApp"],
      },
    ]);
  });

  test("a key policy statement without Action or Resource is accepted (KMS documents it has no effect)", () => {
    const text = policy({ Sid: "NoAction", Effect: "Allow", Principal: "*", Resource: "*" });
    assert.deepEqual(outcome(text, request()), NONE);
    const noResource = policy({ Sid: "NoResource", Effect: "Allow", Principal: "*", Action: "kms:*" });
    assert.deepEqual(outcome(noResource, request()), NONE);
  });
});

describe("evaluateStatements: principals, actions, resources", () => {
  const base = { Effect: "Allow", Action: "kms:*", Resource: "*" };
  type Row = [label: string, statements: Json[], context: RequestContext, expected: Outcome, kind?: PolicyKind];
  const rows: Row[] = [
    [
      "root ARN principal delegates to the caller's account: allowViaAccount",
      [{ Sid: "S", ...base, Principal: { AWS: ROOT } }],
      request(),
      { ...NONE, via: "S" },
    ],
    [
      "bare account id principal means that account's root: allowViaAccount",
      [{ Sid: "S", ...base, Principal: { AWS: ACCOUNT } }],
      request(),
      { ...NONE, via: "S" },
    ],
    [
      "user ARN principal naming the caller: allow",
      [{ Sid: "S", ...base, Principal: { AWS: ALICE } }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "role ARN with a path naming the caller: allow",
      [{ Sid: "S", ...base, Principal: { AWS: [BOB, DEPLOYER] } }],
      request({ principalArn: DEPLOYER }),
      { ...NONE, allow: "S" },
    ],
    ['Principal "*": allow', [{ Sid: "S", ...base, Principal: "*" }], request(), { ...NONE, allow: "S" }],
    ['{"AWS": "*"}: allow', [{ Sid: "S", ...base, Principal: { AWS: "*" } }], request(), { ...NONE, allow: "S" }],
    [
      "naming both the caller and its account: allow (the direct grant wins)",
      [{ Sid: "S", ...base, Principal: { AWS: [ROOT, ALICE] } }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "the account's root user named by root ARN is the caller itself: allow",
      [{ Sid: "S", ...base, Principal: { AWS: ROOT } }],
      request({ principalArn: ROOT }),
      { ...NONE, allow: "S" },
    ],
    ["another user of the account: no match", [{ Sid: "S", ...base, Principal: { AWS: BOB } }], request(), NONE],
    ["another account's root: no match", [{ Sid: "S", ...base, Principal: { AWS: OTHER_ACCOUNT } }], request(), NONE],
    [
      "a caller of another account is not reached by this account's root",
      [{ Sid: "S", ...base, Principal: { AWS: ROOT } }],
      request({ principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:user/eve`, principalAccount: OTHER_ACCOUNT }),
      NONE,
    ],
    [
      "Service and Federated principals never match a Trent caller",
      [{ Sid: "S", ...base, Principal: { Service: "ec2.amazonaws.com", Federated: "accounts.google.com" } }],
      request(),
      NONE,
    ],
    [
      "Deny naming the caller: deny",
      [{ Sid: "D", ...base, Effect: "Deny", Principal: { AWS: ALICE } }],
      request(),
      {
        ...NONE,
        deny: "D",
      },
    ],
    [
      "Deny and Allow both reported; the first matching statement of each kind",
      [
        { Sid: "A1", ...base, Principal: { AWS: ALICE } },
        { Sid: "A2", ...base, Principal: "*" },
        { Sid: "V", ...base, Principal: { AWS: ROOT } },
        { Sid: "D", ...base, Effect: "Deny", Principal: "*", Action: "kms:Encrypt" },
      ],
      request(),
      { deny: "D", allow: "A1", via: "V" },
    ],
    [
      "NotPrincipal Deny listing the user only: still denied through its account (IAM's advice)",
      [{ Sid: "D", ...base, Effect: "Deny", NotPrincipal: { AWS: ALICE } }],
      request(),
      { ...NONE, deny: "D" },
    ],
    [
      "NotPrincipal Deny listing the user and its account: not denied",
      [{ Sid: "D", ...base, Effect: "Deny", NotPrincipal: { AWS: [ALICE, ROOT] } }],
      request(),
      NONE,
    ],
    [
      "NotPrincipal Deny listing another user and the account: the caller is denied",
      [{ Sid: "D", ...base, Effect: "Deny", NotPrincipal: { AWS: [BOB, ROOT] } }],
      request(),
      { ...NONE, deny: "D" },
    ],
    [
      "NotPrincipal Allow leaving the caller out: allow",
      [{ Sid: "S", ...base, NotPrincipal: { AWS: BOB } }],
      request(),
      { ...NONE, allow: "S" },
    ],
    ['NotPrincipal "*" excludes everyone', [{ Sid: "S", ...base, NotPrincipal: "*" }], request(), NONE],
    [
      "action wildcard * within a name: kms:Generate* matches kms:GenerateDataKeyPair",
      [{ Sid: "S", ...base, Principal: "*", Action: "kms:Generate*" }],
      request({ action: "kms:GenerateDataKeyPair" }),
      { ...NONE, allow: "S" },
    ],
    [
      "action wildcard kms:Generate* does not match kms:Encrypt",
      [{ Sid: "S", ...base, Principal: "*", Action: "kms:Generate*" }],
      request(),
      NONE,
    ],
    [
      "action wildcard ? matches exactly one character",
      [{ Sid: "S", ...base, Principal: "*", Action: ["kms:?ncrypt", "kms:?Encrypt"] }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "action wildcard ? does not match zero characters",
      [{ Sid: "S", ...base, Principal: "*", Action: "kms:?Encrypt" }],
      request(),
      NONE,
    ],
    [
      "action names are case-insensitive",
      [{ Sid: "S", ...base, Principal: "*", Action: "KMS:encrypt" }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      'Action "*" matches every action',
      [{ Sid: "S", ...base, Principal: "*", Action: "*" }],
      request(),
      {
        ...NONE,
        allow: "S",
      },
    ],
    [
      "another service's action does not match a KMS request",
      [{ Sid: "S", ...base, Principal: "*", Action: "s3:*" }],
      request(),
      NONE,
    ],
    [
      "NotAction applies to actions it does not list",
      [{ Sid: "S", Effect: "Allow", Principal: "*", NotAction: "kms:Decrypt", Resource: "*" }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "NotAction does not apply to the actions it lists (wildcards too)",
      [{ Sid: "S", Effect: "Allow", Principal: "*", NotAction: ["kms:*crypt"], Resource: "*" }],
      request(),
      NONE,
    ],
    [
      "Resource naming the key ARN",
      [{ Sid: "S", ...base, Principal: "*", Resource: KEY_ARN }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "Resource naming another key",
      [{ Sid: "S", ...base, Principal: "*", Resource: KEY_ARN.replace("1234abcd", "ffffffff") }],
      request(),
      NONE,
    ],
    [
      "Resource wildcards within segments",
      [{ Sid: "S", ...base, Principal: "*", Resource: `arn:aws:kms:us-*:${ACCOUNT}:key/????abcd-*` }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "Resource wildcard for another account's keys",
      [{ Sid: "S", ...base, Principal: "*", Resource: `arn:aws:kms:*:${OTHER_ACCOUNT}:key/*` }],
      request(),
      NONE,
    ],
    [
      "Resource matching is case-sensitive",
      [{ Sid: "S", ...base, Principal: "*", Resource: KEY_ARN.toUpperCase() }],
      request(),
      NONE,
    ],
    [
      'an account-level action (resource "*") matches Resource "*"',
      [{ Sid: "S", ...base, Principal: "*" }],
      request({ action: "kms:CreateKey", resource: "*" }),
      { ...NONE, allow: "S" },
    ],
    [
      "an account-level action does not match a key ARN pattern",
      [{ Sid: "S", ...base, Principal: "*", Resource: `arn:aws:kms:*:${ACCOUNT}:key/*` }],
      request({ action: "kms:CreateKey", resource: "*" }),
      NONE,
    ],
    [
      "NotResource applies to resources it does not list",
      [{ Sid: "S", Effect: "Allow", Principal: "*", Action: "kms:*", NotResource: `arn:aws:kms:*:${OTHER_ACCOUNT}:*` }],
      request(),
      { ...NONE, allow: "S" },
    ],
    [
      "NotResource does not apply to resources it lists",
      [{ Sid: "S", Effect: "Allow", Principal: "*", Action: "kms:*", NotResource: KEY_ARN }],
      request(),
      NONE,
    ],
    [
      "identity policy: a matching Allow is allow (no principal involved)",
      [{ Sid: "S", ...base, Resource: KEY_ARN }],
      request(),
      { ...NONE, allow: "S" },
      "identity",
    ],
    [
      "identity policy: a matching Deny is deny",
      [
        { Sid: "S", ...base },
        { Sid: "D", ...base, Effect: "Deny", Action: "kms:Encrypt" },
      ],
      request(),
      { ...NONE, allow: "S", deny: "D" },
      "identity",
    ],
    [
      "identity policy: an Allow for other actions does not match",
      [{ Sid: "S", ...base, Action: "kms:Describe*" }],
      request(),
      NONE,
      "identity",
    ],
  ];
  for (const [label, statements, context, expected, kind = "key"] of rows) {
    test(label, () => assert.deepEqual(outcome(policy(...statements), context, kind), expected));
  }

  test("StatementRef carries the statement's index, and a null sid when it has none", () => {
    const text = policy({ Sid: "Other", ...base, Principal: { AWS: BOB } }, { ...base, Principal: { AWS: ALICE } });
    const result = evaluateStatements(parsePolicyDocument(text, "key"), request(), "key");
    assert.deepEqual(result.allow, { index: 1, sid: null });
  });
});

describe("evaluateStatements: conditions", () => {
  const TIME = "2024-05-01T12:00:00.000Z";
  const EPOCH = String(Date.parse(TIME) / 1000);
  const IP = "203.0.113.7";
  // An Allow for everyone whose only test is the condition: allow is set iff the condition holds.
  type Row = [label: string, condition: Json, conditions: Conditions, holds: boolean];
  const rows: Row[] = [
    ["StringEquals: equal", { StringEquals: { "kms:CallerAccount": ACCOUNT } }, { "kms:calleraccount": ACCOUNT }, true],
    [
      "StringEquals: different",
      { StringEquals: { "kms:CallerAccount": ACCOUNT } },
      { "kms:calleraccount": "x" },
      false,
    ],
    [
      "StringEquals: case-sensitive",
      { StringEquals: { "aws:ResourceTag/team": "Blue" } },
      { "aws:resourcetag/team": "blue" },
      false,
    ],
    ["StringEquals: absent key fails", { StringEquals: { "kms:CallerAccount": ACCOUNT } }, {}, false],
    [
      "StringEquals: policy values are ORed",
      { StringEquals: { "kms:CallerAccount": [OTHER_ACCOUNT, ACCOUNT] } },
      { "kms:calleraccount": ACCOUNT },
      true,
    ],
    [
      "StringNotEquals: different",
      { StringNotEquals: { "kms:KeySpec": "RSA_2048" } },
      { "kms:keyspec": "SYMMETRIC_DEFAULT" },
      true,
    ],
    [
      "StringNotEquals: equal",
      { StringNotEquals: { "kms:KeySpec": "RSA_2048" } },
      { "kms:keyspec": "RSA_2048" },
      false,
    ],
    [
      "StringNotEquals: holds only if no policy value matches",
      { StringNotEquals: { "kms:KeySpec": ["RSA_2048", "RSA_4096"] } },
      { "kms:keyspec": "RSA_4096" },
      false,
    ],
    [
      "StringNotEquals: absent key holds (IAM: negated operators)",
      { StringNotEquals: { "kms:KeySpec": "RSA_2048" } },
      {},
      true,
    ],
    [
      "StringEqualsIgnoreCase: equal but for case",
      { StringEqualsIgnoreCase: { "aws:ResourceTag/team": "BLUE" } },
      { "aws:resourcetag/team": "blue" },
      true,
    ],
    [
      "StringEqualsIgnoreCase: different",
      { StringEqualsIgnoreCase: { "aws:ResourceTag/team": "red" } },
      { "aws:resourcetag/team": "blue" },
      false,
    ],
    [
      "StringNotEqualsIgnoreCase: equal but for case",
      { StringNotEqualsIgnoreCase: { "aws:ResourceTag/team": "BLUE" } },
      { "aws:resourcetag/team": "blue" },
      false,
    ],
    [
      "StringNotEqualsIgnoreCase: different",
      { StringNotEqualsIgnoreCase: { "aws:ResourceTag/team": "red" } },
      { "aws:resourcetag/team": "blue" },
      true,
    ],
    [
      "StringLike: * wildcard",
      { StringLike: { "kms:DataKeyPairSpec": "RSA*" } },
      { "kms:datakeypairspec": "RSA_3072" },
      true,
    ],
    [
      "StringLike: ? wildcard",
      { StringLike: { "kms:RequestAlias": "alias/app-?" } },
      { "kms:requestalias": "alias/app-1" },
      true,
    ],
    [
      "StringLike: no match",
      { StringLike: { "kms:DataKeyPairSpec": "RSA*" } },
      { "kms:datakeypairspec": "ECC_NIST_P256" },
      false,
    ],
    [
      "StringLike: case-sensitive",
      { StringLike: { "kms:DataKeyPairSpec": "rsa*" } },
      { "kms:datakeypairspec": "RSA_3072" },
      false,
    ],
    [
      "StringLike: no wildcard is an exact match",
      { StringLike: { "kms:RequestAlias": "alias/app" } },
      { "kms:requestalias": "alias/app-1" },
      false,
    ],
    [
      "StringNotLike: no match",
      { StringNotLike: { "kms:RequestAlias": "alias/secret-*" } },
      { "kms:requestalias": "alias/app" },
      true,
    ],
    [
      "StringNotLike: match",
      { StringNotLike: { "kms:RequestAlias": "alias/secret-*" } },
      { "kms:requestalias": "alias/secret-1" },
      false,
    ],
    ["StringNotLike: absent key holds", { StringNotLike: { "kms:RequestAlias": "alias/secret-*" } }, {}, true],
    ["NumericEquals: equal", { NumericEquals: { "kms:ValidTo": 10 } }, { "kms:validto": "10.0" }, true],
    ["NumericEquals: different", { NumericEquals: { "kms:ValidTo": 10 } }, { "kms:validto": "11" }, false],
    ["NumericNotEquals: different", { NumericNotEquals: { "kms:ValidTo": 10 } }, { "kms:validto": "11" }, true],
    ["NumericNotEquals: equal", { NumericNotEquals: { "kms:ValidTo": 10 } }, { "kms:validto": "10" }, false],
    ["NumericLessThan: less", { NumericLessThan: { "kms:ValidTo": "1.5" } }, { "kms:validto": "1.25" }, true],
    ["NumericLessThan: equal", { NumericLessThan: { "kms:ValidTo": "1.5" } }, { "kms:validto": "1.5" }, false],
    ["NumericLessThanEquals: equal", { NumericLessThanEquals: { "kms:ValidTo": 10 } }, { "kms:validto": "10" }, true],
    [
      "NumericLessThanEquals: greater",
      { NumericLessThanEquals: { "kms:ValidTo": 10 } },
      { "kms:validto": "11" },
      false,
    ],
    ["NumericGreaterThan: greater", { NumericGreaterThan: { "kms:ValidTo": 10 } }, { "kms:validto": "11" }, true],
    ["NumericGreaterThan: equal", { NumericGreaterThan: { "kms:ValidTo": 10 } }, { "kms:validto": "10" }, false],
    [
      "NumericGreaterThanEquals: equal",
      { NumericGreaterThanEquals: { "kms:ValidTo": -1 } },
      { "kms:validto": "-1" },
      true,
    ],
    [
      "NumericGreaterThanEquals: less",
      { NumericGreaterThanEquals: { "kms:ValidTo": 10 } },
      { "kms:validto": "9" },
      false,
    ],
    [
      "DateEquals: ISO 8601 equals epoch seconds",
      { DateEquals: { "aws:CurrentTime": EPOCH } },
      { "aws:currenttime": TIME },
      true,
    ],
    [
      "DateEquals: different",
      { DateEquals: { "aws:CurrentTime": "2024-05-01T12:00:01Z" } },
      { "aws:currenttime": TIME },
      false,
    ],
    [
      "DateNotEquals: different",
      { DateNotEquals: { "aws:CurrentTime": "2024-05-01" } },
      { "aws:currenttime": TIME },
      true,
    ],
    [
      "DateNotEquals: equal",
      { DateNotEquals: { "aws:CurrentTime": "2024-05-01T14:00:00+02:00" } },
      { "aws:currenttime": TIME },
      false,
    ],
    ["DateLessThan: before", { DateLessThan: { "aws:CurrentTime": "2025" } }, { "aws:currenttime": TIME }, true],
    ["DateLessThan: after", { DateLessThan: { "aws:CurrentTime": "2024-05" } }, { "aws:currenttime": TIME }, false],
    [
      "DateLessThanEquals: equal (epoch request value)",
      { DateLessThanEquals: { "aws:EpochTime": TIME } },
      { "aws:epochtime": EPOCH },
      true,
    ],
    [
      "DateLessThanEquals: after",
      { DateLessThanEquals: { "aws:CurrentTime": "2024-05-01T11:59Z" } },
      { "aws:currenttime": TIME },
      false,
    ],
    [
      "DateGreaterThan: after",
      { DateGreaterThan: { "aws:CurrentTime": "2024-05-01T11:59Z" } },
      { "aws:currenttime": TIME },
      true,
    ],
    ["DateGreaterThan: equal", { DateGreaterThan: { "aws:CurrentTime": TIME } }, { "aws:currenttime": TIME }, false],
    [
      "DateGreaterThanEquals: equal",
      { DateGreaterThanEquals: { "aws:CurrentTime": TIME } },
      { "aws:currenttime": TIME },
      true,
    ],
    [
      "DateGreaterThanEquals: before",
      { DateGreaterThanEquals: { "aws:CurrentTime": "2030-01-01" } },
      { "aws:currenttime": TIME },
      false,
    ],
    [
      "Bool: JSON true matches 'true'",
      { Bool: { "aws:SecureTransport": true } },
      { "aws:securetransport": "true" },
      true,
    ],
    [
      "Bool: false does not match true",
      { Bool: { "aws:SecureTransport": "false" } },
      { "aws:securetransport": "true" },
      false,
    ],
    ["Bool: absent key fails", { Bool: { "aws:SecureTransport": "true" } }, {}, false],
    ["BinaryEquals: same bytes", { BinaryEquals: { "test:blob": "AQID" } }, { "test:blob": "AQID" }, true],
    ["BinaryEquals: different bytes", { BinaryEquals: { "test:blob": "AQID" } }, { "test:blob": "AQIE" }, false],
    ["IpAddress: IPv4 inside a /24", { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, { "aws:sourceip": IP }, true],
    [
      "IpAddress: IPv4 outside a /24",
      { IpAddress: { "aws:SourceIp": "198.51.100.0/24" } },
      { "aws:sourceip": IP },
      false,
    ],
    [
      "IpAddress: an address without prefix is a /32",
      { IpAddress: { "aws:SourceIp": "203.0.113.8" } },
      { "aws:sourceip": IP },
      false,
    ],
    [
      "IpAddress: /0 matches every IPv4 address",
      { IpAddress: { "aws:SourceIp": "0.0.0.0/0" } },
      { "aws:sourceip": IP },
      true,
    ],
    [
      "IpAddress: IPv6 inside a /64",
      { IpAddress: { "aws:SourceIp": "2001:DB8:1234:5678::/64" } },
      { "aws:sourceip": "2001:db8:1234:5678:abcd::1" },
      true,
    ],
    [
      "IpAddress: IPv6 outside a /64",
      { IpAddress: { "aws:SourceIp": "2001:DB8:1234:5678::/64" } },
      { "aws:sourceip": "2001:db8:1234:5679::1" },
      false,
    ],
    [
      "IpAddress: an IPv4-mapped IPv6 request address is IPv4",
      { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } },
      { "aws:sourceip": `::ffff:${IP}` },
      true,
    ],
    [
      "IpAddress: IPv4 never matches an IPv6 range",
      { IpAddress: { "aws:SourceIp": "::/0" } },
      { "aws:sourceip": IP },
      false,
    ],
    ["NotIpAddress: outside", { NotIpAddress: { "aws:SourceIp": "10.0.0.0/8" } }, { "aws:sourceip": IP }, true],
    [
      "NotIpAddress: inside",
      { NotIpAddress: { "aws:SourceIp": ["10.0.0.0/8", "203.0.113.0/24"] } },
      { "aws:sourceip": IP },
      false,
    ],
    ["NotIpAddress: absent key holds", { NotIpAddress: { "aws:SourceIp": "10.0.0.0/8" } }, {}, true],
    ["ArnEquals: exact", { ArnEquals: { "aws:PrincipalArn": ALICE } }, { "aws:principalarn": ALICE }, true],
    [
      "ArnEquals: wildcards like ArnLike",
      { ArnEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:user/*` } },
      { "aws:principalarn": ALICE },
      true,
    ],
    [
      "ArnLike: different account",
      { ArnLike: { "aws:PrincipalArn": `arn:aws:iam::${OTHER_ACCOUNT}:*` } },
      { "aws:principalarn": ALICE },
      false,
    ],
    [
      "ArnLike: a wildcard does not span segments (IAM guide's example)",
      { ArnLike: { "aws:SourceArn": `arn:aws:someservice:*:${ACCOUNT}:finance/*` } },
      { "aws:sourcearn": `arn:aws:someservice:us-east-2:999999999999:store/abc:${ACCOUNT}:finance/document.txt` },
      false,
    ],
    [
      "StringLike: the same pattern spans segments",
      { StringLike: { "aws:SourceArn": `arn:aws:someservice:*:${ACCOUNT}:finance/*` } },
      { "aws:sourcearn": `arn:aws:someservice:us-east-2:999999999999:store/abc:${ACCOUNT}:finance/document.txt` },
      true,
    ],
    ["ArnNotEquals: different", { ArnNotEquals: { "aws:PrincipalArn": BOB } }, { "aws:principalarn": ALICE }, true],
    ["ArnNotEquals: equal", { ArnNotEquals: { "aws:PrincipalArn": ALICE } }, { "aws:principalarn": ALICE }, false],
    [
      "ArnNotLike: matching pattern",
      { ArnNotLike: { "aws:PrincipalArn": "arn:aws:iam::*:user/a*" } },
      { "aws:principalarn": ALICE },
      false,
    ],
    ["ArnNotLike: absent key holds", { ArnNotLike: { "aws:PrincipalArn": "arn:aws:iam::*:user/a*" } }, {}, true],
    ["Null true: key absent", { Null: { "kms:EncryptionContextKeys": true } }, {}, true],
    [
      "Null true: key present",
      { Null: { "kms:EncryptionContextKeys": "true" } },
      { "kms:encryptioncontextkeys": ["a"] },
      false,
    ],
    [
      "Null false: key present",
      { Null: { "kms:EncryptionContextKeys": false } },
      { "kms:encryptioncontextkeys": ["a"] },
      true,
    ],
    ["Null false: key absent", { Null: { "kms:EncryptionContextKeys": "false" } }, {}, false],
    [
      "Null true: an empty list is absent",
      { Null: { "kms:EncryptionContextKeys": "true" } },
      { "kms:encryptioncontextkeys": [] },
      true,
    ],
    ["IfExists: absent key holds", { StringEqualsIfExists: { "kms:KeySpec": "RSA_2048" } }, {}, true],
    [
      "IfExists: present key is tested (match)",
      { StringEqualsIfExists: { "kms:KeySpec": "RSA_2048" } },
      { "kms:keyspec": "RSA_2048" },
      true,
    ],
    [
      "IfExists: present key is tested (no match)",
      { StringEqualsIfExists: { "kms:KeySpec": "RSA_2048" } },
      { "kms:keyspec": "RSA_4096" },
      false,
    ],
    [
      "IfExists on a negated operator: absent key holds",
      { StringNotEqualsIfExists: { "kms:KeySpec": "RSA_2048" } },
      {},
      true,
    ],
    [
      "IfExists on a negated operator: present equal value fails",
      { StringNotEqualsIfExists: { "kms:KeySpec": "RSA_2048" } },
      { "kms:keyspec": "RSA_2048" },
      false,
    ],
    ["IfExists on Numeric: absent key holds", { NumericLessThanIfExists: { "kms:ValidTo": 5 } }, {}, true],
    [
      "ForAnyValue: one request value matches",
      { "ForAnyValue:StringEquals": { "kms:EncryptionContextKeys": "AppName" } },
      { "kms:encryptioncontextkeys": ["Project", "AppName"] },
      true,
    ],
    [
      "ForAnyValue: no request value matches",
      { "ForAnyValue:StringEquals": { "kms:EncryptionContextKeys": "AppName" } },
      { "kms:encryptioncontextkeys": ["Project"] },
      false,
    ],
    [
      "ForAnyValue: absent key fails",
      { "ForAnyValue:StringEquals": { "kms:EncryptionContextKeys": "AppName" } },
      {},
      false,
    ],
    [
      "ForAnyValue: empty set fails",
      { "ForAnyValue:StringEquals": { "kms:EncryptionContextKeys": "AppName" } },
      { "kms:encryptioncontextkeys": [] },
      false,
    ],
    [
      "ForAnyValue with IfExists: absent key holds",
      { "ForAnyValue:StringEqualsIfExists": { "kms:EncryptionContextKeys": "AppName" } },
      {},
      true,
    ],
    [
      "ForAllValues: every request value is listed",
      { "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["Dept", "Project"] } },
      { "kms:encryptioncontextkeys": ["Project", "Dept"] },
      true,
    ],
    [
      "ForAllValues: one request value is not listed",
      { "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["Dept", "Project"] } },
      { "kms:encryptioncontextkeys": ["Project", "Stage"] },
      false,
    ],
    [
      "ForAllValues: absent key holds",
      { "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": "Dept" } },
      {},
      true,
    ],
    [
      "ForAllValues: empty set holds",
      { "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": "Dept" } },
      { "kms:encryptioncontextkeys": [] },
      true,
    ],
    [
      "ForAllValues with a negated operator: no request value matches any pattern",
      { "ForAllValues:StringNotLike": { "kms:EncryptionContextKeys": "secret*" } },
      { "kms:encryptioncontextkeys": ["Dept", "Project"] },
      true,
    ],
    [
      "ForAllValues with a negated operator: one request value matches",
      { "ForAllValues:StringNotLike": { "kms:EncryptionContextKeys": "secret*" } },
      { "kms:encryptioncontextkeys": ["Dept", "secretKey"] },
      false,
    ],
    [
      "ForAnyValue with a negated operator: some request value is unlisted",
      { "ForAnyValue:StringNotEquals": { "kms:EncryptionContextKeys": "Dept" } },
      { "kms:encryptioncontextkeys": ["Dept", "Project"] },
      true,
    ],
    [
      "operators are ANDed: one fails",
      { StringEquals: { "kms:CallerAccount": ACCOUNT }, Bool: { "aws:SecureTransport": "true" } },
      { "kms:calleraccount": ACCOUNT, "aws:securetransport": "false" },
      false,
    ],
    [
      "operators are ANDed: both hold",
      { StringEquals: { "kms:CallerAccount": ACCOUNT }, Bool: { "aws:SecureTransport": "true" } },
      { "kms:calleraccount": ACCOUNT, "aws:securetransport": "true" },
      true,
    ],
    [
      "keys under one operator are ANDed",
      { StringEquals: { "kms:EncryptionContext:Dept": "IT", "kms:EncryptionContext:Project": "Alpha" } },
      { "kms:encryptioncontext:dept": "IT", "kms:encryptioncontext:project": "Beta" },
      false,
    ],
    [
      "condition key names are case-insensitive",
      { StringEquals: { "KMS:CALLERACCOUNT": ACCOUNT } },
      { "kms:calleraccount": ACCOUNT },
      true,
    ],
    [
      "kms:EncryptionContext: the context-key part is case-insensitive too (KMS guide), the value is not",
      { StringEquals: { "kms:EncryptionContext:AppName": "ExampleApp" } },
      { "kms:encryptioncontext:appname": "ExampleApp" },
      true,
    ],
    [
      "kms:EncryptionContext: StringEquals compares the value case-sensitively",
      { StringEquals: { "kms:EncryptionContext:AppName": "ExampleApp" } },
      { "kms:encryptioncontext:appname": "exampleapp" },
      false,
    ],
  ];
  for (const [label, condition, conditions, holds] of rows) {
    test(label, () => {
      const text = policy({
        Sid: "C",
        Effect: "Allow",
        Principal: "*",
        Action: "kms:*",
        Resource: "*",
        Condition: condition,
      });
      assert.deepEqual(outcome(text, request({ conditions })), holds ? { ...NONE, allow: "C" } : NONE);
    });
  }

  test("a Deny with StringNotEqualsIfExists still denies when the key is absent (IAM guide)", () => {
    const text = policy({
      Sid: "D",
      Effect: "Deny",
      Principal: "*",
      Action: "kms:*",
      Resource: "*",
      Condition: { StringNotEqualsIfExists: { "aws:ResourceTag/team": "blue" } },
    });
    assert.deepEqual(outcome(text, request()), { ...NONE, deny: "D" });
  });
});
