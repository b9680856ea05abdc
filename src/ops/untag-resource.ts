import type { UntagResourceRequest } from "@aws-sdk/client-kms";
import { storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

export const untagResource: Operation<UntagResourceRequest, Record<string, never>> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:UntagResource", {
    "aws:TagKeys": input.TagKeys as string[],
  });
  requireNotPendingDeletion(key);
  await context.services.store.removeTags(storeKeyId(key), input.TagKeys as string[]);
  return {};
};
