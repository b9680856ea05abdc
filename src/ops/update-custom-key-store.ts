import type { UpdateCustomKeyStoreRequest, UpdateCustomKeyStoreResponse } from "@aws-sdk/client-kms";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../domain/custom-key-store.js";
import { CloudHsmClusterNotRelatedException, CustomKeyStoreNameInUseException } from "../domain/errors.js";
import { keyIdOfStoreRow } from "../domain/key.js";
import { authorize } from "./authorize.js";
import type { Operation, OperationContext } from "./context.js";
import {
  findCluster,
  findCustomKeyStore,
  invalidState,
  refuseXksParameters,
  tokenClusters,
  unwrapPassword,
  wrapPassword,
} from "./custom-key-store-access.js";

const KEYS_PER_PAGE = 500;

/**
 * Renames a custom key store (connected or disconnected), or, while it is disconnected, records
 * a new password (the token's current user PIN; it does not change the PIN) or moves it to
 * another token that is related: one that holds the token object of every key in the store.
 */
export const updateCustomKeyStore: Operation<UpdateCustomKeyStoreRequest, UpdateCustomKeyStoreResponse> = async (
  context,
  input,
) => {
  const { services } = context;
  refuseXksParameters(input);
  await authorize(context, "kms:UpdateCustomKeyStore", null);
  const store = await findCustomKeyStore(context, input.CustomKeyStoreId as string);
  const id = store.customKeyStoreId;
  const changes: CustomKeyStoreChanges = {};
  if (input.NewCustomKeyStoreName !== undefined) changes.name = input.NewCustomKeyStoreName;
  const needsDisconnected = input.KeyStorePassword !== undefined || input.CloudHsmClusterId !== undefined;
  if (needsDisconnected && store.connectionState !== "DISCONNECTED") {
    invalidState(store, "Changing the KeyStorePassword or CloudHsmClusterId", "DISCONNECTED");
  }
  if (input.KeyStorePassword !== undefined) {
    changes.wrappedPassword = await wrapPassword(services, id, input.KeyStorePassword);
  }
  if (input.CloudHsmClusterId !== undefined && input.CloudHsmClusterId !== store.cloudHsmClusterId) {
    findCluster(services, input.CloudHsmClusterId);
    const password = input.KeyStorePassword ?? (await unwrapPassword(services, store));
    await requireRelated(context, store, input.CloudHsmClusterId, password);
    changes.cloudHsmClusterId = input.CloudHsmClusterId;
  }
  const states = needsDisconnected ? (["DISCONNECTED"] as const) : (["CONNECTED", "DISCONNECTED"] as const);
  const updated = await services.store.customKeyStores.updateCustomKeyStore(id, changes, states);
  if (updated === "name-in-use") {
    throw new CustomKeyStoreNameInUseException(
      `The custom key store name '${changes.name}' is already assigned to another custom key store in this account and Region.`,
    );
  }
  if (updated === "cluster-in-use") {
    throw new CloudHsmClusterNotRelatedException(
      `Cluster '${changes.cloudHsmClusterId}' is associated with another custom key store; it cannot also back '${id}'.`,
    );
  }
  if (updated === "unchanged") {
    invalidState(
      await findCustomKeyStore(context, id),
      "UpdateCustomKeyStore",
      needsDisconnected ? "DISCONNECTED" : "CONNECTED or DISCONNECTED",
    );
  }
  return {};
};

/**
 * AWS accepts only a cluster that shares the original's backups. A token has no such lineage,
 * so Trent asks for what that lineage guarantees: every key of the store is in the new token.
 * A store without keys may move to any token no other store uses.
 */
async function requireRelated(
  context: OperationContext,
  store: CustomKeyStoreRecord,
  clusterId: string,
  password: string,
): Promise<void> {
  const { services } = context;
  let after: string | null = null;
  const keyIds: string[] = [];
  do {
    const page = await services.store.customKeyStores.keysInCustomKeyStore(
      store.customKeyStoreId,
      after,
      KEYS_PER_PAGE,
    );
    keyIds.push(...page.items.map(keyIdOfStoreRow));
    after = page.next;
  } while (after !== null);
  if (keyIds.length === 0) return;
  let missing: string[];
  try {
    missing = tokenClusters(services).withSession(clusterId, password, (token) =>
      keyIds.filter((keyId) => token.findKey(keyId) === undefined),
    );
  } catch (error) {
    throw new CloudHsmClusterNotRelatedException(
      `Cannot look into cluster '${clusterId}' with the store's password to find its keys: ${(error as Error).message}`,
    );
  }
  if (missing.length > 0) {
    throw new CloudHsmClusterNotRelatedException(
      `Cluster '${clusterId}' is not related to cluster '${store.cloudHsmClusterId}': it does not hold the key material of ${missing.length} of the ${keyIds.length} KMS keys in custom key store '${store.customKeyStoreId}' (for example ${missing[0]}).`,
    );
  }
}
