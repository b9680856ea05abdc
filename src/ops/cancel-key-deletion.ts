import type { CancelKeyDeletionRequest, CancelKeyDeletionResponse } from "@aws-sdk/client-kms";
import { KMSInvalidStateException } from "../domain/errors.js";
import { keyArn, storeKeyId } from "../domain/key.js";
import type { Operation } from "./context.js";
import { resolveKey } from "./key-access.js";

export const cancelKeyDeletion: Operation<CancelKeyDeletionRequest, CancelKeyDeletionResponse> = async (
  context,
  input,
) => {
  const key = await resolveKey(context, input.KeyId as string, "kms:CancelKeyDeletion");
  const cancelled = await context.services.store.updateKey(
    storeKeyId(key),
    { keyState: "Disabled", deletionDate: null, pendingDeletionWindowInDays: null },
    ["PendingDeletion", "PendingReplicaDeletion"],
  );
  if (!cancelled) throw new KMSInvalidStateException(`${keyArn(key)} is not pending deletion.`);
  // A key with imported material that is missing goes back to PendingImport, not Disabled.
  if (key.origin === "EXTERNAL") await context.services.store.importedMaterial.refreshImportState(storeKeyId(key));
  return { KeyId: keyArn(key) };
};
