import type { DisableKeyRotationRequest } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { requireRotatableNow } from "./key-rotation.js";
import { updateRotationSchedule } from "./rotation-schedule.js";

export const disableKeyRotation: Operation<DisableKeyRotationRequest, Record<string, never>> = async (
  context,
  input,
) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:DisableKeyRotation");
  requireRotatableNow(key);
  await updateRotationSchedule(context, key, { rotationPeriodInDays: null, nextRotationDate: null });
  return {};
};
