import type { Services } from "./context.js";
import { rotate, rotationDueAfter } from "./key-rotation.js";

const BATCH = 100;

/**
 * The automatic-rotation scheduler's one pass: rotates every Enabled key whose rotation is due
 * and sets its next date one period on. Every node runs it; the store's conditional write lets
 * exactly one node rotate a due key, the others find it no longer due. Returns how many this
 * node rotated.
 */
export async function rotateDueKeys(services: Services): Promise<number> {
  const now = services.now();
  let rotated = 0;
  for (;;) {
    const due = await services.store.keysDueForRotation(now, BATCH);
    let rotatedInBatch = 0;
    for (const keyId of due) {
      const key = await services.store.getKey(keyId);
      if (key?.keyState !== "Enabled" || key.rotationPeriodInDays === null) continue;
      // A key re-enabled long after its date rotates now, then one period from now.
      if (await rotate(services, key, "AUTOMATIC", now, rotationDueAfter(now, key.rotationPeriodInDays))) {
        rotatedInBatch++;
      }
    }
    rotated += rotatedInBatch;
    // Keys rotated elsewhere or skipped stay out of the next listing only once they are no longer due.
    if (due.length < BATCH || rotatedInBatch === 0) return rotated;
  }
}
