import type { EnableKeyRotationRequest } from "@aws-sdk/client-kms";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { DEFAULT_ROTATION_PERIOD_DAYS, requireRotatableNow, rotationDueAfter } from "./key-rotation.js";
import { updateRotationSchedule } from "./rotation-schedule.js";

/** Turns automatic rotation on, or changes its period; the first rotation is one period from now. */
export const enableKeyRotation: Operation<EnableKeyRotationRequest, Record<string, never>> = async (context, input) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:EnableKeyRotation");
  requireRotatableNow(key);
  const period = input.RotationPeriodInDays ?? DEFAULT_ROTATION_PERIOD_DAYS;
  await updateRotationSchedule(context, key, {
    rotationPeriodInDays: period,
    nextRotationDate: rotationDueAfter(context.services.now(), period),
  });
  return {};
};
