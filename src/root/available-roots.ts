import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KEY_FILE_ROOT_FORMAT, KeyFileRoot, RootKeyError } from "./key-file-root.js";
import { PKCS11_ROOT_FORMAT, Pkcs11Root, type Pkcs11RootConfig } from "./pkcs11-root.js";
import type { RootOfTrust } from "./root-of-trust.js";

/** The kinds of root of trust: a key file in the data directory, or a key inside a PKCS#11 token. */
export type RootKind = "file" | "pkcs11";

export const ROOT_KINDS: readonly RootKind[] = ["file", "pkcs11"];

/** Which root of trust a Trent (or an admin command) is configured with, and where each kind is. */
export interface RootConfig {
  /** The root a new store is created under; an existing store must be under it (unless migrating). */
  readonly kind: RootKind;
  /** A base64 root key instead of `<data>/root.key` (the file root). */
  readonly rootKey?: string | undefined;
  /** The PKCS#11 root: needed for kind pkcs11, and to serve through a migration from or to it. */
  readonly pkcs11?: Pkcs11RootConfig | undefined;
}

/** The kind of root a wrapped value (or a root check) was made by, from its format byte. */
export function rootKindOf(wrapped: Buffer): RootKind | undefined {
  if (wrapped[0] === KEY_FILE_ROOT_FORMAT) return "file";
  if (wrapped[0] === PKCS11_ROOT_FORMAT) return "pkcs11";
  return undefined;
}

export function describeRootKind(kind: RootKind): string {
  return kind === "file" ? "key-file root (root.key)" : "PKCS#11 root";
}

/**
 * The roots of trust one configuration can reach, each opened on first use: the data
 * directory's root.key (or --root-key), and the PKCS#11 token. A store mid-migration needs both.
 */
export class AvailableRoots {
  private file: { root: KeyFileRoot; text: string | undefined } | undefined;
  private pkcs11: Pkcs11Root | undefined;

  constructor(
    private readonly dataDir: string,
    readonly config: RootConfig,
  ) {}

  get rootKeyFile(): string {
    return join(this.dataDir, "root.key");
  }

  /** The root of this kind as it exists; never a new key. */
  existing(kind: RootKind): RootOfTrust {
    return kind === "file" ? this.fileRoot(false).root : this.pkcs11Root(false).root;
  }

  /** The root of this kind, made when it does not exist yet (a new store, or the target of a migration). */
  create(kind: RootKind): { root: RootOfTrust; created: boolean } {
    return kind === "file" ? this.fileRoot(true) : this.pkcs11Root(true);
  }

  /**
   * Reads root.key again: a migration back to the file root may have written a new one since it
   * was loaded. Returns whether the key changed.
   */
  reloadFile(): boolean {
    if (this.config.rootKey !== undefined || this.file === undefined || !existsSync(this.rootKeyFile)) return false;
    if (readFileSync(this.rootKeyFile, "utf8") === this.file.text) return false;
    this.file = undefined;
    this.fileRoot(false);
    return true;
  }

  close(): void {
    this.pkcs11?.close();
    this.pkcs11 = undefined;
  }

  private fileRoot(create: boolean): { root: KeyFileRoot; created: boolean } {
    if (this.file !== undefined) return { root: this.file.root, created: false };
    if (this.config.rootKey !== undefined) {
      this.file = { root: KeyFileRoot.fromBase64(this.config.rootKey), text: undefined };
      return { root: this.file.root, created: false };
    }
    const opened = create
      ? KeyFileRoot.openOrCreate(this.rootKeyFile)
      : { root: KeyFileRoot.openExisting(this.dataDir, undefined), created: false };
    this.file = { root: opened.root, text: readFileSync(this.rootKeyFile, "utf8") };
    return opened;
  }

  private pkcs11Root(create: boolean): { root: Pkcs11Root; created: boolean } {
    if (this.pkcs11 !== undefined) return { root: this.pkcs11, created: false };
    const config = this.config.pkcs11;
    if (config === undefined) {
      throw new RootKeyError(
        "the PKCS#11 root is needed but not configured: give --pkcs11-module, --pkcs11-token-label (or --pkcs11-slot) and the PIN (--pkcs11-pin-file or TRENT_PKCS11_PIN)",
      );
    }
    const opened = Pkcs11Root.open(config, { create });
    this.pkcs11 = opened.root;
    return opened;
  }
}
