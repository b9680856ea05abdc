import { AccessDeniedException, MalformedPolicyDocumentException, NotFoundException } from "../domain/errors.js";
import type { KmsKey } from "../domain/key.js";
import { parsePolicyDocument } from "../policy/policy-document.js";
import type { OperationContext } from "./context.js";

/** KMS keys have exactly one key policy, and this is its name. */
export const KEY_POLICY_NAME = "default";

export function requireDefaultPolicyName(policyName: string | undefined): void {
  if (policyName !== undefined && policyName !== KEY_POLICY_NAME) {
    throw new NotFoundException(`No such policy exists: ${policyName}. The only key policy name is "default".`);
  }
}

/**
 * Validates a proposed key policy, and unless the caller bypasses it, the lockout safety check:
 * under the new policy the caller must still be allowed to change the key policy later.
 */
export async function checkKeyPolicy(
  context: OperationContext,
  key: KmsKey,
  policy: string,
  bypassLockoutCheck: boolean | undefined,
): Promise<void> {
  parsePolicyDocument(policy, "key");
  if (bypassLockoutCheck === true) return;
  try {
    await context.services.authorizer.authorize({
      caller: context.caller,
      action: "kms:PutKeyPolicy",
      key: { ...key, policy },
      conditions: {},
      grantTokens: [],
    });
  } catch (error) {
    if (!(error instanceof AccessDeniedException)) throw error;
    throw new MalformedPolicyDocumentException(
      "The new key policy will not allow you to update the key policy in the future.",
    );
  }
}

/** kms:BypassPolicyLockoutSafetyCheck is present only when the request sets the parameter. */
export function bypassLockoutCondition(bypass: boolean | undefined): Record<string, string> {
  return bypass === undefined ? {} : { "kms:BypassPolicyLockoutSafetyCheck": String(bypass) };
}
