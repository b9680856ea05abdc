import type { RevokeGrantRequest } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { stopIfDryRun } from "./dry-run.js";
import { grantNotFound, grantOnKey, requireGrantId } from "./grant-access.js";
import { resolveKey } from "./key-access.js";

/** Deletes a grant on the authority of the key's policies (kms:RevokeGrant), whoever the grant names. */
export const revokeGrant: Operation<RevokeGrantRequest, Record<string, never>> = async (context, input) => {
  const grantId = input.GrantId as string;
  requireGrantId(grantId);
  const key = await resolveKey(context, input.KeyId as string, "kms:RevokeGrant", {
    "kms:GrantIsForAWSResource": "false",
  });
  await grantOnKey(context, key, grantId);
  stopIfDryRun(input);
  if (!(await context.services.store.deleteGrant(grantId))) throw grantNotFound(grantId, key);
  return {};
};
