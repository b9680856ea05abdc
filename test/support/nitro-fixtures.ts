import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `<repo>/../shared/nitro-fixtures`: real AWS attestation and CMS samples. CI clones the
 * repository with ../shared beside it, so look upwards from here (dist/test/support or test/support).
 */
export function nitroFixturesDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "shared", "nitro-fixtures");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("shared/nitro-fixtures not found above this file");
}
