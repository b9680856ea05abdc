import type { CancelKeyDeletionRequest, CancelKeyDeletionResponse } from "@aws-sdk/client-kms";
import { KMSInvalidStateException } from "../domain/errors.js";
import { keyArn } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";

export const cancelKeyDeletion: Operation<CancelKeyDeletionRequest, CancelKeyDeletionResponse> = async (
  context,
  input,
) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:CancelKeyDeletion");
  const cancelled = await context.services.store.updateKey(
    key.keyId,
    { keyState: "Disabled", deletionDate: null, pendingDeletionWindowInDays: null },
    ["PendingDeletion"],
  );
  if (!cancelled) throw new KMSInvalidStateException(`${keyArn(key)} is not pending deletion.`);
  return { KeyId: keyArn(key) };
};
