import type { GetKeyPolicyRequest, GetKeyPolicyResponse } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { KEY_POLICY_NAME, requireDefaultPolicyName } from "./key-policy.js";

export const getKeyPolicy: Operation<GetKeyPolicyRequest, GetKeyPolicyResponse> = async (context, input) => {
  requireDefaultPolicyName(input.PolicyName);
  const key = await resolveKey(context, input.KeyId as string, "kms:GetKeyPolicy");
  return { Policy: key.policy, PolicyName: KEY_POLICY_NAME };
};
