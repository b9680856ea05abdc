import { randomBytes } from "node:crypto";
import { type KmsKey, storeKeyId } from "../domain/key.js";
import type { RootOfTrust } from "../root/root-of-trust.js";
import type { KeyStore } from "../store/store.js";

const BACKING_KEY_BYTES = 32;

export function wrapContext(keyId: string, version: number): string {
  return `trent/backing-key/${keyId}/${version}`;
}

/**
 * The 256-bit secret behind each version of a symmetric KMS key. Created from the CSPRNG, stored
 * only wrapped under the root of trust (key id and version bound as associated data), and kept
 * unwrapped in a bounded in-memory cache so the hot path does not reach the store or the root.
 */
export class BackingKeys {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly store: KeyStore,
    private readonly root: RootOfTrust,
    private readonly maxCached = 10_000,
  ) {}

  /**
   * A new backing key for `version` of a key (random, or the given material of an asymmetric or
   * HMAC key, which is zeroed afterwards), wrapped for the store. Not cached: until the store
   * has accepted it (a concurrent rotation elsewhere may win instead), it is not that version.
   */
  async create(keyId: string, version: number, material?: Buffer): Promise<Buffer> {
    const plaintext = material ?? randomBytes(BACKING_KEY_BYTES);
    try {
      return await this.root.wrap(plaintext, wrapContext(keyId, version));
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * The plaintext backing key, or undefined when that key version does not exist. Read from the
   * key's own row (a multi-Region key's regional copy): the wrap binds the key id its copies share.
   */
  async get(key: Pick<KmsKey, "keyId" | "region">, version: number): Promise<Buffer | undefined> {
    const row = storeKeyId(key);
    const cacheKey = `${row}/${version}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const wrapped = await this.store.getKeyMaterial(row, version);
    if (!wrapped) return undefined;
    const plaintext = await this.root.unwrap(wrapped, wrapContext(key.keyId, version));
    this.remember(cacheKey, plaintext);
    return plaintext;
  }

  /**
   * Drops every cached version of a key's row (after deletion; `storeId` as storeKeyId gives it).
   * Buffers are dropped, not zeroed: a request still holding one must never find it turned into an
   * all-zero key.
   */
  forget(storeId: string): void {
    for (const cacheKey of this.cache.keys()) {
      if (cacheKey.startsWith(`${storeId}/`)) this.cache.delete(cacheKey);
    }
  }

  private remember(cacheKey: string, plaintext: Buffer): void {
    if (this.cache.size >= this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(cacheKey, plaintext);
  }
}
