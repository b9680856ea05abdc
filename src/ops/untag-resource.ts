import type { UntagResourceRequest } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

export const untagResource: Operation<UntagResourceRequest, Record<string, never>> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:UntagResource", {
    "aws:TagKeys": input.TagKeys as string[],
  });
  requireNotPendingDeletion(key);
  await context.services.store.removeTags(key.keyId, input.TagKeys as string[]);
  return {};
};
