import { randomBytes } from "node:crypto";
import type { GrantOperation } from "@aws-sdk/client-kms";
import { InvalidGrantTokenException } from "../domain/errors.js";
import type { KmsKey } from "../domain/key.js";
import type { Grant, GrantConstraints } from "../store/store.js";
import {
  COMMON_OPERATIONS,
  ENCRYPTION_CONTEXT_OPERATIONS,
  grantOperationsForKey,
  OPERATIONS_BY_KEY_USAGE,
} from "./grant-operations.js";

export type { GrantOperation };
export { grantOperationsForKey };
export type EncryptionContext = Readonly<Record<string, string>>;

/** The operations and constraints of a grant someone asks to create, as a parent grant judges them. */
export interface RequestedGrant {
  readonly operations: readonly string[];
  readonly constraints: GrantConstraints | null;
}

const GRANT_ID = /^[0-9a-f]{64}$/;

/** A new grant id: 64 lowercase hex characters, as AWS shows them. */
export function newGrantId(): string {
  return randomBytes(32).toString("hex");
}

export function isGrantId(value: string): boolean {
  return GRANT_ID.test(value);
}

// A token is "T", a version byte, the 32-byte grant id and 32 random bytes, base64url-encoded. It
// only names the grant: Trent's store is strongly consistent, so a grant token never has to carry
// the grant itself, and it confers nothing a caller could not get by naming the grant id.
const TOKEN_MAGIC = Buffer.from([0x54, 0x01]);
const TOKEN_BYTES = TOKEN_MAGIC.length + 32 + 32;

/** A fresh grant token for the grant; every call returns a different token, all naming the same grant. */
export function issueGrantToken(grantId: string): string {
  if (!isGrantId(grantId)) throw new Error(`not a grant id: ${grantId}`);
  return Buffer.concat([TOKEN_MAGIC, Buffer.from(grantId, "hex"), randomBytes(32)]).toString("base64url");
}

/** The id of the grant a token names; InvalidGrantTokenException when it is not a token Trent issued. */
export function grantIdFromToken(token: string): string {
  const bytes = Buffer.from(token, "base64url");
  if (
    bytes.length !== TOKEN_BYTES ||
    !bytes.subarray(0, TOKEN_MAGIC.length).equals(TOKEN_MAGIC) ||
    bytes.toString("base64url") !== token
  ) {
    throw new InvalidGrantTokenException("The grant token is not valid.");
  }
  return bytes.subarray(TOKEN_MAGIC.length, TOKEN_MAGIC.length + 32).toString("hex");
}

/** Operations a constrained grant may include although the constraint does not apply to them. */
const UNCONSTRAINED_OPERATIONS: ReadonlySet<string> = new Set<GrantOperation>(["DescribeKey", "RetireGrant"]);

/** Encryption-context constraints are possible only where requests carry an encryption context. */
export function constraintsSupported(key: Pick<KmsKey, "keySpec">, operations: readonly string[]): boolean {
  return (
    key.keySpec === "SYMMETRIC_DEFAULT" &&
    operations.every(
      (operation) =>
        ENCRYPTION_CONTEXT_OPERATIONS.has(operation) ||
        UNCONSTRAINED_OPERATIONS.has(operation) ||
        operation === "CreateGrant",
    )
  );
}

// kms:RetireGrant is absent on purpose: RetireGrant in a grant lets the grantee retire that grant
// only, which the RetireGrant operation checks itself; it is no permission over the key's other grants.
const GRANT_OPERATION_BY_ACTION: ReadonlyMap<string, GrantOperation> = new Map(
  [...ENCRYPTION_CONTEXT_OPERATIONS, ...Object.values(OPERATIONS_BY_KEY_USAGE).flat(), ...COMMON_OPERATIONS]
    .filter((operation) => operation !== "RetireGrant")
    .map((operation) => [`kms:${operation}`.toLowerCase(), operation as GrantOperation]),
);

/** The grant operation that allows a KMS action (`kms:Encrypt` → `Encrypt`), or null if no grant can allow it. */
export function grantOperationForAction(action: string): GrantOperation | null {
  return GRANT_OPERATION_BY_ACTION.get(action.toLowerCase()) ?? null;
}

/**
 * Whether the grant allows `operation` in a request with this encryption context. Constraints
 * govern operations that take an encryption context; they do not apply to DescribeKey and
 * RetireGrant; a constrained grant allows no other operation. CreateGrant through a grant needs the
 * grant being created: its operations must be among the parent's and its constraints at least as
 * strict; without `requestedGrant` the answer is false.
 */
export function grantAllows(
  grant: Pick<Grant, "operations" | "constraints">,
  operation: string,
  encryptionContext: EncryptionContext | undefined,
  requestedGrant?: RequestedGrant,
): boolean {
  if (!grant.operations.includes(operation)) return false;
  if (operation === "CreateGrant") {
    if (requestedGrant === undefined) return false;
    return (
      requestedGrant.operations.every((requested) => grant.operations.includes(requested)) &&
      constraintsAtLeastAsStrict(grant.constraints, requestedGrant.constraints)
    );
  }
  if (UNCONSTRAINED_OPERATIONS.has(operation) || !hasConstraints(grant.constraints)) return true;
  return (
    ENCRYPTION_CONTEXT_OPERATIONS.has(operation) && constraintsSatisfied(grant.constraints, encryptionContext ?? {})
  );
}

export function hasConstraints(constraints: GrantConstraints | null | undefined): constraints is GrantConstraints {
  return constraints?.EncryptionContextEquals !== undefined || constraints?.EncryptionContextSubset !== undefined;
}

/**
 * Whether an encryption context meets the constraints. As AWS documents for grant constraints (and
 * unlike the kms:EncryptionContext: policy keys), keys match case-insensitively and values exactly;
 * a context with two keys that differ only by case satisfies no constraint.
 */
export function constraintsSatisfied(
  constraints: GrantConstraints | null,
  encryptionContext: EncryptionContext,
): boolean {
  if (!hasConstraints(constraints)) return true;
  const actual = byLowerCaseKey(encryptionContext);
  if (actual === null) return false;
  const { EncryptionContextEquals: equals, EncryptionContextSubset: subset } = constraints;
  if (equals !== undefined) {
    const required = byLowerCaseKey(equals);
    if (required === null || required.size !== actual.size || !includesAll(actual, required)) return false;
  }
  if (subset !== undefined) {
    const required = byLowerCaseKey(subset);
    if (required === null || !includesAll(actual, required)) return false;
  }
  return true;
}

/** Whether every context the child's constraints allow is one the parent's allow too. */
export function constraintsAtLeastAsStrict(parent: GrantConstraints | null, child: GrantConstraints | null): boolean {
  if (!hasConstraints(parent)) return true;
  if (child?.EncryptionContextEquals !== undefined) return constraintsSatisfied(parent, child.EncryptionContextEquals);
  if (child?.EncryptionContextSubset !== undefined) {
    // A subset constraint allows contexts with any further pairs, so an Equals parent is never met.
    return (
      parent.EncryptionContextEquals === undefined &&
      constraintsSatisfied(
        { EncryptionContextSubset: parent.EncryptionContextSubset ?? {} },
        child.EncryptionContextSubset,
      )
    );
  }
  return false;
}

function byLowerCaseKey(context: EncryptionContext): Map<string, string> | null {
  const lowered = new Map<string, string>();
  for (const [key, value] of Object.entries(context)) {
    const lower = key.toLowerCase();
    if (lowered.has(lower)) return null;
    lowered.set(lower, value);
  }
  return lowered;
}

function includesAll(actual: ReadonlyMap<string, string>, required: ReadonlyMap<string, string>): boolean {
  for (const [key, value] of required) if (actual.get(key) !== value) return false;
  return true;
}
