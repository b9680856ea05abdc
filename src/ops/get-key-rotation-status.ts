import type { GetKeyRotationStatusRequest, GetKeyRotationStatusResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { requireReadableRotation } from "./key-rotation.js";
import { primaryCopy } from "./multi-region.js";

/**
 * A key pending deletion reports rotation off, as AWS does; its schedule is kept and reported
 * again if the deletion is cancelled. Rotations are atomic here, so none is ever in progress and
 * OnDemandRotationStartDate never appears.
 */
export const getKeyRotationStatus: Operation<GetKeyRotationStatusRequest, GetKeyRotationStatusResponse> = async (
  context,
  input,
) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:GetKeyRotationStatus");
  requireReadableRotation(key);
  // A multi-Region key's rotation is a shared property: a replica reports its primary's schedule.
  const schedule = await primaryCopy(context, key);
  const pendingDeletion = key.keyState === "PendingDeletion" || key.keyState === "PendingReplicaDeletion";
  const enabled = schedule.rotationPeriodInDays !== null && !pendingDeletion;
  return {
    KeyId: keyArn(key),
    KeyRotationEnabled: enabled,
    ...(enabled && schedule.rotationPeriodInDays !== null
      ? { RotationPeriodInDays: schedule.rotationPeriodInDays }
      : {}),
    ...(enabled && schedule.nextRotationDate !== null ? { NextRotationDate: schedule.nextRotationDate } : {}),
  };
};
