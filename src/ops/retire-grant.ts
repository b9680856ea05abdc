import type { RetireGrantRequest } from "@aws-sdk/client-kms";
import { NotFoundException, ValidationException } from "../domain/errors.js";
import { type KmsKey, keyArn } from "../domain/key.js";
import { accountRootArn } from "../domain/principal.js";
import { accessDenied } from "../policy/authorizer.js";
import { grantIdFromToken } from "../policy/grants.js";
import type { Grant } from "../store/store.js";
import { authorize } from "./authorize.js";
import type { Operation, OperationContext } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { grantNotFound, keyParameterNames, requireGrantId } from "./grant-access.js";

/** Deletes a grant on the authority of the grant itself: its retiring principal, or its grantee if it allows RetireGrant. */
export const retireGrant: Operation<RetireGrantRequest, Record<string, never>> = async (context, input) => {
  const grantId = grantIdToRetire(input);
  const grant = await context.services.store.getGrant(grantId);
  if (!grant) throw new NotFoundException(`Grant ID ${grantId} not found`);
  const key = await context.services.store.getKey(grant.keyId);
  // Grants are regional, as their keys are.
  if (!key || key.region !== context.caller.region) throw new NotFoundException(`Grant ID ${grantId} not found`);
  context.resources.push(keyArn(key));
  if (input.KeyId !== undefined && !(await keyParameterNames(context, input.KeyId, key))) {
    throw grantNotFound(grantId, key);
  }
  await authorizeRetirement(context, grant, key);
  stopIfDryRun(input);
  if (!(await context.services.store.deleteGrant(grantId))) throw grantNotFound(grantId, key);
  return {};
};

function grantIdToRetire(input: RetireGrantRequest): string {
  if (input.GrantToken !== undefined) {
    const grantId = grantIdFromToken(input.GrantToken);
    if (input.GrantId !== undefined && input.GrantId !== grantId) {
      throw new ValidationException("The grant token and the grant ID identify different grants.");
    }
    return grantId;
  }
  if (input.GrantId === undefined || input.KeyId === undefined) {
    throw new ValidationException("Grant token OR (grant ID, key ID) must be specified");
  }
  requireGrantId(input.GrantId);
  return input.GrantId;
}

/**
 * The principals the grant names may retire it. As a backup, the account that issued the grant, or
 * an account the grant names as retiring principal (or as a grantee allowed to retire), may delegate
 * retiring to its principals with kms:RetireGrant; a key policy has no say over RetireGrant, so for a
 * key of another account only the caller's identity policies are asked.
 */
async function authorizeRetirement(context: OperationContext, grant: Grant, key: KmsKey): Promise<void> {
  const { caller } = context;
  const retiresOwnGrant = grant.operations.includes("RetireGrant");
  if (grant.retiringPrincipal === caller.principalArn) return;
  if (retiresOwnGrant && grant.granteePrincipal === caller.principalArn) return;
  const callerAccount = accountRootArn(caller.accountId);
  const delegated =
    grant.issuingAccount === caller.accountId ||
    grant.retiringPrincipal === callerAccount ||
    (retiresOwnGrant && grant.granteePrincipal === callerAccount);
  if (delegated) {
    await authorize(context, "kms:RetireGrant", key.accountId === caller.accountId ? key : null);
    return;
  }
  throw accessDenied(
    { caller, action: "kms:RetireGrant", key, conditions: {}, grantTokens: context.grantTokens },
    "the grant names the caller neither as its retiring principal nor as a grantee allowed to retire it",
  );
}
