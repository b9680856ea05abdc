import type { KeyStore } from "./store.js";

const innerOf = new WeakMap<object, KeyStore>();

/** Object.prototype's members stay the wrapper's own; everything else is asked of the inner store. */
const forwarding = new Proxy(
  {},
  {
    get(target, property, receiver) {
      if (property in target) return Reflect.get(target, property, receiver);
      const inner = innerOf.get(receiver);
      if (inner === undefined) return undefined;
      const value: unknown = (inner as unknown as Record<PropertyKey, unknown>)[property];
      return typeof value === "function" ? value.bind(inner) : value;
    },
  },
);

function ForwardingStore(this: object, inner: KeyStore): void {
  innerOf.set(this, inner);
}
ForwardingStore.prototype = forwarding;

/**
 * The base of a KeyStore wrapper that changes some of its methods: every member the subclass
 * does not define is the inner store's, called on it unchanged, so a new KeyStore method needs no
 * line in the wrapper. Only those members are looked up through a Proxy (at the end of the
 * prototype chain); the subclass's own methods come before it and are reached directly.
 */
export const ForwardingKeyStore = ForwardingStore as unknown as abstract new (inner: KeyStore) => KeyStore;
