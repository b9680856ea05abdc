import type { GetKeyRotationStatusRequest, GetKeyRotationStatusResponse } from "@aws-sdk/client-kms";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { requireReadableRotation } from "./key-rotation.js";

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
  const enabled = key.rotationPeriodInDays !== null && key.keyState !== "PendingDeletion";
  return {
    KeyId: keyArn(key),
    KeyRotationEnabled: enabled,
    ...(enabled && key.rotationPeriodInDays !== null ? { RotationPeriodInDays: key.rotationPeriodInDays } : {}),
    ...(enabled && key.nextRotationDate !== null ? { NextRotationDate: key.nextRotationDate } : {}),
  };
};
