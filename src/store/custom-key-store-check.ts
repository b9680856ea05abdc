import type { ConnectionErrorCodeType, ConnectionStateType } from "@aws-sdk/client-kms";
import { type CustomKeyStoreRecord, passwordWrapContext } from "../domain/custom-key-store.js";
import { type KmsKey, storeKeyId } from "../domain/key.js";
import type { RootOfTrust } from "../root/root-of-trust.js";
import type { KeyStore } from "./store.js";

const CLUSTER_ID = /^cluster-[2-7a-zA-Z]{11,16}$/;
const CUSTOM_KEY_STORE_ID = /^cks-[0-9a-f]{17}$/;
const STATES: ReadonlySet<ConnectionStateType> = new Set<ConnectionStateType>([
  "CONNECTED",
  "CONNECTING",
  "DISCONNECTED",
  "DISCONNECTING",
  "FAILED",
]);
const PAGE_SIZE = 500;

/** `trent check` of a key in a custom key store: it lives in its store's token alone. */
export async function customKeyStoreKeyProblems(store: KeyStore, key: KmsKey): Promise<string[]> {
  const problems: string[] = [];
  const report = (problem: string) => problems.push(`key ${key.keyId}: ${problem}`);
  if (key.customKeyStoreId === undefined) {
    report("has Origin AWS_CLOUDHSM but is in no custom key store");
    return problems;
  }
  if (key.origin !== "AWS_CLOUDHSM")
    report(`is in custom key store ${key.customKeyStoreId} but its Origin is ${key.origin}`);
  if (key.keySpec !== "SYMMETRIC_DEFAULT" || key.keyUsage !== "ENCRYPT_DECRYPT") {
    report(
      `is in a custom key store, which holds only symmetric encryption keys, but is ${key.keySpec}/${key.keyUsage}`,
    );
  }
  const owner = await store.customKeyStores.getCustomKeyStore(key.customKeyStoreId);
  if (owner === undefined) report(`is in custom key store ${key.customKeyStoreId}, which does not exist`);
  else if (owner.accountId !== key.accountId || owner.region !== key.region) {
    report(`is in custom key store ${key.customKeyStoreId}, of another account or region`);
  }
  const material = await store.listKeyMaterial(storeKeyId(key), 0, 1);
  if (material.items.length > 0) report("is in a custom key store but has key material outside its token");
  if (key.currentVersion !== 1)
    report(`is in a custom key store, which never rotates, but is at version ${key.currentVersion}`);
  return problems;
}

/** `trent check` of every custom key store: its fields, and that its password unwraps under the root of trust. */
export async function checkCustomKeyStores(store: KeyStore, root: RootOfTrust, problems: string[]): Promise<number> {
  let checked = 0;
  let after: string | null = null;
  do {
    const page = await store.customKeyStores.listCustomKeyStores(null, null, after, PAGE_SIZE);
    for (const record of page.items) {
      checked++;
      let found = await customKeyStoreProblems(root, record);
      if (found.length > 0) {
        const again = await store.customKeyStores.getCustomKeyStore(record.customKeyStoreId);
        found = again === undefined ? [] : await customKeyStoreProblems(root, again);
      }
      problems.push(...found);
    }
    after = page.next;
  } while (after !== null);
  return checked;
}

async function customKeyStoreProblems(root: RootOfTrust, record: CustomKeyStoreRecord): Promise<string[]> {
  const problems: string[] = [];
  const report = (problem: string) => problems.push(`custom key store ${record.customKeyStoreId}: ${problem}`);
  if (!CUSTOM_KEY_STORE_ID.test(record.customKeyStoreId)) report("the id is not cks- and 17 hex digits");
  if (!CLUSTER_ID.test(record.cloudHsmClusterId))
    report(`the cluster id ${record.cloudHsmClusterId} is not one AWS accepts`);
  if (!STATES.has(record.connectionState)) report(`connection state ${record.connectionState} is not one AWS has`);
  const failed = record.connectionState === "FAILED";
  if (failed !== (record.connectionErrorCode !== null)) {
    report(
      failed
        ? "is FAILED without a connection error code"
        : `has connection error code ${record.connectionErrorCode as ConnectionErrorCodeType} but is ${record.connectionState}`,
    );
  }
  try {
    const password = await root.unwrap(record.wrappedPassword, passwordWrapContext(record.customKeyStoreId));
    password.fill(0);
  } catch (error) {
    report(`its password does not unwrap under the root key (${(error as Error).message})`);
  }
  return problems;
}
