import type { ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse } from "@aws-sdk/client-kms";
import { KMSInvalidStateException, ValidationException } from "../domain/errors.js";
import { keyArn, storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { multiRegionKeyRegions } from "./describe-key.js";
import { requireNotPendingDeletion, resolveKey } from "./key-access.js";

const DAY_MS = 24 * 60 * 60 * 1000;
export const MIN_DELETION_WINDOW_DAYS = 7;
export const MAX_DELETION_WINDOW_DAYS = 30;

export const scheduleKeyDeletion: Operation<ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse> = async (
  context,
  input,
) => {
  const days = input.PendingWindowInDays ?? MAX_DELETION_WINDOW_DAYS;
  if (days < MIN_DELETION_WINDOW_DAYS || days > MAX_DELETION_WINDOW_DAYS) {
    throw new ValidationException(
      `PendingWindowInDays must be between ${MIN_DELETION_WINDOW_DAYS} and ${MAX_DELETION_WINDOW_DAYS}; it is ${days}.`,
    );
  }
  const key = await resolveKey(context, input.KeyId as string, "kms:ScheduleKeyDeletion");
  requireNotPendingDeletion(key);
  if (key.primaryRegion === key.region && (await multiRegionKeyRegions(context.services, key)).length > 1) {
    // A multi-Region primary outlives its replicas: its window starts when the last one is deleted.
    const waiting = await context.services.store.updateKey(
      storeKeyId(key),
      { keyState: "PendingReplicaDeletion", deletionDate: null, pendingDeletionWindowInDays: days },
      ["Enabled", "Disabled", "PendingImport"],
    );
    if (!waiting) throw new KMSInvalidStateException(`${keyArn(key)} is pending deletion.`);
    return { KeyId: keyArn(key), KeyState: "PendingReplicaDeletion", PendingWindowInDays: days };
  }
  const deletionDate = new Date(context.services.now().getTime() + days * DAY_MS);
  const scheduled = await context.services.store.updateKey(
    storeKeyId(key),
    { keyState: "PendingDeletion", deletionDate, pendingDeletionWindowInDays: days },
    ["Enabled", "Disabled", "PendingImport"],
  );
  if (!scheduled) throw new KMSInvalidStateException(`${keyArn(key)} is pending deletion.`);
  return { KeyId: keyArn(key), DeletionDate: deletionDate, KeyState: "PendingDeletion", PendingWindowInDays: days };
};
