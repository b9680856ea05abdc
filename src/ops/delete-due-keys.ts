import type { Services } from "./context.js";

/** Deletes every key whose deletion window has passed; returns how many were deleted. */
export async function deleteDueKeys(services: Services): Promise<number> {
  const now = services.now();
  let deleted = 0;
  for (const keyId of await services.store.keysDueForDeletion(now)) {
    // Re-checked in the delete itself: a CancelKeyDeletion may have landed since the listing.
    if (await services.store.deleteKeyIfDue(keyId, now)) {
      services.backingKeys.forget(keyId);
      deleted++;
    }
  }
  return deleted;
}
