import { DependencyTimeoutException } from "../domain/errors.js";
import {
  isSessionLost,
  Pkcs11Token,
  type Pkcs11TokenConfig,
  Pkcs11TokenError,
  type TokenKey,
} from "../hsm/pkcs11-token.js";
import { RootKeyError } from "./key-file-root.js";
import type { RootOfTrust } from "./root-of-trust.js";

/** The first byte of every value this root wraps: KeyFileRoot's is 1, so each value says which kind of root made it. */
export const PKCS11_ROOT_FORMAT = 2;
export const DEFAULT_PKCS11_ROOT_KEY_LABEL = "trent-root";
/** iv ‖ tag around an empty plaintext: the shortest thing the token can have sealed. */
const MIN_SEALED_BYTES = 12 + 16;

/** Where the PKCS#11 root is: a token, how to log in, and the label of its root key. */
export interface Pkcs11RootConfig extends Pkcs11TokenConfig {
  /** The AES root key's label; the HMAC key that derives purpose keys is labelled `<keyLabel>-derive`. */
  readonly keyLabel: string;
}

interface TokenKeys {
  readonly token: Pkcs11Token;
  readonly wrappingKey: TokenKey;
  readonly derivingKey: TokenKey;
}

/**
 * A root of trust whose root key never leaves a PKCS#11 token: an AES-256 key generated inside
 * it (sensitive, non-extractable) wraps and unwraps with AES-GCM in the token, the context bound
 * as associated data; a 256-bit HMAC key beside it derives purpose keys. The token's keys are
 * made only for a new store or a migration (`create`); an existing store whose keys the token
 * lacks is an error, never a silent new key that would open nothing.
 */
export class Pkcs11Root implements RootOfTrust {
  private keys: TokenKeys;

  private constructor(
    private readonly config: Pkcs11RootConfig,
    keys: TokenKeys,
  ) {
    this.keys = keys;
  }

  static open(config: Pkcs11RootConfig, options: { create: boolean }): { root: Pkcs11Root; created: boolean } {
    const { keys, created } = openKeys(config, options.create);
    return { root: new Pkcs11Root(config, keys), created };
  }

  /** The token holding the root key, for tests and the operator's checks (is the key extractable?). */
  get token(): Pkcs11Token {
    return this.keys.token;
  }

  get rootKey(): TokenKey {
    return this.keys.wrappingKey;
  }

  async wrap(plaintext: Buffer, context: string): Promise<Buffer> {
    const sealed = this.inToken((keys) => keys.token.encryptGcm(keys.wrappingKey, plaintext, Buffer.from(context)));
    return Buffer.concat([Buffer.of(PKCS11_ROOT_FORMAT), sealed]);
  }

  async unwrap(wrapped: Buffer, context: string): Promise<Buffer> {
    if (wrapped.length < 1 + MIN_SEALED_BYTES || wrapped[0] !== PKCS11_ROOT_FORMAT) {
      throw new RootKeyError("wrapped value is malformed");
    }
    try {
      return this.inToken((keys) =>
        keys.token.decryptGcm(keys.wrappingKey, wrapped.subarray(1), Buffer.from(context, "utf8")),
      );
    } catch (error) {
      if (error instanceof DependencyTimeoutException) throw error;
      throw new RootKeyError(`wrapped value for ${context} does not open under the PKCS#11 root key`);
    }
  }

  async deriveKey(purpose: string): Promise<Buffer> {
    return this.inToken((keys) => keys.token.hmacSha256(keys.derivingKey, Buffer.from(`trent/purpose/${purpose}`)));
  }

  /** Whether the token still answers (a session on it works). */
  isReachable(): boolean {
    return this.keys.token.isReachable();
  }

  close(): void {
    this.keys.token.close();
  }

  /**
   * Runs one operation in the token; when its session is gone (an HSM restarted, a token put back),
   * logs in again once and retries, so the root recovers without a restart of Trent.
   */
  private inToken<T>(operation: (keys: TokenKeys) => T): T {
    try {
      return operation(this.keys);
    } catch (error) {
      if (!isSessionLost(error)) throw error;
    }
    try {
      this.keys.token.close();
      this.keys = openKeys(this.config, false).keys;
    } catch (error) {
      if (!(error instanceof Pkcs11TokenError)) throw error;
      throw tokenAway(error);
    }
    try {
      return operation(this.keys);
    } catch (error) {
      if (!isSessionLost(error)) throw error;
      throw tokenAway(error);
    }
  }
}

/** The token is away (removed, its HSM restarting): a request may be retried, as after a dependency's timeout. */
function tokenAway(error: Pkcs11TokenError): DependencyTimeoutException {
  return new DependencyTimeoutException(
    `The PKCS#11 token of the root of trust cannot be used now (${error.code ?? "no session"}); retry the request.`,
  );
}

function openKeys(config: Pkcs11RootConfig, create: boolean): { keys: TokenKeys; created: boolean } {
  const token = Pkcs11Token.open(config);
  try {
    const derivingLabel = `${config.keyLabel}-derive`;
    let wrappingKey = token.findKey(config.keyLabel);
    let derivingKey = token.findKey(derivingLabel);
    let created = false;
    if (wrappingKey === undefined || derivingKey === undefined) {
      if (!create) {
        const missing = wrappingKey === undefined ? config.keyLabel : derivingLabel;
        throw new RootKeyError(
          `the PKCS#11 token "${token.label}" holds no key labelled "${missing}": it is not the root this store was written under (check --pkcs11-token-label/--pkcs11-slot and --pkcs11-root-key-label)`,
        );
      }
      wrappingKey ??= token.generateAesKey(config.keyLabel);
      derivingKey ??= token.generateHmacKey(derivingLabel);
      created = true;
    }
    return { keys: { token, wrappingKey, derivingKey }, created };
  } catch (error) {
    token.close();
    throw error;
  }
}
