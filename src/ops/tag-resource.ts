import type { TagResourceRequest } from "@aws-sdk/client-kms";
import { LimitExceededException } from "../domain/errors.js";
import type { Tag } from "../domain/key.js";
import type { Operation } from "./context.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";
import { MAX_TAGS_PER_KEY, requestTagConditions, validateTags } from "./tags.js";

export const tagResource: Operation<TagResourceRequest, Record<string, never>> = async (context, input) => {
  const tags = input.Tags as Tag[];
  validateTags(tags);
  const key = await resolveKey(context, input.KeyId as string, "kms:TagResource", requestTagConditions(tags));
  requireNotPendingDeletion(key);
  const { store } = context.services;
  const existing = new Set((await store.listTags(key.keyId, null, MAX_TAGS_PER_KEY + 1)).items.map((t) => t.TagKey));
  const added = tags.filter((tag) => !existing.has(tag.TagKey)).length;
  if (existing.size + added > MAX_TAGS_PER_KEY) {
    throw new LimitExceededException(`A KMS key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  }
  await store.putTags(key.keyId, tags);
  return {};
};
