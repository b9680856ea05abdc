import type { KeyStore } from "../store/store.js";
import { AvailableRoots, describeRootKind, type RootConfig, type RootKind, rootKindOf } from "./available-roots.js";
import { RootKeyError } from "./key-file-root.js";
import { createRootCheck, rootCheckMatches } from "./root-check.js";
import type { RootOfTrust } from "./root-of-trust.js";

/** The meta value that records a change of root (`trent root migrate`): in progress, then done. */
export const ROOT_MIGRATION_META = "root_migration";

export interface RootMigrationState {
  readonly from: RootKind;
  readonly to: RootKind;
  readonly state: "in progress" | "done";
  /** A root check made under the target root: a process wraps under its target only if that root opens it. */
  readonly targetCheck: string;
}

export async function readRootMigration(store: Pick<KeyStore, "getMeta">): Promise<RootMigrationState | undefined> {
  const value = await store.getMeta(ROOT_MIGRATION_META);
  return value === undefined ? undefined : (JSON.parse(value) as RootMigrationState);
}

/**
 * The root of trust of one store, as Trent uses it. Each wrapped value's first byte names the
 * kind of root that made it, and it is unwrapped by that one, so values of either kind open while
 * `trent root migrate` moves the store from one root to another. New values are wrapped under the
 * store's root, or, once a migration has begun, under its target: that is read from the store at
 * each wrap (key creation, rotation, a new access key; rare next to unwraps), so a Trent started
 * before the migration follows it without a restart.
 */
export class StoreRoot implements RootOfTrust {
  /** Target roots found to be the migration's (their root opens its target check). */
  private readonly verifiedTargets = new WeakSet<RootOfTrust>();

  constructor(
    private readonly store: Pick<KeyStore, "getMeta">,
    readonly roots: AvailableRoots,
    /** The kind of root the store's root check was made under when it was opened. */
    readonly storeKind: RootKind,
  ) {}

  async wrap(plaintext: Buffer, context: string): Promise<Buffer> {
    return (await this.wrappingRoot()).wrap(plaintext, context);
  }

  async unwrap(wrapped: Buffer, context: string): Promise<Buffer> {
    const kind = rootKindOf(wrapped);
    if (kind === undefined) throw new RootKeyError(`wrapped value for ${context} was made by no known root of trust`);
    try {
      return await this.roots.existing(kind).unwrap(wrapped, context);
    } catch (error) {
      // A migration back to the file root writes a new root.key after this process may have loaded the old one.
      if (kind !== "file" || !(error instanceof RootKeyError) || !this.roots.reloadFile()) throw error;
      return this.roots.existing(kind).unwrap(wrapped, context);
    }
  }

  async deriveKey(purpose: string): Promise<Buffer> {
    return (await this.wrappingRoot()).deriveKey(purpose);
  }

  /** The root the store was opened under, reached without the store: what a health probe should test. */
  storeRoot(): RootOfTrust {
    return this.roots.existing(this.storeKind);
  }

  /** The root new values go under: the store's, or the target of the latest migration once one has begun. */
  async wrappingRoot(): Promise<RootOfTrust> {
    const migration = await readRootMigration(this.store);
    if (migration === undefined) return this.roots.existing(this.storeKind);
    let root = this.roots.existing(migration.to);
    if (this.verifiedTargets.has(root)) return root;
    if (!(await rootCheckMatches(root, migration.targetCheck))) {
      if (migration.to === "file" && this.roots.reloadFile()) root = this.roots.existing("file");
      if (!(await rootCheckMatches(root, migration.targetCheck))) {
        throw new RootKeyError(
          `the store was migrated to the ${describeRootKind(migration.to)}, but the one configured here is not that root`,
        );
      }
    }
    this.verifiedTargets.add(root);
    return root;
  }
}

/**
 * The root of trust of a store, as the configuration names it: for a new store (no root check
 * yet, and `create`), a new root of the configured kind and the store's root check; for an
 * existing one, the root its root check was made under, which must be the configured kind
 * unless a migration is in progress, when both roots must open. The root check itself is left
 * for the caller to verify (`trent check` reports a mismatch rather than failing on it).
 */
export async function openStoreRoot(
  store: Pick<KeyStore, "getMeta" | "initMeta"> | undefined,
  dataDir: string,
  config: RootConfig,
  options: { readonly create: boolean; readonly roots?: AvailableRoots },
): Promise<StoreRoot> {
  const roots = options.roots ?? new AvailableRoots(dataDir, config);
  // No store at hand (`trent audit verify` without one): the configured root, as it derives keys.
  if (store === undefined) return new StoreRoot({ getMeta: async () => undefined }, roots, config.kind);
  try {
    let check = await store.getMeta("root_check");
    if (check === undefined) {
      if (!options.create) return new StoreRoot(store, roots, config.kind);
      check = await store.initMeta("root_check", await createRootCheck(roots.create(config.kind).root));
    }
    const storeKind = rootKindOf(Buffer.from(check, "base64"));
    if (storeKind === undefined) throw new RootKeyError(`the root check of the store in ${dataDir} is malformed`);
    const migration = await readRootMigration(store);
    if (migration?.state === "in progress") {
      for (const kind of [migration.from, migration.to]) {
        try {
          roots.existing(kind);
        } catch (error) {
          throw new RootKeyError(
            `a migration from the ${describeRootKind(migration.from)} to the ${describeRootKind(migration.to)} is in progress, so both roots must be configured: ${(error as Error).message}`,
          );
        }
      }
    } else if (storeKind !== config.kind) {
      throw new RootKeyError(
        `the store in ${dataDir} is under the ${describeRootKind(storeKind)}, not the ${describeRootKind(config.kind)}: pass --root ${storeKind}`,
      );
    }
    // Opened now, so that a wrong PIN or a missing token or key fails the start with its own message.
    roots.existing(storeKind);
    return new StoreRoot(store, roots, storeKind);
  } catch (error) {
    roots.close();
    throw error;
  }
}
