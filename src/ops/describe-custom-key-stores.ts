import type { DescribeCustomKeyStoresRequest, DescribeCustomKeyStoresResponse } from "@aws-sdk/client-kms";
import { customKeyStoreEntry } from "../domain/custom-key-store.js";
import { CustomKeyStoreNotFoundException, ValidationException } from "../domain/errors.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import { findCustomKeyStore } from "./custom-key-store-access.js";
import { decodeMarker, pageOutput, pageSize } from "./pagination.js";

/** One custom key store by id or by name, or a page of all of the account's in this Region, by id. */
export const describeCustomKeyStores: Operation<
  DescribeCustomKeyStoresRequest,
  DescribeCustomKeyStoresResponse
> = async (context, input) => {
  const { caller, services } = context;
  if (input.CustomKeyStoreId !== undefined && input.CustomKeyStoreName !== undefined) {
    throw new ValidationException("Specify either CustomKeyStoreId or CustomKeyStoreName, but not both.");
  }
  const after = decodeMarker(input.Marker);
  await authorize(context, "kms:DescribeCustomKeyStores", null);
  if (input.CustomKeyStoreId !== undefined) {
    const store = await findCustomKeyStore(context, input.CustomKeyStoreId);
    return { CustomKeyStores: [customKeyStoreEntry(store)], Truncated: false };
  }
  if (input.CustomKeyStoreName !== undefined) {
    const store = await services.store.customKeyStores.findCustomKeyStoreByName(
      caller.accountId,
      caller.region,
      input.CustomKeyStoreName,
    );
    if (store === undefined) {
      throw new CustomKeyStoreNotFoundException(
        `Custom key store with name '${input.CustomKeyStoreName}' does not exist in this account and Region.`,
      );
    }
    return { CustomKeyStores: [customKeyStoreEntry(store)], Truncated: false };
  }
  const page = await services.store.customKeyStores.listCustomKeyStores(
    caller.accountId,
    caller.region,
    after,
    pageSize(input.Limit, 100, 1000),
  );
  return { CustomKeyStores: page.items.map(customKeyStoreEntry), ...pageOutput(page.next) };
};
