import type { PutKeyPolicyRequest } from "@aws-sdk/client-kms";
import { storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { bypassLockoutCondition, checkKeyPolicy, requireDefaultPolicyName } from "./key-policy.js";

export const putKeyPolicy: Operation<PutKeyPolicyRequest, Record<string, never>> = async (context, input) => {
  requireDefaultPolicyName(input.PolicyName);
  const key = await resolveKey(
    context,
    input.KeyId as string,
    "kms:PutKeyPolicy",
    bypassLockoutCondition(input.BypassPolicyLockoutSafetyCheck),
  );
  const policy = input.Policy as string;
  await checkKeyPolicy(context, key, policy, input.BypassPolicyLockoutSafetyCheck);
  await context.services.store.updateKey(storeKeyId(key), { policy });
  return {};
};
