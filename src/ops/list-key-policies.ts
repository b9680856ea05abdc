import type { ListKeyPoliciesRequest, ListKeyPoliciesResponse } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { KEY_POLICY_NAME } from "./key-policy.js";
import { decodeMarker } from "./pagination.js";

export const listKeyPolicies: Operation<ListKeyPoliciesRequest, ListKeyPoliciesResponse> = async (context, input) => {
  decodeMarker(input.Marker);
  await resolveKey(context, input.KeyId as string, "kms:ListKeyPolicies");
  return { PolicyNames: [KEY_POLICY_NAME], Truncated: false };
};
