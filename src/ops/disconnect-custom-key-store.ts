import type { DisconnectCustomKeyStoreRequest, DisconnectCustomKeyStoreResponse } from "@aws-sdk/client-kms";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { findCustomKeyStore, invalidState, tokenClusters } from "./custom-key-store-access.js";

/**
 * Disconnects a custom key store: its keys become Unavailable on every process and node at their
 * next use (they read the state from the store), and this process logs out of the token at once.
 * AWS passes through DISCONNECTING; here the change is a single write.
 */
export const disconnectCustomKeyStore: Operation<
  DisconnectCustomKeyStoreRequest,
  DisconnectCustomKeyStoreResponse
> = async (context, input) => {
  const { services } = context;
  await authorize(context, "kms:DisconnectCustomKeyStore", null);
  const store = await findCustomKeyStore(context, input.CustomKeyStoreId as string);
  const id = store.customKeyStoreId;
  const disconnected = await services.store.customKeyStores.updateCustomKeyStore(
    id,
    { connectionState: "DISCONNECTED", connectionErrorCode: null },
    ["CONNECTED", "CONNECTING", "FAILED"],
  );
  if (disconnected !== "updated") {
    invalidState(await findCustomKeyStore(context, id), "DisconnectCustomKeyStore", "CONNECTED, CONNECTING or FAILED");
  }
  await tokenClusters(services).close(id);
  return {};
};
