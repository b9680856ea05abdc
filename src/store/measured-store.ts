import type { ConnectionStateType, KeyState } from "@aws-sdk/client-kms";
import type { CustomKeyStoreChanges, CustomKeyStoreRecord } from "../domain/custom-key-store.js";
import type { KmsKey, RotationType, Tag } from "../domain/key.js";
import type { KeyMaterialImport } from "./imported-material-store.js";
import type {
  AccessKey,
  Alias,
  ClientKeyRecord,
  Grant,
  IdentityPolicy,
  KeyChanges,
  KeyRotation,
  KeyStore,
  KeyUsage,
  Principal,
} from "./store.js";
import type { WrappedTable, WrappedValue } from "./wrapped-values.js";

/** The store methods that reach the database. */
export type StoreMethod = Exclude<keyof KeyStore, "changeMarker" | "close">;

/** Told of every call to the database store, with how long it took. */
export interface StoreCallObserver {
  storeCall(method: StoreMethod, seconds: number, failed: boolean): void;
}

/**
 * Times every call to the store below it (placed under the cache, so it sees only what reaches
 * the database) and tells an observer. SQLite calls run synchronously inside the call, so the
 * clock starts before the call is made, not when its promise is awaited.
 */
export class MeasuredKeyStore implements KeyStore {
  readonly changeMarker?: () => number;

  constructor(
    private readonly inner: KeyStore,
    private readonly observer: StoreCallObserver,
  ) {
    const changeMarker = inner.changeMarker?.bind(inner);
    if (changeMarker !== undefined) this.changeMarker = changeMarker;
  }

  private async timed<T>(method: StoreMethod, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let failed = true;
    try {
      const result = await call();
      failed = false;
      return result;
    } finally {
      this.observer.storeCall(method, (performance.now() - started) / 1000, failed);
    }
  }

  getMeta(name: string) {
    return this.timed("getMeta", () => this.inner.getMeta(name));
  }
  setMeta(name: string, value: string) {
    return this.timed("setMeta", () => this.inner.setMeta(name, value));
  }
  initMeta(name: string, value: string) {
    return this.timed("initMeta", () => this.inner.initMeta(name, value));
  }

  createKey(key: KmsKey, wrappedMaterial: Buffer | null, tags: readonly Tag[]) {
    return this.timed("createKey", () => this.inner.createKey(key, wrappedMaterial, tags));
  }
  getKey(keyId: string) {
    return this.timed("getKey", () => this.inner.getKey(keyId));
  }
  updateKey(keyId: string, changes: KeyChanges, onlyInStates?: readonly KeyState[]) {
    return this.timed("updateKey", () => this.inner.updateKey(keyId, changes, onlyInStates));
  }
  listKeys(accountId: string, region: string, after: string | null, limit: number) {
    return this.timed("listKeys", () => this.inner.listKeys(accountId, region, after, limit));
  }
  deleteKeyIfDue(keyId: string, now: Date) {
    return this.timed("deleteKeyIfDue", () => this.inner.deleteKeyIfDue(keyId, now));
  }
  keysDueForDeletion(now: Date) {
    return this.timed("keysDueForDeletion", () => this.inner.keysDueForDeletion(now));
  }
  replicateKey(replica: KmsKey, tags: readonly Tag[]) {
    return this.timed("replicateKey", () => this.inner.replicateKey(replica, tags));
  }
  multiRegionKeys(keyId: string) {
    return this.timed("multiRegionKeys", () => this.inner.multiRegionKeys(keyId));
  }
  updatePrimaryRegion(keyId: string, region: string) {
    return this.timed("updatePrimaryRegion", () => this.inner.updatePrimaryRegion(keyId, region));
  }
  getKeyMaterial(keyId: string, version: number) {
    return this.timed("getKeyMaterial", () => this.inner.getKeyMaterial(keyId, version));
  }
  recordKeyUsage(usages: readonly KeyUsage[]) {
    return this.timed("recordKeyUsage", () => this.inner.recordKeyUsage(usages));
  }
  getKeyUsage(keyId: string) {
    return this.timed("getKeyUsage", () => this.inner.getKeyUsage(keyId));
  }
  rotateKey(rotation: KeyRotation) {
    return this.timed("rotateKey", () => this.inner.rotateKey(rotation));
  }
  listKeyMaterial(keyId: string, after: number, limit: number) {
    return this.timed("listKeyMaterial", () => this.inner.listKeyMaterial(keyId, after, limit));
  }
  countRotations(keyId: string, rotationType: RotationType) {
    return this.timed("countRotations", () => this.inner.countRotations(keyId, rotationType));
  }
  keysDueForRotation(now: Date, limit: number) {
    return this.timed("keysDueForRotation", () => this.inner.keysDueForRotation(now, limit));
  }

  createAlias(alias: Alias) {
    return this.timed("createAlias", () => this.inner.createAlias(alias));
  }
  getAlias(accountId: string, region: string, aliasName: string) {
    return this.timed("getAlias", () => this.inner.getAlias(accountId, region, aliasName));
  }
  updateAlias(alias: Alias) {
    return this.timed("updateAlias", () => this.inner.updateAlias(alias));
  }
  deleteAlias(accountId: string, region: string, aliasName: string) {
    return this.timed("deleteAlias", () => this.inner.deleteAlias(accountId, region, aliasName));
  }
  listAliases(accountId: string, region: string, targetKeyId: string | null, after: string | null, limit: number) {
    return this.timed("listAliases", () => this.inner.listAliases(accountId, region, targetKeyId, after, limit));
  }

  putTags(keyId: string, tags: readonly Tag[], maxTags: number) {
    return this.timed("putTags", () => this.inner.putTags(keyId, tags, maxTags));
  }
  removeTags(keyId: string, tagKeys: readonly string[]) {
    return this.timed("removeTags", () => this.inner.removeTags(keyId, tagKeys));
  }
  listTags(keyId: string, after: string | null, limit: number) {
    return this.timed("listTags", () => this.inner.listTags(keyId, after, limit));
  }

  putPrincipal(principal: Principal) {
    return this.timed("putPrincipal", () => this.inner.putPrincipal(principal));
  }
  getPrincipal(arn: string) {
    return this.timed("getPrincipal", () => this.inner.getPrincipal(arn));
  }
  createAccessKey(accessKey: AccessKey) {
    return this.timed("createAccessKey", () => this.inner.createAccessKey(accessKey));
  }
  getAccessKey(accessKeyId: string) {
    return this.timed("getAccessKey", () => this.inner.getAccessKey(accessKeyId));
  }
  listAccessKeys(principalArn: string | null) {
    return this.timed("listAccessKeys", () => this.inner.listAccessKeys(principalArn));
  }
  deleteAccessKey(accessKeyId: string) {
    return this.timed("deleteAccessKey", () => this.inner.deleteAccessKey(accessKeyId));
  }
  createClientKey(record: ClientKeyRecord) {
    return this.timed("createClientKey", () => this.inner.createClientKey(record));
  }
  getClientKey(keyId: string) {
    return this.timed("getClientKey", () => this.inner.getClientKey(keyId));
  }
  listClientKeys(principalArn: string | null) {
    return this.timed("listClientKeys", () => this.inner.listClientKeys(principalArn));
  }
  deleteClientKey(keyId: string) {
    return this.timed("deleteClientKey", () => this.inner.deleteClientKey(keyId));
  }

  putIdentityPolicy(policy: IdentityPolicy) {
    return this.timed("putIdentityPolicy", () => this.inner.putIdentityPolicy(policy));
  }
  deleteIdentityPolicy(principalArn: string, policyName: string) {
    return this.timed("deleteIdentityPolicy", () => this.inner.deleteIdentityPolicy(principalArn, policyName));
  }
  listIdentityPolicies(principalArn: string) {
    return this.timed("listIdentityPolicies", () => this.inner.listIdentityPolicies(principalArn));
  }

  createGrant(grant: Grant) {
    return this.timed("createGrant", () => this.inner.createGrant(grant));
  }
  getGrant(grantId: string) {
    return this.timed("getGrant", () => this.inner.getGrant(grantId));
  }
  findGrantByName(keyId: string, name: string) {
    return this.timed("findGrantByName", () => this.inner.findGrantByName(keyId, name));
  }
  listGrants(keyId: string, after: string | null, limit: number) {
    return this.timed("listGrants", () => this.inner.listGrants(keyId, after, limit));
  }
  listRetirableGrants(retiringPrincipal: string, after: string | null, limit: number) {
    return this.timed("listRetirableGrants", () => this.inner.listRetirableGrants(retiringPrincipal, after, limit));
  }
  grantsFor(keyId: string, granteePrincipal: string) {
    return this.timed("grantsFor", () => this.inner.grantsFor(keyId, granteePrincipal));
  }
  deleteGrant(grantId: string) {
    return this.timed("deleteGrant", () => this.inner.deleteGrant(grantId));
  }
  scanWrappedValues(table: WrappedTable, after: string | null, limit: number) {
    return this.timed("scanWrappedValues", () => this.inner.scanWrappedValues(table, after, limit));
  }
  replaceWrappedValue(value: WrappedValue, rewrapped: Buffer) {
    return this.timed("replaceWrappedValue", () => this.inner.replaceWrappedValue(value, rewrapped));
  }

  createCustomKeyStore(store: CustomKeyStoreRecord) {
    return this.timed("createCustomKeyStore", () => this.inner.createCustomKeyStore(store));
  }
  getCustomKeyStore(customKeyStoreId: string) {
    return this.timed("getCustomKeyStore", () => this.inner.getCustomKeyStore(customKeyStoreId));
  }
  findCustomKeyStoreByName(accountId: string, region: string, name: string) {
    return this.timed("findCustomKeyStoreByName", () => this.inner.findCustomKeyStoreByName(accountId, region, name));
  }
  listCustomKeyStores(accountId: string | null, region: string | null, after: string | null, limit: number) {
    return this.timed("listCustomKeyStores", () => this.inner.listCustomKeyStores(accountId, region, after, limit));
  }
  updateCustomKeyStore(
    customKeyStoreId: string,
    changes: CustomKeyStoreChanges,
    onlyInStates?: readonly ConnectionStateType[],
  ) {
    return this.timed("updateCustomKeyStore", () =>
      this.inner.updateCustomKeyStore(customKeyStoreId, changes, onlyInStates),
    );
  }
  deleteCustomKeyStore(customKeyStoreId: string, onlyInStates: readonly ConnectionStateType[]) {
    return this.timed("deleteCustomKeyStore", () => this.inner.deleteCustomKeyStore(customKeyStoreId, onlyInStates));
  }
  keysInCustomKeyStore(customKeyStoreId: string, after: string | null, limit: number) {
    return this.timed("keysInCustomKeyStore", () => this.inner.keysInCustomKeyStore(customKeyStoreId, after, limit));
  }

  listImportedKeyMaterial(storeKeyId: string) {
    return this.timed("listImportedKeyMaterial", () => this.inner.listImportedKeyMaterial(storeKeyId));
  }
  importKeyMaterial(write: KeyMaterialImport) {
    return this.timed("importKeyMaterial", () => this.inner.importKeyMaterial(write));
  }
  deleteImportedKeyMaterial(storeKeyId: string, version: number, expiredBy?: Date) {
    return this.timed("deleteImportedKeyMaterial", () =>
      this.inner.deleteImportedKeyMaterial(storeKeyId, version, expiredBy),
    );
  }
  importedKeyMaterialDue(now: Date, limit: number) {
    return this.timed("importedKeyMaterialDue", () => this.inner.importedKeyMaterialDue(now, limit));
  }
  rotateToImportedKeyMaterial(storeKeyId: string, fromVersion: number, toVersion: number, at: Date) {
    return this.timed("rotateToImportedKeyMaterial", () =>
      this.inner.rotateToImportedKeyMaterial(storeKeyId, fromVersion, toVersion, at),
    );
  }
  refreshImportState(storeKeyId: string) {
    return this.timed("refreshImportState", () => this.inner.refreshImportState(storeKeyId));
  }

  close() {
    return this.inner.close();
  }
}
