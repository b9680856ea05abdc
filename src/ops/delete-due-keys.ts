import type { Services } from "./context.js";
import { destroyKeyInToken } from "./custom-key-store-keys.js";

/** Deletes every key whose deletion window has passed; returns how many were deleted. */
export async function deleteDueKeys(services: Services): Promise<number> {
  const now = services.now();
  let deleted = 0;
  for (const keyId of await services.store.keysDueForDeletion(now)) {
    const key = await services.store.getKey(keyId);
    // Re-checked in the delete itself: a CancelKeyDeletion may have landed since the listing.
    if (await services.store.deleteKeyIfDue(keyId, now)) {
      services.backingKeys.forget(keyId);
      // A key in a custom key store: its token object goes too, on a best-effort basis, as in AWS.
      if (key?.customKeyStoreId !== undefined) await destroyKeyInToken(services, key);
      deleted++;
    }
  }
  return deleted;
}
