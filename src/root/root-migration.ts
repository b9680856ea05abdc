import { setTimeout as sleep } from "node:timers/promises";
import { secretContext } from "../auth/access-keys.js";
import { wrapContext as backingKeyContext } from "../crypto/backing-keys.js";
import { passwordWrapContext } from "../domain/custom-key-store.js";
import { keyIdOfStoreRow } from "../domain/key.js";
import type { KeyStore } from "../store/store.js";
import { WRAPPED_TABLES, type WrappedTable, type WrappedValue } from "../store/wrapped-values.js";
import { type AvailableRoots, describeRootKind, type RootKind, rootKindOf } from "./available-roots.js";
import { RootKeyError } from "./key-file-root.js";
import { purposeKey, purposeKeyContext, purposeKeyMetaName } from "./purpose-keys.js";
import { createRootCheck, rootCheckMatches } from "./root-check.js";
import type { RootOfTrust } from "./root-of-trust.js";
import { ROOT_MIGRATION_META, type RootMigrationState, readRootMigration } from "./store-root.js";

const PAGE_SIZE = 200;
/** A pass that re-wraps something is followed by another, until one finds nothing left; this many at most. */
const MAX_PASSES = 10;

export interface RootMigrationOptions {
  /** The purpose keys (see purpose-keys.ts) to keep across the change of root. */
  readonly purposes: readonly string[];
  /** Called once the migration is recorded as in progress, before the first value is re-wrapped. */
  readonly onStarted?: () => void;
  /** A pause after each value re-wrapped, to spare a busy token or database. */
  readonly pauseMs?: number;
}

export interface RootMigrationResult {
  readonly from: RootKind;
  readonly to: RootKind;
  /** A migration already in progress was taken up again. */
  readonly resumed: boolean;
  /** The store is under the target root (and was, or is now, no longer migrating). */
  readonly finished: boolean;
  readonly rewrapped: Record<WrappedTable | "purpose keys", number>;
  /** Values made by no root of trust (first byte neither root's format), left as they are. */
  readonly notRootWrapped: number;
  /** Values of the source root that did not open under it: the migration stays in progress while there are any. */
  readonly failures: readonly string[];
}

/**
 * The contexts a stored value may be wrapped with. A key_material row is read by its store row id
 * (regional for a multi-Region key's copy) but bound to the key id its copies share.
 */
function contextsOf(value: WrappedValue): string[] {
  switch (value.table) {
    case "key_material": {
      const [row, version] = value.rowKey as [string, number];
      return [...new Set([backingKeyContext(keyIdOfStoreRow(row), version), backingKeyContext(row, version)])];
    }
    case "access_keys":
      return [secretContext(String(value.rowKey[0]))];
    case "custom_key_stores":
      return [passwordWrapContext(String(value.rowKey[0]))];
  }
}

/**
 * Moves a store from the root of trust it is under to another (`trent root migrate`), online and
 * resumably. A meta value records the migration first; from then on every Trent wraps new values
 * under the target and unwraps either kind (see StoreRoot). Then each wrapped value — every
 * key_material row, access-key secret and purpose key — is re-wrapped under the target in its own
 * small write, only if it still holds what was read; a killed run leaves each row of one kind
 * or the other, and a new run takes up where it left off. Passes repeat until one finds nothing
 * of the old kind (a request that read the state just before the migration began may write an
 * old-kind value behind the first pass). Last, the root check is made under the target.
 */
export async function migrateRoot(
  store: KeyStore,
  roots: AvailableRoots,
  to: RootKind,
  options: RootMigrationOptions,
): Promise<RootMigrationResult> {
  const check = await store.getMeta("root_check");
  if (check === undefined) throw new RootKeyError("the store has no root check: it was never opened by trent serve");
  const current = await readRootMigration(store);
  const inProgress = current?.state === "in progress" ? current : undefined;
  if (inProgress !== undefined && inProgress.to !== to) {
    throw new RootKeyError(
      `a migration to the ${describeRootKind(inProgress.to)} is in progress: finish it first (trent root migrate --to ${inProgress.to})`,
    );
  }
  const from = inProgress?.from ?? rootKindOf(Buffer.from(check, "base64"));
  if (from === undefined) throw new RootKeyError("the store's root check is malformed");
  const result = {
    from,
    to,
    resumed: inProgress !== undefined,
    finished: false,
    rewrapped: { key_material: 0, access_keys: 0, custom_key_stores: 0, "purpose keys": 0 } as Record<
      WrappedTable | "purpose keys",
      number
    >,
    notRootWrapped: 0,
    failures: [] as string[],
  };
  if (from === to) return { ...result, finished: true };

  const source = roots.existing(from);
  const target = roots.create(to).root;
  if (inProgress === undefined) {
    if (!(await rootCheckMatches(source, check))) {
      throw new RootKeyError(`the ${describeRootKind(from)} configured here is not the one the store is under`);
    }
    // Made under the source root before anything is wrapped under the target, so they stay today's keys.
    for (const purpose of options.purposes) await purposeKey(store, source, purpose);
    const state: RootMigrationState = { from, to, state: "in progress", targetCheck: await createRootCheck(target) };
    await store.setMeta(ROOT_MIGRATION_META, JSON.stringify(state));
  } else if (!(await rootCheckMatches(target, inProgress.targetCheck))) {
    throw new RootKeyError(
      `the ${describeRootKind(to)} configured here is not the one this migration began to wrap under`,
    );
  }

  options.onStarted?.();
  const failed = new Set<string>();
  const rewrap = async (plaintext: Buffer, context: string) => {
    try {
      return await target.wrap(plaintext, context);
    } finally {
      plaintext.fill(0);
    }
  };
  let settled = false;
  for (let pass = 1; pass <= MAX_PASSES && !settled; pass++) {
    let changed = 0;
    let missed = 0;
    for (const table of WRAPPED_TABLES) {
      let after: string | null = null;
      do {
        const page = await store.scanWrappedValues(table, after, PAGE_SIZE);
        for (const value of page.items) {
          const kind = rootKindOf(value.wrapped);
          if (kind === to) continue;
          if (kind !== from) {
            if (pass === 1) result.notRootWrapped++;
            continue;
          }
          const opened = await openUnder(source, value);
          const where = `${table} row ${JSON.stringify(value.rowKey)}`;
          if (opened === undefined) {
            if (!failed.has(where)) {
              failed.add(where);
              result.failures.push(`${where} does not open under the ${describeRootKind(from)}`);
            }
            continue;
          }
          if (await store.replaceWrappedValue(value, await rewrap(opened.plaintext, opened.context))) {
            result.rewrapped[table]++;
            changed++;
            if (options.pauseMs) await sleep(options.pauseMs);
          } else {
            // Changed or deleted meanwhile: the next pass sees what it holds now.
            missed++;
          }
        }
        after = page.next;
      } while (after !== null);
    }
    for (const purpose of options.purposes) {
      const name = purposeKeyMetaName(purpose);
      const stored = await store.getMeta(name);
      if (stored === undefined || rootKindOf(Buffer.from(stored, "base64")) !== from) continue;
      const plaintext = await source.unwrap(Buffer.from(stored, "base64"), purposeKeyContext(purpose));
      await store.setMeta(name, (await rewrap(plaintext, purposeKeyContext(purpose))).toString("base64"));
      result.rewrapped["purpose keys"]++;
      changed++;
    }
    settled = changed === 0 && missed === 0;
  }
  // The root check moves last, and only once a whole pass found nothing of the old kind: a store
  // whose check names the target holds nothing the source root alone could open.
  if (result.failures.length > 0) return result;
  if (!settled) {
    return {
      ...result,
      failures: [`values were still being written under the ${describeRootKind(from)} after ${MAX_PASSES} passes`],
    };
  }

  await store.setMeta("root_check", await createRootCheck(target));
  const state = (await readRootMigration(store)) as RootMigrationState;
  await store.setMeta(ROOT_MIGRATION_META, JSON.stringify({ ...state, state: "done" }));
  return { ...result, finished: true };
}

async function openUnder(
  root: RootOfTrust,
  value: WrappedValue,
): Promise<{ plaintext: Buffer; context: string } | undefined> {
  for (const context of contextsOf(value)) {
    try {
      return { plaintext: await root.unwrap(value.wrapped, context), context };
    } catch (error) {
      if (!(error instanceof RootKeyError)) throw error;
    }
  }
  return undefined;
}
