import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomically } from "../store/atomic-file.js";
import type { RootOfTrust } from "./root-of-trust.js";

/** The first byte of every value this root wraps (the PKCS#11 root's is another), so each says which kind of root made it. */
export const KEY_FILE_ROOT_FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class RootKeyError extends Error {}

/**
 * A 256-bit root key held in memory, loaded from a 0600 file (created on first start) or from
 * the environment. Wrapping is AES-256-GCM under a wrapping key derived from the root, with a
 * random nonce: the root wraps one value per key version or access key, far below GCM's limits.
 */
export class KeyFileRoot implements RootOfTrust {
  private readonly wrappingKey: Buffer;

  private constructor(private readonly rootKey: Buffer) {
    this.wrappingKey = this.derive("trent/root/wrap");
  }

  static fromBase64(value: string): KeyFileRoot {
    const key = Buffer.from(value, "base64");
    if (key.length !== 32) throw new RootKeyError("the root key must be 32 bytes, base64-encoded");
    return new KeyFileRoot(key);
  }

  /**
   * The root key of an existing data directory: `rootKey` (base64) when given, else its
   * `root.key`. Never a new one: an admin command must not invent a key that opens nothing.
   */
  static openExisting(dataDir: string, rootKey: string | undefined): KeyFileRoot {
    if (rootKey !== undefined) return KeyFileRoot.fromBase64(rootKey);
    const file = join(dataDir, "root.key");
    if (!existsSync(file)) {
      throw new RootKeyError(`there is no root key: ${file} does not exist (pass --root-key or TRENT_ROOT_KEY)`);
    }
    return KeyFileRoot.openOrCreate(file).root;
  }

  /** Loads the root key from `file`, creating it (mode 0600) when it does not exist. */
  static openOrCreate(file: string): { root: KeyFileRoot; created: boolean } {
    if (existsSync(file)) {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077)
        throw new RootKeyError(`${file} must not be readable by group or others (mode is ${mode.toString(8)})`);
      return { root: KeyFileRoot.fromBase64(readFileSync(file, "utf8").trim()), created: false };
    }
    const key = randomBytes(32);
    // Never half-written: a root key the store was wrapped under must not be lost to a crash.
    writeFileAtomically(file, `${key.toString("base64")}\n`, { mode: 0o600, exclusive: true });
    return { root: new KeyFileRoot(key), created: true };
  }

  private derive(purpose: string): Buffer {
    return Buffer.from(hkdfSync("sha256", this.rootKey, Buffer.alloc(0), purpose, 32));
  }

  async wrap(plaintext: Buffer, context: string): Promise<Buffer> {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.wrappingKey, nonce);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(KEY_FILE_ROOT_FORMAT), nonce, body, cipher.getAuthTag()]);
  }

  async unwrap(wrapped: Buffer, context: string): Promise<Buffer> {
    if (wrapped.length < 1 + NONCE_BYTES + TAG_BYTES || wrapped[0] !== KEY_FILE_ROOT_FORMAT) {
      throw new RootKeyError("wrapped value is malformed");
    }
    const nonce = wrapped.subarray(1, 1 + NONCE_BYTES);
    const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.wrappingKey, nonce);
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([
        decipher.update(wrapped.subarray(1 + NONCE_BYTES, wrapped.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new RootKeyError(`wrapped value for ${context} does not open under this root key`);
    }
  }

  async deriveKey(purpose: string): Promise<Buffer> {
    return this.derive(`trent/purpose/${purpose}`);
  }
}
