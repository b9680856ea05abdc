import { keyIdOfStoreRow } from "../domain/key.js";
import type { Services } from "./context.js";

const BATCH = 100;

/**
 * The expiry sweep: deletes every imported material whose ValidTo has passed (its key becomes
 * PendingImport). Every node runs it; the store deletes each material once, re-checking ValidTo
 * in the same transaction, so a reimport that moved it on is never undone. Between passes,
 * withMaterialExpiry keeps expired material from being used. Returns how many this node deleted.
 */
export async function expireImportedKeyMaterial(services: Services): Promise<number> {
  const now = services.now();
  let expired = 0;
  for (;;) {
    const due = await services.store.importedMaterial.importedKeyMaterialDue(now, BATCH);
    let expiredInBatch = 0;
    for (const material of due) {
      if (await services.store.importedMaterial.deleteImportedKeyMaterial(material.storeKeyId, material.version, now)) {
        services.backingKeys.forget(keyIdOfStoreRow(material.storeKeyId));
        expiredInBatch++;
      }
    }
    expired += expiredInBatch;
    if (due.length < BATCH || expiredInBatch === 0) return expired;
  }
}
