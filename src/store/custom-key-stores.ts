import type { ConnectionStateType } from "@aws-sdk/client-kms";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../domain/custom-key-store.js";
import type { Page } from "./store.js";

/** Why a write of a custom key store wrote nothing. */
export type CustomKeyStoreConflict = "name-in-use" | "cluster-in-use";

/**
 * The store's part in custom key stores (table custom_key_stores). Names are unique per account
 * and region, and a token (cluster id) belongs to one custom key store at most: both are enforced
 * by the database, so concurrent requests on any node cannot break them.
 */
export interface CustomKeyStoreTable {
  /** Returns "created", or the conflict that stopped it (the name is checked first). */
  createCustomKeyStore(store: CustomKeyStoreRecord): Promise<"created" | CustomKeyStoreConflict>;
  getCustomKeyStore(customKeyStoreId: string): Promise<CustomKeyStoreRecord | undefined>;
  findCustomKeyStoreByName(accountId: string, region: string, name: string): Promise<CustomKeyStoreRecord | undefined>;
  /** By id; `accountId` null lists every account's (for `trent check`). */
  listCustomKeyStores(
    accountId: string | null,
    region: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<CustomKeyStoreRecord>>;
  /**
   * Writes the given fields, only while the store is in one of `onlyInStates` (when given).
   * Returns "updated", "unchanged" when the store is missing or in another state, or the conflict.
   */
  updateCustomKeyStore(
    customKeyStoreId: string,
    changes: CustomKeyStoreChanges,
    onlyInStates?: readonly ConnectionStateType[],
  ): Promise<"updated" | "unchanged" | CustomKeyStoreConflict>;
  /** Deletes the store only while it is in one of `onlyInStates` and no key (in any state) is in it. */
  deleteCustomKeyStore(
    customKeyStoreId: string,
    onlyInStates: readonly ConnectionStateType[],
  ): Promise<"deleted" | "has-keys" | "unchanged">;
  /** Store-row ids (storeKeyId) of the keys in a custom key store, in order. */
  keysInCustomKeyStore(customKeyStoreId: string, after: string | null, limit: number): Promise<Page<string>>;
}
