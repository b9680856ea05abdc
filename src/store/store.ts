import type { KeyState } from "@aws-sdk/client-kms";
import type { KeyMaterialVersion, KmsKey, RotationType, Tag } from "../domain/key.js";
import type { CustomKeyStoreTable } from "./custom-key-stores.js";
import type { ImportedMaterialStore } from "./imported-material-store.js";
import type { WrappedTable, WrappedValue } from "./wrapped-values.js";

export interface Alias {
  readonly accountId: string;
  readonly region: string;
  readonly aliasName: string;
  targetKeyId: string;
  readonly createdAt: Date;
  lastUpdatedAt: Date;
}

export interface Principal {
  readonly arn: string;
  readonly accountId: string;
  /** IAM-style unique id (AIDA...), as CloudTrail and GetCallerIdentity show it. */
  readonly principalId: string;
}

export interface AccessKey {
  readonly accessKeyId: string;
  readonly principalArn: string;
  /** The secret, wrapped under the root of trust with the access key id bound as associated data. */
  readonly wrappedSecret: Buffer;
  readonly createdAt: Date;
}

/** An Alibaba client key: only its public half is kept; the private key lives in the caller's ClientKey file. */
export interface ClientKeyRecord {
  /** "KAAP." + UUID, sent by the SDKs as x-kms-acccesskeyid. */
  readonly keyId: string;
  readonly principalArn: string;
  /** The RSA public key as SPKI DER. */
  readonly publicKey: Buffer;
  readonly createdAt: Date;
}

export type KeyChanges = Partial<
  Pick<
    KmsKey,
    | "description"
    | "keyState"
    | "deletionDate"
    | "pendingDeletionWindowInDays"
    | "policy"
    | "rotationPeriodInDays"
    | "nextRotationDate"
  >
>;

/** A new backing-key version, written only if the key is still at `fromVersion` (and, for automatic rotation, due). */
export interface KeyRotation {
  readonly keyId: string;
  readonly fromVersion: number;
  /** The new version's backing key, wrapped under the root of trust for version `fromVersion + 1`. */
  readonly wrappedMaterial: Buffer;
  readonly rotationType: RotationType;
  readonly rotatedAt: Date;
  /** Automatic rotation only: the key must be Enabled with its rotation due by `rotatedAt`; this becomes the next due date. */
  readonly nextRotationDate?: Date;
}

export interface IdentityPolicy {
  readonly principalArn: string;
  readonly policyName: string;
  readonly document: string;
}

export interface GrantConstraints {
  readonly EncryptionContextEquals?: Readonly<Record<string, string>>;
  readonly EncryptionContextSubset?: Readonly<Record<string, string>>;
}

/** A grant as KMS defines it: a principal may perform these operations on one key. */
export interface Grant {
  readonly grantId: string;
  readonly keyId: string;
  readonly name: string | null;
  readonly granteePrincipal: string;
  readonly retiringPrincipal: string | null;
  readonly issuingAccount: string;
  readonly operations: readonly string[];
  readonly constraints: GrantConstraints | null;
  readonly createdAt: Date;
}

export interface Page<T> {
  readonly items: T[];
  /** The sort key of the last item when more items follow. */
  readonly next: string | null;
}

/** A key's last successful cryptographic use (GetKeyLastUsage). */
export interface KeyUsage {
  readonly keyId: string;
  readonly operation: string;
  readonly timestamp: Date;
  readonly eventId: string;
  readonly requestId: string;
}

/**
 * Everything Trent persists. Implementations (SQLite now, PostgreSQL later) give the same
 * semantics: each method is atomic, listings are ordered by their sort key, and uniqueness
 * (key ids, alias names per account and region) is enforced by the database. A new method
 * needs nothing in the wrappers (measuredStore times it, CachingKeyStore passes it through),
 * unless it writes something CachingKeyStore holds: then it needs an override there that forgets it.
 */
export interface KeyStore {
  /** Imported key material (docs/byok.md), on the same database. */
  readonly importedMaterial: ImportedMaterialStore;
  /** The custom key stores table, on the same database. */
  readonly customKeyStores: CustomKeyStoreTable;

  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;
  /** Sets a value only if absent; returns the value that is stored afterwards. */
  initMeta(name: string, value: string): Promise<string>;

  /** `wrappedMaterial` is null for a key of Origin EXTERNAL, created without material (PendingImport). */
  createKey(key: KmsKey, wrappedMaterial: Buffer | null, tags: readonly Tag[]): Promise<void>;
  getKey(keyId: string): Promise<KmsKey | undefined>;
  /**
   * Writes only the given fields, so concurrent changes to other fields are not lost; with
   * `onlyInStates`, only while the key is in one of them. Returns whether the key was updated.
   */
  updateKey(keyId: string, changes: KeyChanges, onlyInStates?: readonly KeyState[]): Promise<boolean>;
  listKeys(accountId: string, region: string, after: string | null, limit: number): Promise<Page<KmsKey>>;
  /**
   * Removes a key with its material, aliases, tags and grants, if it is still pending deletion and
   * due (a multi-Region primary only once it has no replicas). Deleting a primary's last replica
   * moves a primary in PendingReplicaDeletion to PendingDeletion, its window starting `now`.
   */
  deleteKeyIfDue(keyId: string, now: Date): Promise<boolean>;
  keysDueForDeletion(now: Date): Promise<string[]>;
  getKeyMaterial(keyId: string, version: number): Promise<Buffer | undefined>;
  /** Keeps each key's latest use; uses of keys that no longer exist are dropped. */
  recordKeyUsage(usages: readonly KeyUsage[]): Promise<void>;
  getKeyUsage(keyId: string): Promise<KeyUsage | undefined>;
  /**
   * Adds the next backing-key version and makes it current, in one transaction, unless another
   * rotation (on any node) got there first: returns whether this one was written.
   */
  rotateKey(rotation: KeyRotation): Promise<boolean>;
  /** A key's backing-key versions in ascending order, after version `after`. */
  listKeyMaterial(keyId: string, after: number, limit: number): Promise<Page<KeyMaterialVersion>>;
  countRotations(keyId: string, rotationType: RotationType): Promise<number>;
  /** Enabled keys whose automatic rotation is due at `now`. */
  keysDueForRotation(now: Date, limit: number): Promise<string[]>;

  /**
   * Adds a replica of a multi-Region key (`replica.primaryRegion` names the primary): its own row,
   * with a copy of every material version of the primary and its current version, in one
   * transaction. "exists" when a copy of the key is already in the replica's region;
   * "primary-unavailable" when the primary is gone or no longer Enabled.
   */
  replicateKey(replica: KmsKey, tags: readonly Tag[]): Promise<"created" | "exists" | "primary-unavailable">;
  /** Every regional copy (row) of a multi-Region key, by region. */
  multiRegionKeys(keyId: string): Promise<KmsKey[]>;
  /**
   * Makes the copy in `region` the primary of a multi-Region key, and moves the automatic rotation
   * schedule to it, in one transaction; only while the current primary and that copy are Enabled.
   */
  updatePrimaryRegion(keyId: string, region: string): Promise<boolean>;

  /** Returns false, writing nothing, when the alias name is taken. */
  createAlias(alias: Alias): Promise<boolean>;
  getAlias(accountId: string, region: string, aliasName: string): Promise<Alias | undefined>;
  updateAlias(alias: Alias): Promise<void>;
  deleteAlias(accountId: string, region: string, aliasName: string): Promise<void>;
  listAliases(
    accountId: string,
    region: string,
    targetKeyId: string | null,
    after: string | null,
    limit: number,
  ): Promise<Page<Alias>>;

  /** Adds or overwrites tags unless the key would then have more than `maxTags`: returns false, writing nothing. */
  putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<boolean>;
  removeTags(keyId: string, tagKeys: readonly string[]): Promise<void>;
  listTags(keyId: string, after: string | null, limit: number): Promise<Page<Tag>>;

  putPrincipal(principal: Principal): Promise<void>;
  getPrincipal(arn: string): Promise<Principal | undefined>;
  createAccessKey(accessKey: AccessKey): Promise<void>;
  getAccessKey(accessKeyId: string): Promise<AccessKey | undefined>;
  listAccessKeys(principalArn: string | null): Promise<AccessKey[]>;
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  createClientKey(record: ClientKeyRecord): Promise<void>;
  getClientKey(keyId: string): Promise<ClientKeyRecord | undefined>;
  listClientKeys(principalArn: string | null): Promise<ClientKeyRecord[]>;
  deleteClientKey(keyId: string): Promise<boolean>;

  putIdentityPolicy(policy: IdentityPolicy): Promise<void>;
  deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean>;
  listIdentityPolicies(principalArn: string): Promise<IdentityPolicy[]>;

  /** Returns false, writing nothing, when the key already has a grant of that name. */
  createGrant(grant: Grant): Promise<boolean>;
  getGrant(grantId: string): Promise<Grant | undefined>;
  findGrantByName(keyId: string, name: string): Promise<Grant | undefined>;
  listGrants(keyId: string, after: string | null, limit: number): Promise<Page<Grant>>;
  listRetirableGrants(retiringPrincipal: string, after: string | null, limit: number): Promise<Page<Grant>>;
  /** Grants on a key for one grantee: what the authorizer consults per request. */
  grantsFor(keyId: string, granteePrincipal: string): Promise<Grant[]>;
  deleteGrant(grantId: string): Promise<boolean>;

  /** Every row of a table holding values wrapped under the root of trust, in primary-key order (`trent root migrate`). */
  scanWrappedValues(table: WrappedTable, after: string | null, limit: number): Promise<Page<WrappedValue>>;
  /** Writes a row's value re-wrapped, only while it still holds `value.wrapped`: returns whether it did. */
  replaceWrappedValue(value: WrappedValue, rewrapped: Buffer): Promise<boolean>;

  /**
   * A number that changes when another connection, process or node has committed a change, so
   * caches can drop what they hold at once (best effort; their lifetime bounds what it misses).
   */
  changeMarker?(): number;

  close(): Promise<void>;
}

/**
 * What `trent check` reads besides the KeyStore methods, straight from the database (never
 * through a cache): the engine's own checks, and every key, alias and grant of every account.
 */
export interface IntegrityScan {
  /** The database's own consistency checks (pages, indexes, references); one line per problem. */
  databaseProblems(): Promise<string[]>;
  scanKeys(after: string | null, limit: number): Promise<Page<KmsKey>>;
  /** Aliases of every account and region; the page cursor is opaque. */
  scanAliases(after: string | null, limit: number): Promise<Page<Alias>>;
  scanGrants(after: string | null, limit: number): Promise<Page<Grant>>;
}
