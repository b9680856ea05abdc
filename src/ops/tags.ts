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
