import type { Services } from "./context.js";

/** Deletes every key whose deletion window has passed; returns how many were deleted. */
export async function deleteDueKeys(services: Services): Promise<number> {
  const due = await services.store.keysDueForDeletion(services.now());
  for (const keyId of due) {
    await services.store.deleteKey(keyId);
    services.backingKeys.forget(keyId);
  }
  return due.length;
}
