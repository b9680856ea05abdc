import { TagException } from "../domain/errors.js";
import type { Tag } from "../domain/key.js";

export const MAX_TAGS_PER_KEY = 50;

/** Tag rules beyond the shapes' lengths: the reserved prefix and no key twice in one request. */
export function validateTags(tags: readonly Tag[]): void {
  const seen = new Set<string>();
  for (const tag of tags) {
    if (tag.TagKey.toLowerCase().startsWith("aws:"))
      throw new TagException("Tag keys beginning with aws: are reserved.");
    if (seen.has(tag.TagKey)) throw new TagException(`Tag key ${tag.TagKey} appears more than once.`);
    seen.add(tag.TagKey);
  }
}

/** The condition keys AWS derives from tags in a request. */
export function requestTagConditions(tags: readonly Tag[]): Record<string, string | string[]> {
  const conditions: Record<string, string | string[]> = { "aws:TagKeys": tags.map((tag) => tag.TagKey) };
  for (const tag of tags) conditions[`aws:RequestTag/${tag.TagKey}`] = tag.TagValue;
  return conditions;
}
