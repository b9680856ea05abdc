import type { TagResourceRequest } from "@aws-sdk/client-kms";
import { LimitExceededException } from "../domain/errors.js";
import { storeKeyId, type Tag } from "../domain/key.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";
import { MAX_TAGS_PER_KEY, requestTagConditions, validateTags } from "./tags.js";

export const tagResource: Operation<TagResourceRequest, Record<string, never>> = async (context, input) => {
  const tags = input.Tags as Tag[];
  validateTags(tags);
  const key = await resolveKey(context, input.KeyId as string, "kms:TagResource", requestTagConditions(tags));
  requireNotPendingDeletion(key);
  // The store checks the limit and writes in one transaction, so racing requests cannot exceed it.
  if (!(await context.services.store.putTags(storeKeyId(key), tags, MAX_TAGS_PER_KEY))) {
    throw new LimitExceededException(`A KMS key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  }
  return {};
};
