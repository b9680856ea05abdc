import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { CreateGrantRequest } from "@aws-sdk/client-kms";
import { AccessDeniedException, KmsError } from "../../src/domain/errors.js";
import type { Caller } from "../../src/domain/principal.js";
import type { OperationContext, Services } from "../../src/ops/context.js";
import { createAlias } from "../../src/ops/create-alias.js";
import { createGrant } from "../../src/ops/create-grant.js";
import { createKey } from "../../src/ops/create-key.js";
import { encrypt } from "../../src/ops/encrypt.js";
import { KMS_OPERATIONS } from "../../src/ops/index.js";
import { putKeyPolicy } from "../../src/ops/put-key-policy.js";
import { retireGrant } from "../../src/ops/retire-grant.js";
import { revokeGrant } from "../../src/ops/revoke-grant.js";
import { PolicyAuthorizer } from "../../src/policy/policy-authorizer.js";
import { openTestServices, type TestServices } from "../support/services.js";

// AWS KMS's authorization, one row per decision: (principal, key policy, identity policy, grants,
// request) → allow or deny, run through the real operations so that the condition keys each
// operation supplies are exercised end to end. The key is in account A; Carol is in account B.

const A = "111122223333";
const B = "444455556666";
const REGION = "us-east-1";
const CLOCK = new Date("2026-01-01T00:00:00Z");
const EPOCH = CLOCK.getTime() / 1000;

const ROOT_A = `arn:aws:iam::${A}:root`;
const ROOT_B = `arn:aws:iam::${B}:root`;
const ADMIN = `arn:aws:iam::${A}:user/admin`;
const ALICE = `arn:aws:iam::${A}:user/alice`;
const BOB = `arn:aws:iam::${A}:user/bob`;
const DAVE = `arn:aws:iam::${A}:user/dave`;
const DEPLOYER = `arn:aws:iam::${A}:role/deployer`;
const CAROL = `arn:aws:iam::${B}:user/carol`;
const PRINCIPALS = [ADMIN, ALICE, BOB, DAVE, DEPLOYER, CAROL];

/** Stands for the ARN of the row's key in policies; replaced when the row is arranged. */
const THIS_KEY = "<this key>";
const OTHER_KEY = `arn:aws:kms:${REGION}:${A}:key/00000000-0000-4000-8000-000000000000`;
const PLAINTEXT = Buffer.from("attack at dawn");
const SHARED_ALIAS_ARN = `arn:aws:kms:${REGION}:${A}:alias/shared`;

// --- policy statements, compactly -----------------------------------------------------------

type Json = Record<string, unknown>;
const statement = (Effect: string, Action: string | string[], parts: Json[]): Json =>
  Object.assign({ Effect, Action, Resource: "*" }, ...parts);
const allow = (action: string | string[], ...parts: Json[]) => statement("Allow", action, parts);
const deny = (action: string | string[], ...parts: Json[]) => statement("Deny", action, parts);
/** Principal: one or more AWS principals (ARN or account id). */
const to = (...principals: string[]): Json => ({
  Principal: { AWS: principals.length === 1 ? principals[0] : principals },
});
const toEveryone: Json = { Principal: "*" };
const notTo = (...principals: string[]): Json => ({ NotPrincipal: { AWS: principals } });
const notAction = (...actions: string[]): Json => ({ Action: undefined, NotAction: actions });
const on = (...resources: string[]): Json => ({ Resource: resources });
const notOn = (...resources: string[]): Json => ({ Resource: undefined, NotResource: resources });
const when = (operator: string, key: string, value: unknown): Json => ({ Condition: { [operator]: { [key]: value } } });

/** The statement AWS's default key policy holds: the account may do everything, through its identity policies. */
const ACCOUNT_A_ALL = allow("kms:*", to(ROOT_A));

function policyText(statements: readonly Json[], keyArn: string): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements }).replaceAll(THIS_KEY, keyArn);
}

const tagList = (tags: Record<string, string>) =>
  Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));

// --- the table --------------------------------------------------------------------------------

type Outcome = "allow" | "deny" | "NotFoundException" | "MalformedPolicyDocumentException" | "DryRunOperationException";

/** The row's key as arranged: its ids, a ciphertext under it (with the row's context), and the grants made on it. */
interface Fixture {
  readonly keyId: string;
  readonly arn: string;
  readonly blob: Uint8Array;
  readonly grants: readonly { readonly grantId: string; readonly token: string }[];
}

interface Row {
  /** The evaluation rule (or condition key) that decides the row. */
  readonly rule: string;
  /** The caller; Alice when absent. */
  readonly as?: string;
  /** Key policy statements; AWS's default key policy when absent. */
  readonly key?: readonly Json[];
  /** The caller's identity policy statements; none when absent. */
  readonly iam?: readonly Json[];
  /** Grants on the key, made by the admin before the key policy is set. */
  readonly grants?: readonly Omit<CreateGrantRequest, "KeyId">[];
  readonly tags?: Record<string, string>;
  readonly aliases?: readonly string[];
  /** The request's encryption context (and the ciphertext's, for Decrypt). */
  readonly context?: Record<string, string>;
  readonly caller?: Partial<Pick<Caller, "sourceIp" | "secureTransport">>;
  /** Send the grants' tokens in GrantTokens. */
  readonly tokens?: boolean;
  readonly op: string;
  /** Request parameters over the operation's defaults (KeyId is the key ARN). */
  readonly input?: Json | ((key: Fixture) => Json);
  /** Runs after the key, grants and policies are in place, before the request. */
  readonly before?: (key: Fixture) => Promise<void>;
  readonly expect: Outcome;
  /** Where Trent knowingly differs from AWS: what AWS does, and why. */
  readonly todo?: string;
}

const ecc = { KeyPairSpec: "ECC_NIST_P256" };
const grantTo = (GranteePrincipal: string, Operations: string[], extra: Json = {}) =>
  ({ GranteePrincipal, Operations, ...extra }) as Omit<CreateGrantRequest, "KeyId">;
const dryRun = { DryRun: true };

// biome-ignore format: one row per line, so the rows read as a table
const ROWS: Row[] = [
  // Explicit deny wins: in the key policy, in an identity policy, over a grant.
  { rule: "an explicit Deny in the key policy wins over its Allow", key: [allow("kms:*", to(ALICE)), deny("kms:Encrypt", to(ALICE))], op: "Encrypt", expect: "deny" },
  { rule: "an explicit Deny in an identity policy wins over the key policy's Allow", key: [allow("kms:*", to(ALICE))], iam: [deny("kms:Encrypt")], op: "Encrypt", expect: "deny" },
  { rule: "an explicit Deny in an identity policy wins over its own Allow", iam: [allow("kms:*"), deny("kms:Encrypt")], op: "Encrypt", expect: "deny" },
  { rule: "an explicit Deny in the key policy wins over a grant", key: [ACCOUNT_A_ALL, deny("kms:Encrypt", to(ALICE))], grants: [grantTo(ALICE, ["Encrypt"])], op: "Encrypt", expect: "deny" },
  { rule: "an explicit Deny in an identity policy wins over a grant", iam: [deny("kms:Encrypt")], grants: [grantTo(ALICE, ["Encrypt"])], op: "Encrypt", expect: "deny" },
  { rule: "an explicit Deny in an identity policy wins for account-level actions", iam: [allow("kms:*"), deny("kms:CreateKey")], op: "CreateKey", expect: "deny" },
  { rule: "a Deny for another action does not apply", key: [allow("kms:*", to(ALICE)), deny("kms:Decrypt", to(ALICE))], op: "Encrypt", expect: "allow" },
  { rule: "a Deny for another principal does not apply", key: [allow("kms:*", to(ALICE)), deny("kms:*", to(BOB))], op: "Encrypt", expect: "allow" },

  // Same account: the key policy allows the principal directly, or delegates to the account.
  { rule: "a key policy naming the user allows it without any identity policy", key: [allow("kms:Encrypt", to(ALICE))], op: "Encrypt", expect: "allow" },
  { rule: "a key policy naming a role allows the role directly", as: DEPLOYER, key: [allow("kms:Encrypt", to(DEPLOYER))], op: "Encrypt", expect: "allow" },
  { rule: "a key policy naming a user allows only the actions it lists", key: [allow("kms:Encrypt", to(ALICE))], op: "Decrypt", expect: "deny" },
  { rule: "a key policy naming another user does not allow", key: [allow("kms:*", to(BOB))], op: "Encrypt", expect: "deny" },
  { rule: "the default key policy alone does not allow: it delegates to identity policies", op: "Encrypt", expect: "deny" },
  { rule: "the default key policy with an identity policy allows", iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "allow" },
  { rule: "the default key policy with an identity policy for another action denies", iam: [allow("kms:Decrypt")], op: "Encrypt", expect: "deny" },
  { rule: "a key policy allowing the root ARN delegates: without an identity policy, denied", key: [allow("kms:*", to(ROOT_A))], op: "DescribeKey", expect: "deny" },
  { rule: "a key policy allowing the root ARN delegates: with an identity policy, allowed", key: [allow("kms:*", to(ROOT_A))], iam: [allow("kms:DescribeKey")], op: "DescribeKey", expect: "allow" },
  { rule: "a key policy allowing the bare account id delegates: without an identity policy, denied", key: [allow("kms:*", to(A))], op: "Encrypt", expect: "deny" },
  { rule: "a key policy allowing the bare account id delegates: with an identity policy, allowed", key: [allow("kms:*", to(A))], iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "allow" },
  { rule: "an identity policy is no use when the key policy neither names the caller nor its account", key: [allow("kms:*", to(BOB))], iam: [allow("kms:*")], op: "Encrypt", expect: "deny" },
  { rule: 'Principal "*" allows every caller directly', key: [allow("kms:Encrypt", toEveryone)], op: "Encrypt", expect: "allow" },
  { rule: 'Principal {"AWS": "*"} allows every caller directly', key: [allow("kms:Encrypt", to("*"))], op: "Encrypt", expect: "allow" },
  { rule: 'Principal "*" with kms:CallerAccount allows the callers of that account', key: [allow("kms:Encrypt", toEveryone, when("StringEquals", "kms:CallerAccount", A))], op: "Encrypt", expect: "allow" },
  { rule: 'Principal "*" with kms:CallerAccount refuses callers of other accounts', as: CAROL, key: [allow("kms:Encrypt", toEveryone, when("StringEquals", "kms:CallerAccount", A))], iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "deny" },

  // Cross-account: the key policy must allow account B (or its principal) AND B's identity policy must allow.
  { rule: "cross-account: key policy allows account B and B's identity policy allows", as: CAROL, key: [ACCOUNT_A_ALL, allow("kms:Encrypt", to(ROOT_B))], iam: [allow("kms:Encrypt", on(THIS_KEY))], op: "Encrypt", expect: "allow" },
  { rule: "cross-account: key policy allows account B by its bare id, with B's identity policy", as: CAROL, key: [ACCOUNT_A_ALL, allow("kms:Encrypt", to(B))], iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "allow" },
  { rule: "cross-account: key policy allows account B but B's identity policy is missing", as: CAROL, key: [ACCOUNT_A_ALL, allow("kms:Encrypt", to(ROOT_B))], op: "Encrypt", expect: "deny" },
  { rule: "cross-account: B's identity policy allows but the key policy does not name B", as: CAROL, iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "deny" },
  { rule: "cross-account: B's identity policy allows only another key", as: CAROL, key: [allow("kms:Encrypt", to(ROOT_B))], iam: [allow("kms:Encrypt", on(OTHER_KEY))], op: "Encrypt", expect: "deny" },
  { rule: "cross-account: a key policy naming B's user still needs B's identity policy", as: CAROL, key: [allow("kms:Encrypt", to(CAROL))], op: "Encrypt", expect: "deny" },
  { rule: "cross-account: a key policy naming B's user, with B's identity policy", as: CAROL, key: [allow("kms:Encrypt", to(CAROL))], iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "allow" },
  { rule: "cross-account: Principal * with kms:CallerAccount B, with B's identity policy", as: CAROL, key: [allow("kms:Encrypt", toEveryone, when("StringEquals", "kms:CallerAccount", B))], iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "allow" },
  { rule: "cross-account: the key is named by its alias ARN", as: CAROL, aliases: ["alias/shared"], key: [allow("kms:Encrypt", to(ROOT_B))], iam: [allow("kms:Encrypt")], op: "Encrypt", input: { KeyId: SHARED_ALIAS_ARN }, expect: "allow" },
  { rule: "cross-account: an alias name resolves in the caller's own account only", as: CAROL, aliases: ["alias/shared"], key: [allow("kms:Encrypt", to(ROOT_B))], iam: [allow("kms:Encrypt")], op: "Encrypt", input: { KeyId: "alias/shared" }, expect: "NotFoundException" },
  { rule: "cross-account: a bare key id resolves in the caller's own account only", as: CAROL, key: [allow("kms:Encrypt", to(ROOT_B))], iam: [allow("kms:Encrypt")], op: "Encrypt", input: (k) => ({ KeyId: k.keyId }), expect: "NotFoundException" },

  // Action: wildcards and NotAction.
  { rule: "Action kms:Generate* matches GenerateDataKey", key: [allow("kms:Generate*", to(ALICE))], op: "GenerateDataKey", expect: "allow" },
  { rule: "Action kms:Generate* matches GenerateDataKeyPairWithoutPlaintext", key: [allow("kms:Generate*", to(ALICE))], op: "GenerateDataKeyPairWithoutPlaintext", expect: "allow" },
  { rule: "Action kms:Generate* does not match Encrypt", key: [allow("kms:Generate*", to(ALICE))], op: "Encrypt", expect: "deny" },
  { rule: "Action kms:* matches every KMS action", key: [allow("kms:*", to(ALICE))], op: "GetKeyPolicy", expect: "allow" },
  { rule: "Action * matches every action", key: [allow("*", to(ALICE))], op: "DescribeKey", expect: "allow" },
  { rule: "Action kms:Describe?ey: ? matches one character", key: [allow("kms:Describe?ey", to(ALICE))], op: "DescribeKey", expect: "allow" },
  { rule: "Action names match case-insensitively", key: [allow("KMS:encrypt", to(ALICE))], op: "Encrypt", expect: "allow" },
  { rule: "NotAction allows every action but those listed", key: [allow("*", to(ALICE), notAction("kms:Decrypt"))], op: "Encrypt", expect: "allow" },
  { rule: "NotAction does not allow the actions listed", key: [allow("*", to(ALICE), notAction("kms:Decrypt"))], op: "Decrypt", expect: "deny" },
  { rule: "a Deny with NotAction denies every other action", key: [allow("kms:*", to(ALICE)), deny("*", to(ALICE), notAction("kms:Encrypt", "kms:DescribeKey"))], op: "GenerateDataKey", expect: "deny" },
  { rule: "a Deny with NotAction spares the actions listed", key: [allow("kms:*", to(ALICE)), deny("*", to(ALICE), notAction("kms:Encrypt", "kms:DescribeKey"))], op: "Encrypt", expect: "allow" },

  // Resource and NotResource.
  { rule: "key policy Resource naming this key's ARN", key: [allow("kms:Encrypt", to(ALICE), on(THIS_KEY))], op: "Encrypt", expect: "allow" },
  { rule: "identity policy Resource naming this key's ARN", iam: [allow("kms:Encrypt", on(THIS_KEY))], op: "Encrypt", expect: "allow" },
  { rule: "identity policy Resource naming another key's ARN", iam: [allow("kms:Encrypt", on(OTHER_KEY))], op: "Encrypt", expect: "deny" },
  { rule: "identity policy Resource key/* of the key's account and Region", iam: [allow("kms:Encrypt", on(`arn:aws:kms:${REGION}:${A}:key/*`))], op: "Encrypt", expect: "allow" },
  { rule: "identity policy Resource with a Region wildcard", iam: [allow("kms:Encrypt", on(`arn:aws:kms:*:${A}:key/*`))], op: "Encrypt", expect: "allow" },
  { rule: "identity policy Resource key/* of another account", iam: [allow("kms:Encrypt", on(`arn:aws:kms:${REGION}:${B}:key/*`))], op: "Encrypt", expect: "deny" },
  { rule: "identity policy Resource alias/* does not cover a key", iam: [allow("kms:Encrypt", on(`arn:aws:kms:${REGION}:${A}:alias/*`))], op: "Encrypt", expect: "deny" },
  { rule: "identity policy NotResource of another key covers this key", iam: [allow("kms:Encrypt", notOn(OTHER_KEY))], op: "Encrypt", expect: "allow" },
  { rule: "identity policy NotResource of this key leaves it out", iam: [allow("kms:Encrypt", notOn(THIS_KEY))], op: "Encrypt", expect: "deny" },

  // NotPrincipal (with Deny, the supported form): the caller escapes only when it and its account are listed.
  { rule: "a Deny with NotPrincipal spares the user and account it lists", key: [allow("kms:*", to(ALICE)), deny("kms:Encrypt", notTo(ALICE, ROOT_A))], op: "Encrypt", expect: "allow" },
  { rule: "a Deny with NotPrincipal denies everyone else", as: BOB, key: [allow("kms:*", to(ALICE, BOB)), deny("kms:Encrypt", notTo(ALICE, ROOT_A))], op: "Encrypt", expect: "deny" },
  { rule: "a Deny with NotPrincipal listing the user but not its account denies it (IAM: list the account too)", key: [allow("kms:*", to(ALICE)), deny("kms:Encrypt", notTo(ALICE))], op: "Encrypt", expect: "deny" },

  // Condition operators.
  { rule: "StringEquals on kms:EncryptionContext:<key> matches", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionContext:purpose", "test"))], context: { purpose: "test" }, op: "Encrypt", expect: "allow" },
  { rule: "StringEquals on kms:EncryptionContext:<key> with another value", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionContext:purpose", "test"))], context: { purpose: "prod" }, op: "Encrypt", expect: "deny" },
  { rule: "StringEquals on kms:EncryptionContext:<key> fails without the pair", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionContext:purpose", "test"))], op: "Encrypt", expect: "deny" },
  { rule: "StringEquals is case-sensitive in the value", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionContext:purpose", "test"))], context: { purpose: "Test" }, op: "Encrypt", expect: "deny" },
  { rule: "the context key in kms:EncryptionContext:<key> is case-insensitive", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionContext:Purpose", "test"))], context: { PURPOSE: "test" }, op: "Encrypt", expect: "allow" },
  { rule: "StringEqualsIgnoreCase ignores the value's case", key: [allow("kms:Encrypt", to(ALICE), when("StringEqualsIgnoreCase", "kms:EncryptionContext:purpose", "test"))], context: { purpose: "TEST" }, op: "Encrypt", expect: "allow" },
  { rule: "StringNotEquals holds for another value", key: [allow("kms:Encrypt", to(ALICE), when("StringNotEquals", "kms:EncryptionContext:stage", "prod"))], context: { stage: "dev" }, op: "Encrypt", expect: "allow" },
  { rule: "StringNotEquals fails for the value it names", key: [allow("kms:Encrypt", to(ALICE), when("StringNotEquals", "kms:EncryptionContext:stage", "prod"))], context: { stage: "prod" }, op: "Encrypt", expect: "deny" },
  { rule: "StringNotEquals holds when the key is absent", key: [allow("kms:Encrypt", to(ALICE), when("StringNotEquals", "kms:EncryptionContext:stage", "prod"))], op: "Encrypt", expect: "allow" },
  { rule: "StringLike on aws:PrincipalArn matches", key: [allow("kms:Encrypt", toEveryone, when("StringLike", "aws:PrincipalArn", `arn:aws:iam::${A}:user/al*`))], op: "Encrypt", expect: "allow" },
  { rule: "StringLike on aws:PrincipalArn does not match another user", as: BOB, key: [allow("kms:Encrypt", toEveryone, when("StringLike", "aws:PrincipalArn", `arn:aws:iam::${A}:user/al*`))], op: "Encrypt", expect: "deny" },
  { rule: "a Deny with StringNotLike on aws:PrincipalArn denies users", key: [allow("kms:*", to(ALICE)), deny("kms:Encrypt", toEveryone, when("StringNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/*"))], op: "Encrypt", expect: "deny" },
  { rule: "a Deny with StringNotLike on aws:PrincipalArn spares roles", as: DEPLOYER, key: [allow("kms:*", to(DEPLOYER)), deny("kms:Encrypt", toEveryone, when("StringNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/*"))], op: "Encrypt", expect: "allow" },
  { rule: "NumericLessThanEquals on a context value", key: [allow("kms:Encrypt", to(ALICE), when("NumericLessThanEquals", "kms:EncryptionContext:version", 3))], context: { version: "3" }, op: "Encrypt", expect: "allow" },
  { rule: "NumericLessThanEquals fails for a larger value", key: [allow("kms:Encrypt", to(ALICE), when("NumericLessThanEquals", "kms:EncryptionContext:version", 3))], context: { version: "4" }, op: "Encrypt", expect: "deny" },
  { rule: "a Numeric operator fails for a value that is not a number", key: [allow("kms:Encrypt", to(ALICE), when("NumericLessThanEquals", "kms:EncryptionContext:version", 3))], context: { version: "two" }, op: "Encrypt", expect: "deny" },
  { rule: "NumericGreaterThan on aws:EpochTime", key: [allow("kms:Encrypt", to(ALICE), when("NumericGreaterThan", "aws:EpochTime", EPOCH - 1))], op: "Encrypt", expect: "allow" },
  { rule: "NumericLessThan on aws:EpochTime in the past", key: [allow("kms:Encrypt", to(ALICE), when("NumericLessThan", "aws:EpochTime", EPOCH))], op: "Encrypt", expect: "deny" },
  { rule: "DateLessThan on aws:CurrentTime before the deadline", key: [allow("kms:Encrypt", to(ALICE), when("DateLessThan", "aws:CurrentTime", "2027-01-01T00:00:00Z"))], op: "Encrypt", expect: "allow" },
  { rule: "DateGreaterThan on aws:CurrentTime before the start", key: [allow("kms:Encrypt", to(ALICE), when("DateGreaterThan", "aws:CurrentTime", "2027-01-01T00:00:00Z"))], op: "Encrypt", expect: "deny" },
  { rule: "DateGreaterThanEquals on aws:CurrentTime with epoch seconds", key: [allow("kms:Encrypt", to(ALICE), when("DateGreaterThanEquals", "aws:CurrentTime", String(EPOCH)))], op: "Encrypt", expect: "allow" },
  { rule: "Bool aws:SecureTransport true refuses a plain HTTP request", key: [allow("kms:Encrypt", to(ALICE), when("Bool", "aws:SecureTransport", true))], op: "Encrypt", expect: "deny" },
  { rule: "Bool aws:SecureTransport true allows a TLS request", key: [allow("kms:Encrypt", to(ALICE), when("Bool", "aws:SecureTransport", true))], caller: { secureTransport: true }, op: "Encrypt", expect: "allow" },
  { rule: "a Deny on Bool aws:SecureTransport false denies a plain HTTP request", key: [allow("kms:*", to(ALICE)), deny("kms:*", toEveryone, when("Bool", "aws:SecureTransport", "false"))], op: "Encrypt", expect: "deny" },
  { rule: "Null false on kms:EncryptionContextKeys requires an encryption context", key: [allow("kms:Encrypt", to(ALICE), when("Null", "kms:EncryptionContextKeys", false))], context: { purpose: "test" }, op: "Encrypt", expect: "allow" },
  { rule: "Null false on kms:EncryptionContextKeys refuses a request without one", key: [allow("kms:Encrypt", to(ALICE), when("Null", "kms:EncryptionContextKeys", false))], op: "Encrypt", expect: "deny" },
  { rule: "ArnEquals on aws:PrincipalArn", key: [allow("kms:Encrypt", toEveryone, when("ArnEquals", "aws:PrincipalArn", ALICE))], op: "Encrypt", expect: "allow" },
  { rule: "ArnLike on aws:PrincipalArn with an account wildcard", key: [allow("kms:Encrypt", toEveryone, when("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:user/alice"))], op: "Encrypt", expect: "allow" },
  { rule: "ArnLike role/* admits a role", as: DEPLOYER, key: [allow("kms:Encrypt", toEveryone, when("ArnLike", "aws:PrincipalArn", `arn:aws:iam::${A}:role/*`))], op: "Encrypt", expect: "allow" },
  { rule: "ArnLike role/* refuses a user", key: [allow("kms:Encrypt", toEveryone, when("ArnLike", "aws:PrincipalArn", `arn:aws:iam::${A}:role/*`))], op: "Encrypt", expect: "deny" },
  { rule: "a Deny with ArnNotEquals on aws:PrincipalArn denies everyone else", as: BOB, key: [allow("kms:*", to(ALICE, BOB)), deny("kms:Encrypt", toEveryone, when("ArnNotEquals", "aws:PrincipalArn", ALICE))], op: "Encrypt", expect: "deny" },
  { rule: "a Deny with ArnNotEquals on aws:PrincipalArn spares the ARN it names", key: [allow("kms:*", to(ALICE, BOB)), deny("kms:Encrypt", toEveryone, when("ArnNotEquals", "aws:PrincipalArn", ALICE))], op: "Encrypt", expect: "allow" },
  { rule: "StringEqualsIfExists holds when the key is absent", key: [allow("kms:Encrypt", to(ALICE), when("StringEqualsIfExists", "kms:EncryptionContext:stage", "dev"))], op: "Encrypt", expect: "allow" },
  { rule: "StringEqualsIfExists still tests a present key", key: [allow("kms:Encrypt", to(ALICE), when("StringEqualsIfExists", "kms:EncryptionContext:stage", "dev"))], context: { stage: "prod" }, op: "Encrypt", expect: "deny" },
  { rule: "ForAnyValue:StringEquals on kms:EncryptionContextKeys: one key matches", key: [allow("kms:Encrypt", to(ALICE), when("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", "purpose"))], context: { purpose: "x", owner: "y" }, op: "Encrypt", expect: "allow" },
  { rule: "ForAnyValue:StringEquals on kms:EncryptionContextKeys: no key matches", key: [allow("kms:Encrypt", to(ALICE), when("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", "purpose"))], context: { owner: "y" }, op: "Encrypt", expect: "deny" },
  { rule: "ForAnyValue fails over an empty encryption context", key: [allow("kms:Encrypt", to(ALICE), when("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", "purpose"))], op: "Encrypt", expect: "deny" },
  { rule: "ForAllValues:StringEquals on kms:EncryptionContextKeys: every key is listed", key: [allow("kms:Encrypt", to(ALICE), when("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["purpose", "stage"]))], context: { purpose: "x" }, op: "Encrypt", expect: "allow" },
  { rule: "ForAllValues:StringEquals on kms:EncryptionContextKeys: a key is not listed", key: [allow("kms:Encrypt", to(ALICE), when("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["purpose", "stage"]))], context: { purpose: "x", owner: "y" }, op: "Encrypt", expect: "deny" },
  { rule: "ForAllValues holds over an empty encryption context", key: [allow("kms:Encrypt", to(ALICE), when("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["purpose", "stage"]))], op: "Encrypt", expect: "allow" },
  { rule: "IpAddress on aws:SourceIp inside the range", key: [allow("kms:Encrypt", to(ALICE), when("IpAddress", "aws:SourceIp", "10.0.0.0/8"))], caller: { sourceIp: "10.1.2.3" }, op: "Encrypt", expect: "allow" },
  { rule: "IpAddress on aws:SourceIp outside the range", key: [allow("kms:Encrypt", to(ALICE), when("IpAddress", "aws:SourceIp", "10.0.0.0/8"))], caller: { sourceIp: "192.168.1.1" }, op: "Encrypt", expect: "deny" },
  { rule: "IpAddress on aws:SourceIp reads an IPv4-mapped IPv6 peer as IPv4", key: [allow("kms:Encrypt", to(ALICE), when("IpAddress", "aws:SourceIp", "10.0.0.0/8"))], caller: { sourceIp: "::ffff:10.1.2.3" }, op: "Encrypt", expect: "allow" },
  { rule: "a Deny with NotIpAddress denies requests from elsewhere", key: [allow("kms:*", to(ALICE)), deny("kms:*", toEveryone, when("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"))], caller: { sourceIp: "192.168.1.1" }, op: "Encrypt", expect: "deny" },

  // Condition keys about the caller and the request.
  { rule: "aws:PrincipalAccount names the caller's account", key: [allow("kms:Encrypt", toEveryone, when("StringEquals", "aws:PrincipalAccount", A))], op: "Encrypt", expect: "allow" },
  { rule: "aws:PrincipalAccount refuses a caller of another account", as: CAROL, key: [allow("kms:Encrypt", toEveryone, when("StringEquals", "aws:PrincipalAccount", A))], iam: [allow("kms:Encrypt")], op: "Encrypt", expect: "deny" },
  { rule: "kms:ViaService is never present: a condition requiring it denies", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:ViaService", `ec2.${REGION}.amazonaws.com`))], op: "Encrypt", expect: "deny" },
  { rule: "kms:ViaService is never present: with IfExists the condition holds", key: [allow("kms:Encrypt", to(ALICE), when("StringEqualsIfExists", "kms:ViaService", `ec2.${REGION}.amazonaws.com`))], op: "Encrypt", expect: "allow" },
  { rule: "kms:ViaService is never present: Null true holds", key: [allow("kms:Encrypt", to(ALICE), when("Null", "kms:ViaService", true))], op: "Encrypt", expect: "allow" },
  { rule: "kms:RequestAlias: the request names the key by that alias", aliases: ["alias/finance"], key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:RequestAlias", "alias/finance"))], op: "Encrypt", input: { KeyId: "alias/finance" }, expect: "allow" },
  { rule: "kms:RequestAlias: an alias ARN counts as the alias", aliases: ["alias/finance"], key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:RequestAlias", "alias/finance"))], op: "Encrypt", input: { KeyId: `arn:aws:kms:${REGION}:${A}:alias/finance` }, expect: "allow" },
  { rule: "kms:RequestAlias: the key ARN does not satisfy it", aliases: ["alias/finance"], key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:RequestAlias", "alias/finance"))], op: "Encrypt", expect: "deny" },
  { rule: "kms:ResourceAliases (identity policy): the key has a matching alias", aliases: ["alias/finance-app"], iam: [allow("kms:Encrypt", when("ForAnyValue:StringLike", "kms:ResourceAliases", "alias/finance-*"))], op: "Encrypt", expect: "allow" },
  { rule: "kms:ResourceAliases (identity policy): the key has no alias", iam: [allow("kms:Encrypt", when("ForAnyValue:StringLike", "kms:ResourceAliases", "alias/finance-*"))], op: "Encrypt", expect: "deny" },
  { rule: "kms:ResourceAliases with ForAllValues: one alias is outside the pattern", aliases: ["alias/finance-app", "alias/other"], iam: [allow("kms:Encrypt", when("ForAllValues:StringLike", "kms:ResourceAliases", "alias/finance-*"))], op: "Encrypt", expect: "deny" },
  { rule: "kms:EncryptionAlgorithm: the default SYMMETRIC_DEFAULT counts when the request names none", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"))], op: "Encrypt", expect: "allow" },
  { rule: "kms:EncryptionAlgorithm: another algorithm in the request", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"))], op: "Encrypt", input: { EncryptionAlgorithm: "RSAES_OAEP_SHA_256" }, expect: "deny" },
  { rule: "kms:EncryptionAlgorithm is SYMMETRIC_DEFAULT for Decrypt too", key: [allow("kms:*", to(ALICE)), deny(["kms:Decrypt", "kms:GenerateDataKey*"], toEveryone, when("StringNotEquals", "kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"))], op: "Decrypt", expect: "allow" },
  { rule: "kms:EncryptionAlgorithm is SYMMETRIC_DEFAULT for GenerateDataKey", key: [allow("kms:*", to(ALICE)), deny(["kms:Decrypt", "kms:GenerateDataKey*"], toEveryone, when("StringNotEquals", "kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"))], op: "GenerateDataKey", expect: "allow" },
  { rule: "kms:DataKeyPairSpec matches the requested pair spec", key: [allow("kms:GenerateDataKeyPair*", to(ALICE), when("StringLike", "kms:DataKeyPairSpec", "ECC_*"))], op: "GenerateDataKeyPair", expect: "allow" },
  { rule: "kms:DataKeyPairSpec refuses another pair spec", key: [allow("kms:GenerateDataKeyPair*", to(ALICE), when("StringLike", "kms:DataKeyPairSpec", "RSA*"))], op: "GenerateDataKeyPairWithoutPlaintext", expect: "deny" },

  // Condition keys about the key.
  { rule: "kms:KeySpec of the key", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:KeySpec", "SYMMETRIC_DEFAULT"))], op: "Encrypt", expect: "allow" },
  { rule: "kms:KeySpec of another spec", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:KeySpec", "RSA_2048"))], op: "Encrypt", expect: "deny" },
  { rule: "kms:KeyUsage of the key", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:KeyUsage", "ENCRYPT_DECRYPT"))], op: "Encrypt", expect: "allow" },
  { rule: "kms:KeyUsage of another usage", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:KeyUsage", "SIGN_VERIFY"))], op: "Encrypt", expect: "deny" },
  { rule: "kms:KeyOrigin of the key", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:KeyOrigin", "AWS_KMS"))], op: "Encrypt", expect: "allow" },
  { rule: "kms:KeyOrigin of another origin", key: [allow("kms:Encrypt", to(ALICE), when("StringEquals", "kms:KeyOrigin", "EXTERNAL"))], op: "Encrypt", expect: "deny" },
  { rule: "aws:ResourceTag/<key> matches the key's tag", tags: { project: "alpha" }, iam: [allow("kms:Encrypt", when("StringEquals", "aws:ResourceTag/project", "alpha"))], op: "Encrypt", expect: "allow" },
  { rule: "aws:ResourceTag/<key> with another value", tags: { project: "beta" }, iam: [allow("kms:Encrypt", when("StringEquals", "aws:ResourceTag/project", "alpha"))], op: "Encrypt", expect: "deny" },
  { rule: "aws:ResourceTag/<key> on an untagged key", iam: [allow("kms:Encrypt", when("StringEquals", "aws:ResourceTag/project", "alpha"))], op: "Encrypt", expect: "deny" },

  // CreateKey: identity policies alone, with the key being created as the condition keys' subject.
  { rule: "CreateKey is allowed by an identity policy alone", iam: [allow("kms:CreateKey")], op: "CreateKey", expect: "allow" },
  { rule: "CreateKey without an identity policy", op: "CreateKey", expect: "deny" },
  { rule: "ListKeys is allowed by an identity policy alone", iam: [allow("kms:List*")], op: "ListKeys", expect: "allow" },
  { rule: "GenerateRandom without an identity policy", op: "GenerateRandom", input: { NumberOfBytes: 16 }, expect: "deny" },
  { rule: "kms:KeySpec on CreateKey: the default spec counts", iam: [allow("kms:CreateKey", when("StringEquals", "kms:KeySpec", "SYMMETRIC_DEFAULT"))], op: "CreateKey", expect: "allow" },
  { rule: "kms:KeyUsage on CreateKey: the default usage counts", iam: [allow("kms:CreateKey", when("StringEquals", "kms:KeyUsage", "ENCRYPT_DECRYPT"))], op: "CreateKey", expect: "allow" },
  { rule: "kms:KeyOrigin on CreateKey: only EXTERNAL allowed", iam: [allow("kms:CreateKey", when("StringEquals", "kms:KeyOrigin", "EXTERNAL"))], op: "CreateKey", expect: "deny" },
  { rule: "aws:RequestTag/<key> on CreateKey", iam: [allow("kms:CreateKey", when("StringEquals", "aws:RequestTag/project", "alpha"))], op: "CreateKey", input: { Tags: tagList({ project: "alpha" }) }, expect: "allow" },
  { rule: "aws:RequestTag/<key> on CreateKey with another value", iam: [allow("kms:CreateKey", when("StringEquals", "aws:RequestTag/project", "alpha"))], op: "CreateKey", input: { Tags: tagList({ project: "beta" }) }, expect: "deny" },
  { rule: "aws:TagKeys with ForAllValues on CreateKey: an unlisted tag key", iam: [allow("kms:CreateKey", when("ForAllValues:StringEquals", "aws:TagKeys", ["project"]))], op: "CreateKey", input: { Tags: tagList({ project: "alpha", cost: "1" }) }, expect: "deny" },
  { rule: "kms:BypassPolicyLockoutSafetyCheck on CreateKey: a Deny on true", iam: [allow("kms:CreateKey"), deny(["kms:CreateKey", "kms:PutKeyPolicy"], when("Bool", "kms:BypassPolicyLockoutSafetyCheck", true))], op: "CreateKey", input: { Policy: policyText([allow("kms:*", to(ALICE))], ""), BypassPolicyLockoutSafetyCheck: true }, expect: "deny" },
  { rule: "kms:BypassPolicyLockoutSafetyCheck on CreateKey: the Deny on true spares a request without it", iam: [allow("kms:CreateKey"), deny(["kms:CreateKey", "kms:PutKeyPolicy"], when("Bool", "kms:BypassPolicyLockoutSafetyCheck", true))], op: "CreateKey", input: { Policy: policyText([allow("kms:*", to(ALICE))], "") }, expect: "allow" },

  // Tags in TagResource / UntagResource.
  { rule: "aws:RequestTag/<key> on TagResource", key: [allow("kms:TagResource", to(ALICE), when("StringEquals", "aws:RequestTag/project", "alpha"))], op: "TagResource", input: { Tags: tagList({ project: "alpha" }) }, expect: "allow" },
  { rule: "aws:RequestTag/<key> on TagResource with another value", key: [allow("kms:TagResource", to(ALICE), when("StringEquals", "aws:RequestTag/project", "alpha"))], op: "TagResource", input: { Tags: tagList({ project: "beta" }) }, expect: "deny" },
  { rule: "aws:TagKeys with ForAllValues on TagResource: listed keys only", key: [allow("kms:TagResource", to(ALICE), when("ForAllValues:StringEquals", "aws:TagKeys", ["project", "owner"]))], op: "TagResource", input: { Tags: tagList({ project: "alpha" }) }, expect: "allow" },
  { rule: "aws:TagKeys with ForAllValues on TagResource: an unlisted key", key: [allow("kms:TagResource", to(ALICE), when("ForAllValues:StringEquals", "aws:TagKeys", ["project", "owner"]))], op: "TagResource", input: { Tags: tagList({ project: "alpha", secret: "x" }) }, expect: "deny" },
  { rule: "a Deny on ForAnyValue aws:TagKeys protects a tag from UntagResource", tags: { protected: "yes" }, key: [allow("kms:*", to(ALICE)), deny("kms:UntagResource", to(ALICE), when("ForAnyValue:StringEquals", "aws:TagKeys", "protected"))], op: "UntagResource", input: { TagKeys: ["protected"] }, expect: "deny" },
  { rule: "a Deny on ForAnyValue aws:TagKeys spares other tags", tags: { other: "yes" }, key: [allow("kms:*", to(ALICE)), deny("kms:UntagResource", to(ALICE), when("ForAnyValue:StringEquals", "aws:TagKeys", "protected"))], op: "UntagResource", input: { TagKeys: ["other"] }, expect: "allow" },

  // CreateGrant's condition keys.
  { rule: "kms:GrantOperations with ForAllValues: operations within the list", key: [allow("kms:CreateGrant", to(ALICE), when("ForAllValues:StringEquals", "kms:GrantOperations", ["Encrypt", "Decrypt"]))], op: "CreateGrant", input: { Operations: ["Encrypt"] }, expect: "allow" },
  { rule: "kms:GrantOperations with ForAllValues: an operation outside the list", key: [allow("kms:CreateGrant", to(ALICE), when("ForAllValues:StringEquals", "kms:GrantOperations", ["Encrypt", "Decrypt"]))], op: "CreateGrant", input: { Operations: ["Encrypt", "GenerateDataKey"] }, expect: "deny" },
  { rule: "kms:GrantOperations with ForAnyValue: one listed operation suffices", key: [allow("kms:CreateGrant", to(ALICE), when("ForAnyValue:StringEquals", "kms:GrantOperations", "Decrypt"))], op: "CreateGrant", input: { Operations: ["Decrypt", "GenerateDataKey"] }, expect: "allow" },
  { rule: "kms:GranteePrincipal names the grantee", key: [allow("kms:CreateGrant", to(ALICE), when("StringEquals", "kms:GranteePrincipal", BOB))], op: "CreateGrant", input: { GranteePrincipal: BOB }, expect: "allow" },
  { rule: "kms:GranteePrincipal refuses another grantee", key: [allow("kms:CreateGrant", to(ALICE), when("StringEquals", "kms:GranteePrincipal", BOB))], op: "CreateGrant", input: { GranteePrincipal: DAVE }, expect: "deny" },
  { rule: "kms:RetiringPrincipal names the retiring principal", key: [allow("kms:CreateGrant", to(ALICE), when("StringEquals", "kms:RetiringPrincipal", ADMIN))], op: "CreateGrant", input: { RetiringPrincipal: ADMIN }, expect: "allow" },
  { rule: "kms:RetiringPrincipal is absent without a retiring principal", key: [allow("kms:CreateGrant", to(ALICE), when("StringEquals", "kms:RetiringPrincipal", ADMIN))], op: "CreateGrant", expect: "deny" },
  { rule: "kms:GrantIsForAWSResource is false: a condition requiring true denies", key: [allow("kms:CreateGrant", to(ALICE), when("Bool", "kms:GrantIsForAWSResource", true))], op: "CreateGrant", expect: "deny" },
  { rule: "kms:GrantIsForAWSResource is false: a condition on false holds", key: [allow("kms:CreateGrant", to(ALICE), when("Bool", "kms:GrantIsForAWSResource", false))], op: "CreateGrant", expect: "allow" },
  { rule: "kms:GrantConstraintType names the constraint", key: [allow("kms:CreateGrant", to(ALICE), when("StringEquals", "kms:GrantConstraintType", "EncryptionContextEquals"))], op: "CreateGrant", input: { Constraints: { EncryptionContextEquals: { purpose: "test" } } }, expect: "allow" },
  { rule: "kms:GrantConstraintType is absent from an unconstrained grant", key: [allow("kms:CreateGrant", to(ALICE), when("StringEquals", "kms:GrantConstraintType", "EncryptionContextEquals"))], op: "CreateGrant", expect: "deny" },

  // Grants: the grantee may use exactly the granted operations, under the grant's constraints.
  { rule: "a grant allows a grantee no policy allows", grants: [grantTo(ALICE, ["Encrypt"])], op: "Encrypt", expect: "allow" },
  { rule: "a grant allows its operations with its token too", grants: [grantTo(ALICE, ["Encrypt"])], tokens: true, op: "Encrypt", expect: "allow" },
  { rule: "a grant allows Decrypt when it grants Decrypt", grants: [grantTo(ALICE, ["Decrypt"])], op: "Decrypt", expect: "allow" },
  { rule: "a grant does not allow an operation it does not grant", grants: [grantTo(ALICE, ["Encrypt"])], op: "GenerateDataKey", expect: "deny" },
  { rule: "a grant does not allow DescribeKey unless it grants it", grants: [grantTo(ALICE, ["Encrypt"])], op: "DescribeKey", expect: "deny" },
  { rule: "a grant never allows a non-grant operation such as GetKeyPolicy", grants: [grantTo(ALICE, ["Encrypt", "Decrypt", "DescribeKey"])], op: "GetKeyPolicy", expect: "deny" },
  { rule: "a grant for another principal does nothing", grants: [grantTo(BOB, ["Encrypt"])], op: "Encrypt", expect: "deny" },
  { rule: "a grant allows a role that is its grantee", as: DEPLOYER, grants: [grantTo(DEPLOYER, ["GenerateDataKey"])], op: "GenerateDataKey", expect: "allow" },
  { rule: "EncryptionContextEquals: the same context", grants: [grantTo(ALICE, ["Encrypt"], { Constraints: { EncryptionContextEquals: { purpose: "test" } } })], context: { purpose: "test" }, op: "Encrypt", expect: "allow" },
  { rule: "EncryptionContextEquals: an extra pair", grants: [grantTo(ALICE, ["Encrypt"], { Constraints: { EncryptionContextEquals: { purpose: "test" } } })], context: { purpose: "test", stage: "dev" }, op: "Encrypt", expect: "deny" },
  { rule: "EncryptionContextEquals: no context", grants: [grantTo(ALICE, ["Encrypt"], { Constraints: { EncryptionContextEquals: { purpose: "test" } } })], op: "Encrypt", expect: "deny" },
  { rule: "EncryptionContextSubset: the pair with others", grants: [grantTo(ALICE, ["Decrypt"], { Constraints: { EncryptionContextSubset: { purpose: "test" } } })], context: { purpose: "test", stage: "dev" }, op: "Decrypt", expect: "allow" },
  { rule: "EncryptionContextSubset: another value", grants: [grantTo(ALICE, ["Encrypt"], { Constraints: { EncryptionContextSubset: { purpose: "test" } } })], context: { purpose: "prod" }, op: "Encrypt", expect: "deny" },
  { rule: "EncryptionContextSubset: the constraint's keys match case-insensitively", grants: [grantTo(ALICE, ["Encrypt"], { Constraints: { EncryptionContextSubset: { purpose: "test" } } })], context: { Purpose: "test" }, op: "Encrypt", expect: "allow" },
  { rule: "a constrained grant allows DescribeKey whatever the context", grants: [grantTo(ALICE, ["Encrypt", "DescribeKey"], { Constraints: { EncryptionContextEquals: { purpose: "test" } } })], op: "DescribeKey", expect: "allow" },
  {
    rule: "a revoked grant stops working at once",
    grants: [grantTo(ALICE, ["Encrypt"])],
    before: async (k) => {
      assert.equal(await attempt(ALICE, "Encrypt", { KeyId: k.arn, Plaintext: PLAINTEXT }), "allow");
      await revokeGrant(contextFor(ADMIN), { KeyId: k.arn, GrantId: k.grants[0]?.grantId as string });
    },
    op: "Encrypt",
    expect: "deny",
  },
  {
    rule: "a retired grant stops working at once",
    grants: [grantTo(ALICE, ["Encrypt", "RetireGrant"])],
    before: async (k) => {
      assert.equal(await attempt(ALICE, "Encrypt", { KeyId: k.arn, Plaintext: PLAINTEXT }), "allow");
      await retireGrant(contextFor(ALICE), { GrantToken: k.grants[0]?.token as string });
    },
    op: "Encrypt",
    expect: "deny",
  },
  { rule: "CreateGrant through a grant: a subset of its operations", grants: [grantTo(ALICE, ["Encrypt", "Decrypt", "CreateGrant"])], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Encrypt"] }, expect: "allow" },
  { rule: "CreateGrant through a grant: CreateGrant itself may be passed on", grants: [grantTo(ALICE, ["Encrypt", "Decrypt", "CreateGrant"])], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Decrypt", "CreateGrant"] }, expect: "allow" },
  { rule: "CreateGrant through a grant: an operation the grant lacks", grants: [grantTo(ALICE, ["Encrypt", "Decrypt", "CreateGrant"])], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Encrypt", "GenerateDataKey"] }, expect: "deny" },
  { rule: "CreateGrant through a grant without CreateGrant", grants: [grantTo(ALICE, ["Encrypt", "Decrypt"])], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Encrypt"] }, expect: "deny" },
  { rule: "CreateGrant through a constrained grant: Subset made Equals is stricter", grants: [grantTo(ALICE, ["Decrypt", "CreateGrant"], { Constraints: { EncryptionContextSubset: { dept: "IT" } } })], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Decrypt"], Constraints: { EncryptionContextEquals: { dept: "IT" } } }, expect: "allow" },
  { rule: "CreateGrant through a constrained grant: Subset with an added pair is stricter", grants: [grantTo(ALICE, ["Decrypt", "CreateGrant"], { Constraints: { EncryptionContextSubset: { dept: "IT" } } })], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Decrypt"], Constraints: { EncryptionContextSubset: { dept: "IT", project: "x" } } }, expect: "allow" },
  { rule: "CreateGrant through a constrained grant: dropping the constraint", grants: [grantTo(ALICE, ["Decrypt", "CreateGrant"], { Constraints: { EncryptionContextSubset: { dept: "IT" } } })], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Decrypt"] }, expect: "deny" },
  { rule: "CreateGrant through a constrained grant: removing a pair", grants: [grantTo(ALICE, ["Decrypt", "CreateGrant"], { Constraints: { EncryptionContextSubset: { dept: "IT" } } })], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Decrypt"], Constraints: { EncryptionContextSubset: { project: "x" } } }, expect: "deny" },
  { rule: "CreateGrant through a constrained grant: Equals made Subset is looser", grants: [grantTo(ALICE, ["Decrypt", "CreateGrant"], { Constraints: { EncryptionContextEquals: { dept: "IT" } } })], op: "CreateGrant", input: { GranteePrincipal: DAVE, Operations: ["Decrypt"], Constraints: { EncryptionContextSubset: { dept: "IT" } } }, expect: "deny" },

  // The lockout safety check.
  { rule: "lockout check: CreateKey with a policy that shuts the caller out", iam: [allow("kms:CreateKey")], op: "CreateKey", input: { Policy: policyText([allow("kms:*", to(BOB))], "") }, expect: "MalformedPolicyDocumentException" },
  { rule: "lockout check: CreateKey with that policy and BypassPolicyLockoutSafetyCheck", iam: [allow("kms:CreateKey")], op: "CreateKey", input: { Policy: policyText([allow("kms:*", to(BOB))], ""), BypassPolicyLockoutSafetyCheck: true }, expect: "allow" },
  { rule: "lockout check: CreateKey with a policy naming the caller", iam: [allow("kms:CreateKey")], op: "CreateKey", input: { Policy: policyText([allow("kms:PutKeyPolicy", to(ALICE))], "") }, expect: "allow" },
  { rule: "lockout check: CreateKey with a policy delegating to the account, whose identity policy allows PutKeyPolicy", iam: [allow("kms:*")], op: "CreateKey", input: { Policy: policyText([ACCOUNT_A_ALL], "") }, expect: "allow" },
  { rule: "lockout check: a malformed policy is refused even with BypassPolicyLockoutSafetyCheck", iam: [allow("kms:CreateKey")], op: "CreateKey", input: { Policy: '{"Statement": []}', BypassPolicyLockoutSafetyCheck: true }, expect: "MalformedPolicyDocumentException" },
  { rule: "lockout check: PutKeyPolicy with a policy that shuts the caller out", key: [allow("kms:*", to(ALICE))], op: "PutKeyPolicy", input: { Policy: policyText([allow("kms:*", to(BOB))], "") }, expect: "MalformedPolicyDocumentException" },
  { rule: "lockout check: PutKeyPolicy with that policy and BypassPolicyLockoutSafetyCheck", key: [allow("kms:*", to(ALICE))], op: "PutKeyPolicy", input: { Policy: policyText([allow("kms:*", to(BOB))], ""), BypassPolicyLockoutSafetyCheck: true }, expect: "allow" },
  { rule: "lockout check: PutKeyPolicy keeping the caller", key: [allow("kms:*", to(ALICE))], op: "PutKeyPolicy", expect: "allow" },
  { rule: "PutKeyPolicy itself needs kms:PutKeyPolicy", key: [allow("kms:*", to(ALICE), notAction("kms:PutKeyPolicy"))], op: "PutKeyPolicy", expect: "deny" },
  { rule: "kms:BypassPolicyLockoutSafetyCheck on PutKeyPolicy: a Null true Allow admits a request without it", key: [allow("kms:*", to(ALICE), notAction("kms:PutKeyPolicy")), allow("kms:PutKeyPolicy", to(ALICE), when("Null", "kms:BypassPolicyLockoutSafetyCheck", true))], op: "PutKeyPolicy", expect: "allow" },
  { rule: "kms:BypassPolicyLockoutSafetyCheck on PutKeyPolicy: a Deny on true", key: [allow("kms:*", to(ALICE)), deny("kms:PutKeyPolicy", to(ALICE), when("Bool", "kms:BypassPolicyLockoutSafetyCheck", true))], op: "PutKeyPolicy", input: { BypassPolicyLockoutSafetyCheck: true }, expect: "deny" },

  // DryRun checks permissions.
  { rule: "DryRun of an allowed Encrypt", key: [allow("kms:Encrypt", to(ALICE))], op: "Encrypt", input: dryRun, expect: "DryRunOperationException" },
  { rule: "DryRun of a denied Encrypt", op: "Encrypt", input: dryRun, expect: "deny" },
  { rule: "DryRun of a Decrypt allowed by a grant", grants: [grantTo(ALICE, ["Decrypt"])], op: "Decrypt", input: dryRun, expect: "DryRunOperationException" },
  { rule: "DryRun of a denied Decrypt", grants: [grantTo(BOB, ["Decrypt"])], op: "Decrypt", input: dryRun, expect: "deny" },
  { rule: "DryRun of a denied Decrypt with IGNORE_CIPHERTEXT", op: "Decrypt", input: (k) => ({ KeyId: k.arn, DryRun: true, DryRunModifiers: ["IGNORE_CIPHERTEXT"] }), expect: "deny" },
  { rule: "DryRun of an allowed CreateGrant", key: [allow("kms:CreateGrant", to(ALICE))], op: "CreateGrant", input: dryRun, expect: "DryRunOperationException" },
  { rule: "DryRun of a CreateGrant denied by kms:GrantOperations", key: [allow("kms:CreateGrant", to(ALICE), when("ForAllValues:StringEquals", "kms:GrantOperations", "Decrypt"))], op: "CreateGrant", input: dryRun, expect: "deny" },
];

// --- running a row ------------------------------------------------------------------------------

let fixture: TestServices;
let services: Services;

function callerFor(principalArn: string, overrides: Row["caller"] = {}): Caller {
  return {
    principalArn,
    principalId: `AIDA${principalArn.length}`,
    accountId: principalArn.split(":")[4] as string,
    accessKeyId: "AKIATEST",
    region: REGION,
    sourceIp: "127.0.0.1",
    secureTransport: false,
    ...overrides,
  };
}

function contextFor(principalArn: string, overrides: Row["caller"] = {}, grantTokens: string[] = []): OperationContext {
  return { caller: callerFor(principalArn, overrides), services, resources: [], grantTokens };
}

/** Runs one operation: "allow", "deny" (AccessDeniedException) or another KMS error code; the message of a failure. */
async function attempt(
  principalArn: string,
  op: string,
  input: Json,
  overrides: Row["caller"] = {},
  grantTokens: string[] = [],
): Promise<string> {
  return (await attemptWithMessage(principalArn, op, input, overrides, grantTokens)).outcome;
}

async function attemptWithMessage(
  principalArn: string,
  op: string,
  input: Json,
  overrides: Row["caller"],
  grantTokens: string[],
): Promise<{ outcome: string; message: string }> {
  const operation = KMS_OPERATIONS[op];
  assert.ok(operation, `no operation ${op}`);
  try {
    await operation(contextFor(principalArn, overrides, grantTokens), input);
    return { outcome: "allow", message: "" };
  } catch (error) {
    if (error instanceof AccessDeniedException) return { outcome: "deny", message: error.message };
    if (error instanceof KmsError) return { outcome: error.code, message: error.message };
    throw error;
  }
}

/** The admin makes the key (tags, aliases, a ciphertext, grants) under the default policy, then sets the row's. */
async function arrange(row: Row, caller: string): Promise<Fixture> {
  const admin = contextFor(ADMIN);
  const created = await createKey(admin, row.tags ? { Tags: tagList(row.tags) } : {});
  const keyId = created.KeyMetadata?.KeyId as string;
  const arn = created.KeyMetadata?.Arn as string;
  for (const AliasName of row.aliases ?? []) await createAlias(admin, { AliasName, TargetKeyId: keyId });
  const context = row.context ? { EncryptionContext: row.context } : {};
  const { CiphertextBlob } = await encrypt(admin, { KeyId: keyId, Plaintext: PLAINTEXT, ...context });
  const grants: { grantId: string; token: string }[] = [];
  for (const grant of row.grants ?? []) {
    const { GrantId, GrantToken } = await createGrant(admin, { KeyId: keyId, ...grant });
    grants.push({ grantId: GrantId as string, token: GrantToken as string });
  }
  if (row.key) {
    await putKeyPolicy(admin, { KeyId: keyId, Policy: policyText(row.key, arn), BypassPolicyLockoutSafetyCheck: true });
  }
  if (row.iam) {
    const document = policyText(row.iam, arn);
    await services.store.putIdentityPolicy({ principalArn: caller, policyName: "under-test", document });
  }
  return { keyId, arn, blob: CiphertextBlob as Uint8Array, grants };
}

function requestFor(row: Row, caller: string, k: Fixture): Json {
  const context = row.context ? { EncryptionContext: row.context } : {};
  const defaults: Record<string, Json> = {
    Encrypt: { KeyId: k.arn, Plaintext: PLAINTEXT, ...context },
    Decrypt: { CiphertextBlob: k.blob, ...context },
    GenerateDataKey: { KeyId: k.arn, KeySpec: "AES_256", ...context },
    GenerateDataKeyPair: { KeyId: k.arn, ...ecc, ...context },
    GenerateDataKeyPairWithoutPlaintext: { KeyId: k.arn, ...ecc, ...context },
    CreateGrant: { KeyId: k.arn, GranteePrincipal: BOB, Operations: ["Encrypt"] },
    PutKeyPolicy: { KeyId: k.arn, Policy: policyText([allow("kms:*", to(caller))], k.arn) },
    CreateKey: {},
    ListKeys: {},
  };
  const extra = typeof row.input === "function" ? row.input(k) : (row.input ?? {});
  return { ...(defaults[row.op] ?? { KeyId: k.arn }), ...extra };
}

const ACCOUNT_LEVEL_OPERATIONS = new Set(["CreateKey", "ListKeys", "GenerateRandom"]);

before(async () => {
  fixture = openTestServices({ now: () => CLOCK, authorizer: (store) => new PolicyAuthorizer(store, () => CLOCK) });
  services = fixture.services;
  for (const arn of PRINCIPALS) {
    await services.store.putPrincipal({
      arn,
      accountId: arn.split(":")[4] as string,
      principalId: `AIDA${arn.length}`,
    });
  }
  const adminPolicy = policyText([allow("kms:*")], "");
  await services.store.putIdentityPolicy({
    principalArn: ADMIN,
    policyName: "TrentAdministrator",
    document: adminPolicy,
  });
});

after(() => fixture.close());

describe("authorization: (principal, key policy, identity policy, grants, request) → decision", () => {
  for (const row of ROWS) {
    test(`${row.op}: ${row.rule} → ${row.expect}`, row.todo ? { todo: row.todo } : {}, async () => {
      const caller = row.as ?? ALICE;
      try {
        const k = await arrange(row, caller);
        await row.before?.(k);
        const tokens = row.tokens ? k.grants.map((grant) => grant.token) : [];
        const result = await attemptWithMessage(caller, row.op, requestFor(row, caller, k), row.caller, tokens);
        assert.equal(result.outcome, row.expect, result.message);
        if (result.outcome === "deny") {
          // AWS's message shape: it names the principal, the action and the resource.
          const resource = ACCOUNT_LEVEL_OPERATIONS.has(row.op) ? "" : k.arn;
          const shape = `User: ${caller} is not authorized to perform: kms:${row.op} on resource: ${resource}`;
          assert.ok(result.message.startsWith(shape), `${result.message}\ndoes not start with\n${shape}`);
        }
      } finally {
        await services.store.deleteIdentityPolicy(caller, "under-test");
        for (const alias of row.aliases ?? []) await services.store.deleteAlias(A, REGION, alias);
      }
    });
  }
});
