import type { CustomKeyStoreTable } from "./custom-key-stores.js";
import type { ImportedMaterialStore } from "./imported-material-store.js";
import type { KeyStore } from "./store.js";

type MethodOf<T> = { [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => unknown ? K : never }[keyof T];

/** The store methods that reach the database, the sub-stores' included, by their own names. */
export type StoreMethod =
  | Exclude<MethodOf<KeyStore>, "changeMarker" | "close">
  | MethodOf<ImportedMaterialStore>
  | MethodOf<CustomKeyStoreTable>;

/** Told of every call to the database store, with how long it took. */
export interface StoreCallObserver {
  storeCall(method: StoreMethod, seconds: number, failed: boolean): void;
}

/** Called as they are, untimed: they do not reach the database. */
const UNTIMED: ReadonlySet<PropertyKey> = new Set<keyof KeyStore>(["changeMarker", "close"]);
/** The parts of a store whose methods are timed as the store's own are. */
const SUB_STORES: ReadonlySet<PropertyKey> = new Set<keyof KeyStore>(["importedMaterial", "customKeyStores"]);

/**
 * Times every call to the store below it (placed under the cache, so it sees only what reaches
 * the database) and tells an observer: every method, of the store and of its sub-stores, reports
 * under its own name, so a new store method is measured without a line here.
 */
export function measuredStore(store: KeyStore, observer: StoreCallObserver): KeyStore {
  return measured(store, observer, SUB_STORES);
}

function measured<T extends object>(target: T, observer: StoreCallObserver, subStores: ReadonlySet<PropertyKey>): T {
  // Each method is wrapped once, when first asked for; the store's methods do not change.
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const known = wrapped.get(property);
      if (known !== undefined) return known;
      const value: unknown = Reflect.get(object, property, object);
      let wrapper: unknown;
      if (subStores.has(property) && typeof value === "object" && value !== null) {
        wrapper = measured(value, observer, new Set());
      } else if (typeof value === "function") {
        wrapper = UNTIMED.has(property)
          ? value.bind(object)
          : timed(property as StoreMethod, value as (...args: unknown[]) => Promise<unknown>, object, observer);
      } else {
        return value;
      }
      wrapped.set(property, wrapper);
      return wrapper;
    },
  });
}

// SQLite calls run synchronously inside the call, so the clock starts before the call is made,
// not when its promise is awaited.
function timed(
  method: StoreMethod,
  call: (...args: unknown[]) => Promise<unknown>,
  target: object,
  observer: StoreCallObserver,
): (...args: unknown[]) => Promise<unknown> {
  return async (...args) => {
    const started = performance.now();
    let failed = true;
    try {
      const result = await call.apply(target, args);
      failed = false;
      return result;
    } finally {
      observer.storeCall(method, (performance.now() - started) / 1000, failed);
    }
  };
}
