import type { RootOfTrust } from "./root-of-trust.js";

/**
 * The store's `root_check` meta value is this label wrapped under the root key: a root key that
 * opens it is the one the store's material was wrapped under.
 */
const ROOT_CHECK = "trent/root-check";

/** A new root check for a store written under `root`, base64 as the meta table keeps it. */
export async function createRootCheck(root: RootOfTrust): Promise<string> {
  return (await root.wrap(Buffer.from(ROOT_CHECK), ROOT_CHECK)).toString("base64");
}

/** Whether `root` is the root key a store (or a backup of it) with this root check was written under. */
export async function rootCheckMatches(root: RootOfTrust, check: string): Promise<boolean> {
  try {
    return (await root.unwrap(Buffer.from(check, "base64"), ROOT_CHECK)).equals(Buffer.from(ROOT_CHECK));
  } catch {
    return false;
  }
}
