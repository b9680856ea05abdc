import type { ConnectionErrorCodeType } from "@aws-sdk/client-kms";
import { clusterIdOfToken } from "../domain/custom-key-store.js";
import { listTokens, Pkcs11Token, Pkcs11TokenError } from "./pkcs11-token.js";

/** A token of the configured PKCS#11 module, under the CloudHsmClusterId Trent shows for it. */
export interface ClusterToken {
  readonly clusterId: string;
  readonly slot: number;
  readonly label: string;
  readonly serialNumber: string;
}

export type ConnectAttempt =
  | { readonly connected: true }
  | { readonly connected: false; readonly code: ConnectionErrorCodeType; readonly reason: string };

/** Cryptoki's return values, as the ConnectionErrorCode AWS reports for the same trouble with a cluster. */
const CONNECTION_ERRORS: Readonly<Record<string, ConnectionErrorCodeType>> = {
  CKR_PIN_INCORRECT: "INVALID_CREDENTIALS",
  CKR_PIN_INVALID: "INVALID_CREDENTIALS",
  CKR_PIN_LEN_RANGE: "INVALID_CREDENTIALS",
  CKR_PIN_EXPIRED: "INVALID_CREDENTIALS",
  CKR_PIN_LOCKED: "USER_LOCKED_OUT",
  CKR_USER_PIN_NOT_INITIALIZED: "USER_NOT_FOUND",
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: "USER_LOGGED_IN",
  CKR_TOKEN_NOT_PRESENT: "CLUSTER_NOT_FOUND",
  CKR_TOKEN_NOT_RECOGNIZED: "CLUSTER_NOT_FOUND",
  CKR_SLOT_ID_INVALID: "CLUSTER_NOT_FOUND",
  CKR_DEVICE_REMOVED: "CLUSTER_NOT_FOUND",
};

export function connectionErrorOf(error: unknown): ConnectionErrorCodeType {
  const code = error instanceof Pkcs11TokenError ? error.code : undefined;
  return (code !== undefined ? CONNECTION_ERRORS[code] : undefined) ?? "INTERNAL_ERROR";
}

/**
 * The "CloudHSM clusters" of this Trent: the tokens of the one PKCS#11 module it is configured
 * with (`--pkcs11-module`), and this process's logged-in session on each connected custom key
 * store's token. Connection state lives in the store, so every process and node agrees on it;
 * the sessions are per process (Cryptoki sessions cannot be shared), each opened at first use
 * and kept for one connection generation of its store.
 */
export class TokenClusters {
  private readonly sessions = new Map<string, { generation: number; token: Promise<Pkcs11Token> }>();

  constructor(readonly modulePath: string | undefined) {}

  /** Every token the module shows; none without a module. Throws Pkcs11TokenError when the module fails. */
  list(): ClusterToken[] {
    if (this.modulePath === undefined) return [];
    return listTokens(this.modulePath).map((token) => ({ ...token, clusterId: clusterIdOfToken(token.serialNumber) }));
  }

  find(clusterId: string): ClusterToken | undefined {
    return this.list().find((token) => token.clusterId === clusterId);
  }

  /**
   * A fresh login to the store's token with `password`, as ConnectCustomKeyStore makes: this
   * process's old session of the store is closed first, so that the login really tests the
   * password (Cryptoki keeps a token logged in while any session of the process is open).
   */
  async connect(
    customKeyStoreId: string,
    generation: number,
    clusterId: string,
    password: string,
  ): Promise<ConnectAttempt> {
    await this.close(customKeyStoreId);
    let token: Pkcs11Token;
    try {
      token = this.open(clusterId, password);
    } catch (error) {
      return { connected: false, code: connectionErrorOf(error), reason: (error as Error).message };
    }
    // A request of the old generation may have opened a session meanwhile: this one replaces it.
    const opened = this.sessions.get(customKeyStoreId);
    opened?.token.then(
      (session) => session.close(),
      () => undefined,
    );
    this.sessions.set(customKeyStoreId, { generation, token: Promise.resolve(token) });
    return { connected: true };
  }

  /** This process's session on a connected store's token, opened (with the store's password) at first use. */
  session(
    customKeyStoreId: string,
    generation: number,
    clusterId: string,
    password: () => Promise<string>,
  ): Promise<Pkcs11Token> {
    const held = this.sessions.get(customKeyStoreId);
    if (held !== undefined && held.generation === generation) return held.token;
    const token = this.close(customKeyStoreId)
      .then(password)
      .then((pin) => this.open(clusterId, pin));
    this.sessions.set(customKeyStoreId, { generation, token });
    // A failed open is not kept: the next use tries again.
    token.catch(() => {
      if (this.sessions.get(customKeyStoreId)?.token === token) this.sessions.delete(customKeyStoreId);
    });
    return token;
  }

  /** Runs `use` on a session of its own, closed afterwards (UpdateCustomKeyStore's look into another token). */
  withSession<T>(clusterId: string, password: string, use: (token: Pkcs11Token) => T): T {
    const token = this.open(clusterId, password);
    try {
      return use(token);
    } finally {
      token.close();
    }
  }

  /** Closes this process's session of a store (disconnected, deleted, or replaced by a new connection). */
  async close(customKeyStoreId: string): Promise<void> {
    const held = this.sessions.get(customKeyStoreId);
    if (held === undefined) return;
    this.sessions.delete(customKeyStoreId);
    try {
      (await held.token).close();
    } catch {
      // It never opened: nothing to close.
    }
  }

  /** Closes this process's session of a store if it no longer works, so that the next use opens a new one. */
  async dropIfLost(customKeyStoreId: string): Promise<void> {
    const held = this.sessions.get(customKeyStoreId);
    if (held === undefined) return;
    let reachable: boolean;
    try {
      reachable = (await held.token).isReachable();
    } catch {
      reachable = false;
    }
    if (!reachable && this.sessions.get(customKeyStoreId) === held) await this.close(customKeyStoreId);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((customKeyStoreId) => this.close(customKeyStoreId)));
  }

  private open(clusterId: string, password: string): Pkcs11Token {
    if (this.modulePath === undefined) {
      throw new Pkcs11TokenError("Trent has no PKCS#11 module (--pkcs11-module)", "CKR_TOKEN_NOT_PRESENT");
    }
    const found = this.find(clusterId);
    if (found === undefined) {
      throw new Pkcs11TokenError(`no token of ${this.modulePath} is ${clusterId}`, "CKR_TOKEN_NOT_PRESENT");
    }
    return Pkcs11Token.open({ modulePath: this.modulePath, slot: found.slot, pin: password });
  }
}
