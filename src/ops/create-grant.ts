import type { CreateGrantRequest, CreateGrantResponse } from "@aws-sdk/client-kms";
import { AlreadyExistsException, ValidationException } from "../domain/errors.js";
import { type KmsKey, keyArn, storeKeyId } from "../domain/key.js";
import type { RequestConditions } from "../policy/authorizer.js";
import {
  constraintsSupported,
  grantOperationsForKey,
  hasConstraints,
  issueGrantToken,
  newGrantId,
  type RequestedGrant,
} from "../policy/grants.js";
import type { Grant, GrantConstraints } from "../store/store.js";
import { encryptionContextConditions } from "./authorize.js";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { requireUsable, resolveKey } from "./key-access.js";

const MAX_CONSTRAINT_PAIRS = 8;
const MAX_CONSTRAINT_VALUE_LENGTH = 384;

export const createGrant: Operation<CreateGrantRequest, CreateGrantResponse> = async (context, input) => {
  const requested = {
    granteePrincipal: input.GranteePrincipal as string,
    retiringPrincipal: input.RetiringPrincipal ?? null,
    operations: [...new Set<string>(input.Operations ?? [])],
    constraints: grantConstraints(input.Constraints),
  };
  validateRequest(requested);
  const key = await resolveKey(
    context,
    input.KeyId as string,
    "kms:CreateGrant",
    createGrantConditions(requested),
    requested,
  );
  requireUsable(key);
  validateForKey(key, requested);
  const { caller, services } = context;
  const name = input.Name ?? null;
  if (name !== null) {
    const existing = await services.store.findGrantByName(storeKeyId(key), name);
    if (existing) return retried(existing, requested, key, input);
  }
  stopIfDryRun(input);
  const grant: Grant = {
    grantId: newGrantId(),
    keyId: storeKeyId(key),
    name,
    ...requested,
    issuingAccount: caller.accountId,
    createdAt: services.now(),
  };
  if (!(await services.store.createGrant(grant))) {
    // A concurrent request created a grant of this name first; answer as if this one were its retry.
    const winner = name === null ? undefined : await services.store.findGrantByName(storeKeyId(key), name);
    if (!winner) throw new Error(`grant ${grant.grantId} was not stored`);
    return retried(winner, requested, key, input);
  }
  return { GrantId: grant.grantId, GrantToken: issueGrantToken(grant.grantId) };
};

interface GrantParameters extends RequestedGrant {
  readonly granteePrincipal: string;
  readonly retiringPrincipal: string | null;
}

function grantConstraints(input: CreateGrantRequest["Constraints"]): GrantConstraints | null {
  const constraints: { -readonly [K in keyof GrantConstraints]: GrantConstraints[K] } = {};
  if (input?.EncryptionContextEquals) constraints.EncryptionContextEquals = { ...input.EncryptionContextEquals };
  if (input?.EncryptionContextSubset) constraints.EncryptionContextSubset = { ...input.EncryptionContextSubset };
  return hasConstraints(constraints) ? constraints : null;
}

function validateRequest(requested: GrantParameters): void {
  if (requested.operations.length === 0) {
    throw new ValidationException("A grant must allow at least one grant operation.");
  }
  if (requested.operations.length === 1 && requested.operations[0] === "CreateGrant") {
    throw new ValidationException("Grants must not contain only the CreateGrant operation.");
  }
  for (const context of [
    requested.constraints?.EncryptionContextEquals,
    requested.constraints?.EncryptionContextSubset,
  ]) {
    if (context === undefined) continue;
    const values = Object.values(context);
    if (values.length > MAX_CONSTRAINT_PAIRS) {
      throw new ValidationException(
        `A grant constraint can include up to ${MAX_CONSTRAINT_PAIRS} encryption context pairs.`,
      );
    }
    if (values.some((value) => value.length > MAX_CONSTRAINT_VALUE_LENGTH)) {
      throw new ValidationException(
        `An encryption context value in a grant constraint cannot exceed ${MAX_CONSTRAINT_VALUE_LENGTH} characters.`,
      );
    }
  }
}

function validateForKey(key: KmsKey, requested: GrantParameters): void {
  const supported = grantOperationsForKey(key);
  const unsupported = requested.operations.filter((operation) => !supported.has(operation));
  if (unsupported.length > 0) {
    throw new ValidationException(
      `Grant operations ${unsupported.join(", ")} are not valid for ${keyArn(key)}, whose key spec is ${key.keySpec} and key usage ${key.keyUsage}.`,
    );
  }
  if (requested.constraints !== null && !constraintsSupported(key, requested.operations)) {
    throw new ValidationException(
      "Encryption context grant constraints are supported only on grants for symmetric encryption keys whose operations take an encryption context, with DescribeKey, RetireGrant and CreateGrant.",
    );
  }
}

/** The condition keys AWS documents for CreateGrant, for policies that limit the grants a principal may create. */
function createGrantConditions(requested: GrantParameters): RequestConditions {
  const conditions: Record<string, string | readonly string[]> = {
    "kms:GrantOperations": requested.operations,
    "kms:GranteePrincipal": requested.granteePrincipal,
    "kms:GrantIsForAWSResource": "false",
  };
  if (requested.retiringPrincipal !== null) conditions["kms:RetiringPrincipal"] = requested.retiringPrincipal;
  const constraintTypes = Object.keys(requested.constraints ?? {});
  if (constraintTypes.length > 0) conditions["kms:GrantConstraintType"] = constraintTypes;
  // For CreateGrant, KMS evaluates the encryption-context keys against the grant's constraint.
  const constraintContext =
    requested.constraints?.EncryptionContextEquals ?? requested.constraints?.EncryptionContextSubset;
  if (constraintContext !== undefined) Object.assign(conditions, encryptionContextConditions(constraintContext));
  return conditions;
}

/** A request naming an existing grant is a retry when its parameters are the grant's: a new token for it. */
function retried(
  existing: Grant,
  requested: GrantParameters,
  key: KmsKey,
  input: CreateGrantRequest,
): CreateGrantResponse {
  if (!sameParameters(existing, requested)) {
    throw new AlreadyExistsException(
      `A grant named ${existing.name} already exists on ${keyArn(key)} with different parameters.`,
    );
  }
  stopIfDryRun(input);
  return { GrantId: existing.grantId, GrantToken: issueGrantToken(existing.grantId) };
}

function sameParameters(existing: Grant, requested: GrantParameters): boolean {
  return (
    existing.granteePrincipal === requested.granteePrincipal &&
    existing.retiringPrincipal === requested.retiringPrincipal &&
    existing.operations.length === requested.operations.length &&
    requested.operations.every((operation) => existing.operations.includes(operation)) &&
    canonicalConstraints(existing.constraints) === canonicalConstraints(requested.constraints)
  );
}

function canonicalConstraints(constraints: GrantConstraints | null): string {
  const sorted = (context: Readonly<Record<string, string>> | undefined) =>
    context === undefined ? null : Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([sorted(constraints?.EncryptionContextEquals), sorted(constraints?.EncryptionContextSubset)]);
}
