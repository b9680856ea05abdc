import type { ConnectCustomKeyStoreRequest, ConnectCustomKeyStoreResponse } from "@aws-sdk/client-kms";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { findCustomKeyStore, invalidState, tokenClusters, unwrapPassword } from "./custom-key-store-access.js";

/**
 * Connects a custom key store to its token: logs in with the store's password (the user PIN) and
 * records CONNECTED, or FAILED with the ConnectionErrorCode of what went wrong. AWS answers at once
 * and connects in the background; a token answers in milliseconds, so Trent has the outcome in
 * DescribeCustomKeyStores by the time this returns, which a client polling as for AWS also finds.
 */
export const connectCustomKeyStore: Operation<ConnectCustomKeyStoreRequest, ConnectCustomKeyStoreResponse> = async (
  context,
  input,
) => {
  const { services } = context;
  await authorize(context, "kms:ConnectCustomKeyStore", null);
  const store = await findCustomKeyStore(context, input.CustomKeyStoreId as string);
  if (store.connectionState === "CONNECTED") return {};
  if (store.connectionState === "FAILED" || store.connectionState === "DISCONNECTING") {
    invalidState(store, "ConnectCustomKeyStore", "DISCONNECTED (disconnect a FAILED store before connecting it again)");
  }
  const id = store.customKeyStoreId;
  // Unwrapped first: a root of trust that fails here leaves the store as it was, not CONNECTING.
  const password = await unwrapPassword(services, store);
  const connecting = await services.store.customKeyStores.updateCustomKeyStore(
    id,
    { connectionState: "CONNECTING", connectionErrorCode: null },
    ["DISCONNECTED", "CONNECTING"],
  );
  if (connecting !== "updated") {
    invalidState(await findCustomKeyStore(context, id), "ConnectCustomKeyStore", "DISCONNECTED");
  }
  const generation = store.connectionGeneration + 1;
  const attempt = await tokenClusters(services).connect(id, generation, store.cloudHsmClusterId, password);
  const outcome = await services.store.customKeyStores.updateCustomKeyStore(
    id,
    attempt.connected
      ? { connectionState: "CONNECTED", connectionErrorCode: null, connectionGeneration: generation }
      : { connectionState: "FAILED", connectionErrorCode: attempt.code },
    ["CONNECTING"],
  );
  // Disconnected (or deleted) while connecting: that request has the last word.
  if (!attempt.connected || outcome !== "updated") await tokenClusters(services).close(id);
  return {};
};
