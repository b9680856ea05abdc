import { InvalidAliasNameException, ValidationException } from "../domain/errors.js";

/**
 * Alias rules beyond the shape's pattern: the `alias/` prefix, only letters, digits, `/`, `_` and
 * `-` (the pattern also admits `:`, which the API reference excludes), and `alias/aws/` reserved.
 */
export function validateAliasName(aliasName: string): void {
  if (!aliasName.startsWith("alias/")) throw new ValidationException('Alias must start with the prefix "alias/".');
  if (aliasName.includes(":")) throw new ValidationException(`${aliasName} contains invalid characters for an alias.`);
  if (aliasName === "alias/") throw new InvalidAliasNameException("Alias name alias/ has no name after the prefix.");
  if (aliasName.startsWith("alias/aws/")) {
    throw new InvalidAliasNameException(
      `Alias ${aliasName} is reserved: names beginning with alias/aws/ belong to AWS managed keys.`,
    );
  }
}
