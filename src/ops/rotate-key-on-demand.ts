import type { RotateKeyOnDemandRequest, RotateKeyOnDemandResponse } from "@aws-sdk/client-kms";
import { ConflictException, LimitExceededException } from "../domain/errors.js";
import { keyArn, storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";
import { requireRotatableNow, rotate } from "./key-rotation.js";
import { rotateImportedKeyOnDemand } from "./rotate-imported-key-material.js";

/** AWS's quota of on-demand rotations per key; it cannot be raised. */
export const MAX_ON_DEMAND_ROTATIONS = 25;
/** AWS refuses an on-demand rotation this close to a scheduled automatic one. */
const AUTOMATIC_ROTATION_MARGIN_MS = 20 * 60_000;

/** Rotates at once; the automatic schedule, if any, is unchanged. */
export const rotateKeyOnDemand: Operation<RotateKeyOnDemandRequest, RotateKeyOnDemandResponse> = async (
  context,
  input,
) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:RotateKeyOnDemand");
  if (key.origin === "EXTERNAL") return rotateImportedKeyOnDemand(context, key, MAX_ON_DEMAND_ROTATIONS);
  requireRotatableNow(key);
  const { services } = context;
  const now = services.now();
  if (key.nextRotationDate !== null && key.nextRotationDate.getTime() - now.getTime() < AUTOMATIC_ROTATION_MARGIN_MS) {
    throw new ConflictException(
      `${keyArn(key)} has an automatic rotation in progress or due within 20 minutes; try again later.`,
    );
  }
  if ((await services.store.countRotations(storeKeyId(key), "ON_DEMAND")) >= MAX_ON_DEMAND_ROTATIONS) {
    throw new LimitExceededException(
      `${keyArn(key)} has reached the quota of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations per key.`,
    );
  }
  if (!(await rotate(services, key, "ON_DEMAND", now))) {
    throw new ConflictException(`${keyArn(key)} is being rotated by another request; try again later.`);
  }
  return { KeyId: keyArn(key) };
};
