import { type KmsKey, storeKeyId } from "../domain/key.js";
import type { KeyChanges } from "../store/store.js";
import type { OperationContext } from "./context.js";
import { requireRotatableNow } from "./key-rotation.js";

/** Writes a rotation schedule only while the key is Enabled, so a concurrent disable or deletion wins cleanly. */
export async function updateRotationSchedule(
  context: OperationContext,
  key: KmsKey,
  changes: Pick<KeyChanges, "rotationPeriodInDays" | "nextRotationDate">,
): Promise<void> {
  const { store } = context.services;
  if (await store.updateKey(storeKeyId(key), changes, ["Enabled"])) return;
  requireRotatableNow((await store.getKey(storeKeyId(key))) ?? key);
}
