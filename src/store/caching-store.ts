import type { KeyState } from "@aws-sdk/client-kms";
import { type KmsKey, storeKeyId, type Tag } from "../domain/key.js";
import type { CustomKeyStoreTable } from "./custom-key-stores.js";
import { ForwardingKeyStore } from "./forwarding-store.js";
import type { ImportedMaterialStore } from "./imported-material-store.js";
import type {
  AccessKey,
  Alias,
  ClientKeyRecord,
  Grant,
  IdentityPolicy,
  KeyChanges,
  KeyRotation,
  KeyStore,
  Page,
  Principal,
} from "./store.js";
import type { WrappedValue } from "./wrapped-values.js";

export interface CacheOptions {
  /** How long a read may be served from memory. Other nodes' changes are seen within this bound. */
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly beforeRead?: () => void;
  /**
   * Awaited after every write through this store, before its caller goes on: the worker
   * processes of one node use it to have their siblings drop their caches, so that a change is in
   * force on the whole node by the time it is acknowledged.
   */
  readonly afterWrite?: () => Promise<void>;
}

export const DEFAULT_CACHE_OPTIONS: CacheOptions = { ttlMs: 500, maxEntries: 100_000 };

/** One cache's lookups since start: served from memory (hits) or read from the store (misses). */
export interface CacheStatistics {
  readonly cache: string;
  readonly hits: number;
  readonly misses: number;
}

/** A bounded map whose entries expire; found-nothing results are not kept. */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  hits = 0;
  misses = 0;

  constructor(
    readonly name: string,
    private readonly options: CacheOptions,
  ) {}

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    this.options.beforeRead?.();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) {
      this.hits++;
      return hit.value;
    }
    this.misses++;
    const value = await load();
    if (value === undefined) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, expires: now + this.options.ttlMs });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  deleteWhere(prefix: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Serves the reads every request makes (its access key, principal, key, alias, identity policies,
 * tags, aliases and grants) from memory for a short time, so crypto operations do not reach the
 * database per request. Writes through this node invalidate at once; writes by other nodes (or
 * the admin CLI) are seen within `ttlMs`. Every other method (listings, key material, usage
 * records, custom key stores) is the inner store's, unchanged: a new store method that changes
 * something cached here needs an override that forgets it.
 */
export class CachingKeyStore extends ForwardingKeyStore {
  // Not cached; each use of a key in a custom key store reads its connection state afresh.
  override readonly customKeyStores: CustomKeyStoreTable;
  override readonly importedMaterial: ImportedMaterialStore;
  private readonly keys: TtlCache<KmsKey>;
  private readonly aliases: TtlCache<Alias>;
  private readonly aliasesOfKey: TtlCache<Page<Alias>>;
  private readonly tagsOfKey: TtlCache<Page<Tag>>;
  private readonly principals: TtlCache<Principal>;
  private readonly accessKeys: TtlCache<AccessKey>;
  private readonly clientKeys: TtlCache<ClientKeyRecord>;
  private readonly identityPolicies: TtlCache<IdentityPolicy[]>;
  private readonly grants: TtlCache<Grant[]>;

  private marker: number | undefined;
  private lastMarkerCheck = 0;
  private readonly afterWrite: (() => Promise<void>) | undefined;

  constructor(
    private readonly inner: KeyStore,
    options: CacheOptions = DEFAULT_CACHE_OPTIONS,
  ) {
    super(inner);
    this.customKeyStores = inner.customKeyStores;
    this.importedMaterial = this.forgettingKeys(inner.importedMaterial);
    const fresh = () => this.dropIfChangedElsewhere();
    this.afterWrite = options.afterWrite;
    options = { ...options, beforeRead: fresh };
    this.keys = new TtlCache("keys", options);
    this.aliases = new TtlCache("aliases", options);
    this.aliasesOfKey = new TtlCache("aliases-of-key", options);
    this.tagsOfKey = new TtlCache("tags-of-key", options);
    this.principals = new TtlCache("principals", options);
    this.accessKeys = new TtlCache("access-keys", options);
    this.clientKeys = new TtlCache("client-keys", options);
    this.identityPolicies = new TtlCache("identity-policies", options);
    this.grants = new TtlCache("grants", options);
    this.all.push(
      this.keys,
      this.aliases,
      this.aliasesOfKey,
      this.tagsOfKey,
      this.principals,
      this.accessKeys,
      this.clientKeys,
      this.identityPolicies,
      this.grants,
    );
  }

  private readonly all: TtlCache<unknown>[] = [];

  cacheStatistics(): CacheStatistics[] {
    return this.all.map((cache) => ({ cache: cache.name, hits: cache.hits, misses: cache.misses }));
  }

  /** Forgets everything cached; a sibling worker process calls for it after it wrote. */
  dropAll(): void {
    for (const cache of this.all) cache.clear();
  }

  /** Runs a write, then forgets what it changed here and tells the siblings, even when it failed part-way. */
  private async write<T>(run: Promise<T>, forget: () => void): Promise<T> {
    try {
      return await run;
    } finally {
      forget();
      await this.afterWrite?.();
    }
  }

  /** Drops everything when the store reports a change made elsewhere (another process or node). */
  private dropIfChangedElsewhere(): void {
    // Asking the store costs a little; once per millisecond is as fresh as any caller can tell.
    const now = Date.now();
    if (now === this.lastMarkerCheck) return;
    this.lastMarkerCheck = now;
    const marker = this.inner.changeMarker?.();
    if (marker === this.marker) return;
    this.marker = marker;
    for (const cache of this.all) cache.clear();
  }

  private forgetKey(keyId: string): void {
    this.keys.delete(keyId);
    this.tagsOfKey.delete(keyId);
    this.aliasesOfKey.delete(keyId);
    this.grants.deleteWhere(`${keyId}\n`);
  }

  /** Imported material is not cached, but its writes change the key's row (its state, ValidTo). */
  private forgettingKeys(inner: ImportedMaterialStore): ImportedMaterialStore {
    return {
      listImportedKeyMaterial: (storeKeyId) => inner.listImportedKeyMaterial(storeKeyId),
      importedKeyMaterialDue: (now, limit) => inner.importedKeyMaterialDue(now, limit),
      importKeyMaterial: (write) => this.write(inner.importKeyMaterial(write), () => this.forgetKey(write.storeKeyId)),
      deleteImportedKeyMaterial: (storeKeyId, version, expiredBy) =>
        this.write(inner.deleteImportedKeyMaterial(storeKeyId, version, expiredBy), () => this.forgetKey(storeKeyId)),
      rotateToImportedKeyMaterial: (storeKeyId, fromVersion, toVersion, at) =>
        this.write(inner.rotateToImportedKeyMaterial(storeKeyId, fromVersion, toVersion, at), () =>
          this.forgetKey(storeKeyId),
        ),
      refreshImportState: (storeKeyId) =>
        this.write(inner.refreshImportState(storeKeyId), () => this.forgetKey(storeKeyId)),
    };
  }

  override createKey(key: KmsKey, wrappedMaterial: Buffer | null, tags: readonly Tag[]): Promise<void> {
    return this.write(this.inner.createKey(key, wrappedMaterial, tags), () => this.forgetKey(storeKeyId(key)));
  }
  override getKey(keyId: string) {
    return this.keys.get(keyId, () => this.inner.getKey(keyId));
  }
  override updateKey(keyId: string, changes: KeyChanges, onlyInStates?: readonly KeyState[]): Promise<boolean> {
    return this.write(this.inner.updateKey(keyId, changes, onlyInStates), () => this.forgetKey(keyId));
  }
  override deleteKeyIfDue(keyId: string, now: Date): Promise<boolean> {
    return this.write(this.inner.deleteKeyIfDue(keyId, now), () => {
      this.forgetKey(keyId);
      this.aliases.clear();
      // Deleting a multi-Region key's last replica changes its primary's state too.
      this.keys.clear();
    });
  }
  override rotateKey(rotation: KeyRotation): Promise<boolean> {
    // A multi-Region key's rotation advances every copy's row; rotations are rare, so all are dropped.
    return this.write(this.inner.rotateKey(rotation), () => this.keys.clear());
  }
  override replicateKey(replica: KmsKey, tags: readonly Tag[]) {
    return this.write(this.inner.replicateKey(replica, tags), () => this.forgetKey(storeKeyId(replica)));
  }
  override updatePrimaryRegion(keyId: string, region: string): Promise<boolean> {
    return this.write(this.inner.updatePrimaryRegion(keyId, region), () => this.keys.clear());
  }

  override createAlias(alias: Alias): Promise<boolean> {
    return this.write(this.inner.createAlias(alias), () =>
      this.aliasesOfKey.delete(storeKeyId({ keyId: alias.targetKeyId, region: alias.region })),
    );
  }
  override getAlias(accountId: string, region: string, aliasName: string) {
    return this.aliases.get(`${accountId}\n${region}\n${aliasName}`, () =>
      this.inner.getAlias(accountId, region, aliasName),
    );
  }
  override updateAlias(alias: Alias): Promise<void> {
    return this.write(this.inner.updateAlias(alias), () => {
      this.aliases.delete(`${alias.accountId}\n${alias.region}\n${alias.aliasName}`);
      this.aliasesOfKey.clear();
    });
  }
  override deleteAlias(accountId: string, region: string, aliasName: string): Promise<void> {
    return this.write(this.inner.deleteAlias(accountId, region, aliasName), () => {
      this.aliases.delete(`${accountId}\n${region}\n${aliasName}`);
      this.aliasesOfKey.clear();
    });
  }
  override listAliases(
    accountId: string,
    region: string,
    targetKeyId: string | null,
    after: string | null,
    limit: number,
  ) {
    // The authorizer's kms:ResourceAliases lookup (a key's first page) is the one per-request read.
    if (targetKeyId !== null && after === null && limit === 100) {
      return this.aliasesOfKey.get(storeKeyId({ keyId: targetKeyId, region }), () =>
        this.inner.listAliases(accountId, region, targetKeyId, after, limit),
      ) as Promise<Page<Alias>>;
    }
    return this.inner.listAliases(accountId, region, targetKeyId, after, limit);
  }

  override putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<boolean> {
    return this.write(this.inner.putTags(keyId, tags, maxTags), () => this.tagsOfKey.delete(keyId));
  }
  override removeTags(keyId: string, tagKeys: readonly string[]): Promise<void> {
    return this.write(this.inner.removeTags(keyId, tagKeys), () => this.tagsOfKey.delete(keyId));
  }
  override listTags(keyId: string, after: string | null, limit: number) {
    if (after === null && limit === 50) {
      return this.tagsOfKey.get(keyId, () => this.inner.listTags(keyId, after, limit)) as Promise<Page<Tag>>;
    }
    return this.inner.listTags(keyId, after, limit);
  }

  override putPrincipal(principal: Principal): Promise<void> {
    return this.write(this.inner.putPrincipal(principal), () => this.principals.delete(principal.arn));
  }
  override getPrincipal(arn: string) {
    return this.principals.get(arn, () => this.inner.getPrincipal(arn));
  }
  override createAccessKey(accessKey: AccessKey): Promise<void> {
    return this.write(this.inner.createAccessKey(accessKey), () => this.accessKeys.delete(accessKey.accessKeyId));
  }
  override getAccessKey(accessKeyId: string) {
    return this.accessKeys.get(accessKeyId, () => this.inner.getAccessKey(accessKeyId));
  }
  override deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.write(this.inner.deleteAccessKey(accessKeyId), () => this.accessKeys.delete(accessKeyId));
  }
  override createClientKey(record: ClientKeyRecord): Promise<void> {
    return this.write(this.inner.createClientKey(record), () => this.clientKeys.delete(record.keyId));
  }
  override getClientKey(keyId: string) {
    return this.clientKeys.get(keyId, () => this.inner.getClientKey(keyId));
  }
  override deleteClientKey(keyId: string): Promise<boolean> {
    return this.write(this.inner.deleteClientKey(keyId), () => this.clientKeys.delete(keyId));
  }

  override putIdentityPolicy(policy: IdentityPolicy): Promise<void> {
    return this.write(this.inner.putIdentityPolicy(policy), () => this.identityPolicies.delete(policy.principalArn));
  }
  override deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    return this.write(this.inner.deleteIdentityPolicy(principalArn, policyName), () =>
      this.identityPolicies.delete(principalArn),
    );
  }
  override listIdentityPolicies(principalArn: string) {
    return this.identityPolicies.get(principalArn, () => this.inner.listIdentityPolicies(principalArn)) as Promise<
      IdentityPolicy[]
    >;
  }

  override createGrant(grant: Grant): Promise<boolean> {
    return this.write(this.inner.createGrant(grant), () => this.grants.deleteWhere(`${grant.keyId}\n`));
  }
  override grantsFor(keyId: string, granteePrincipal: string) {
    return this.grants.get(`${keyId}\n${granteePrincipal}`, () =>
      this.inner.grantsFor(keyId, granteePrincipal),
    ) as Promise<Grant[]>;
  }
  override deleteGrant(grantId: string): Promise<boolean> {
    return this.write(this.inner.deleteGrant(grantId), () => this.grants.clear());
  }
  override replaceWrappedValue(value: WrappedValue, rewrapped: Buffer): Promise<boolean> {
    return this.write(this.inner.replaceWrappedValue(value, rewrapped), () => {
      if (value.table === "access_keys") this.accessKeys.delete(String(value.rowKey[0]));
    });
  }
}
