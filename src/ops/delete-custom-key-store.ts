import type { DeleteCustomKeyStoreRequest, DeleteCustomKeyStoreResponse } from "@aws-sdk/client-kms";
import { CustomKeyStoreHasCMKsException } from "../domain/errors.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { findCustomKeyStore, invalidState, tokenClusters } from "./custom-key-store-access.js";

/**
 * Deletes a disconnected custom key store that holds no KMS keys (not even keys pending
 * deletion). The token and whatever it holds are left as they are, as AWS leaves the cluster.
 */
export const deleteCustomKeyStore: Operation<DeleteCustomKeyStoreRequest, DeleteCustomKeyStoreResponse> = async (
  context,
  input,
) => {
  const { services } = context;
  await authorize(context, "kms:DeleteCustomKeyStore", null);
  const store = await findCustomKeyStore(context, input.CustomKeyStoreId as string);
  const id = store.customKeyStoreId;
  const deleted = await services.store.customKeyStores.deleteCustomKeyStore(id, ["DISCONNECTED"]);
  if (deleted === "has-keys") {
    throw new CustomKeyStoreHasCMKsException(
      `Custom key store '${id}' contains KMS keys. Schedule their deletion (ScheduleKeyDeletion); once they are deleted, you can delete the custom key store.`,
    );
  }
  if (deleted === "unchanged")
    invalidState(await findCustomKeyStore(context, id), "DeleteCustomKeyStore", "DISCONNECTED");
  await tokenClusters(services).close(id);
  return {};
};
