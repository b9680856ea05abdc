import { createHash, randomBytes } from "node:crypto";
import type { ConnectionErrorCodeType, ConnectionStateType, CustomKeyStoresListEntry } from "@aws-sdk/client-kms";

/**
 * A custom key store of type AWS_CLOUDHSM, as the store holds it (docs/custom-key-stores.md).
 * Its "CloudHSM cluster" is a PKCS#11 token of the module Trent is configured with; the
 * KeyStorePassword is the token's user PIN, kept only wrapped under the root of trust.
 */
export interface CustomKeyStoreRecord {
  /** "cks-" and 17 hex digits, as AWS makes them. */
  readonly customKeyStoreId: string;
  readonly accountId: string;
  readonly region: string;
  readonly name: string;
  readonly cloudHsmClusterId: string;
  readonly trustAnchorCertificate: string;
  /** The token's user PIN, wrapped under the root of trust with `passwordWrapContext(id)` bound. */
  readonly wrappedPassword: Buffer;
  readonly connectionState: ConnectionStateType;
  /** Only while the state is FAILED. */
  readonly connectionErrorCode: ConnectionErrorCodeType | null;
  /**
   * Counts successful connections. Each process keeps its token session for one generation, so
   * a reconnection (after the password or token changed) is seen by every process at its next use.
   */
  readonly connectionGeneration: number;
  readonly createdAt: Date;
}

/** What UpdateCustomKeyStore and the connection operations change. */
type ChangeableField =
  | "name"
  | "cloudHsmClusterId"
  | "wrappedPassword"
  | "connectionState"
  | "connectionErrorCode"
  | "connectionGeneration";
export type CustomKeyStoreChanges = { -readonly [K in ChangeableField]?: CustomKeyStoreRecord[K] };

export function newCustomKeyStoreId(): string {
  return `cks-${randomBytes(9).toString("hex").slice(0, 17)}`;
}

export function passwordWrapContext(customKeyStoreId: string): string {
  return `trent/custom-key-store/${customKeyStoreId}/password`;
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const CLUSTER_ID_CHARACTERS = 11;

/**
 * The CloudHsmClusterId of a PKCS#11 token: "cluster-" and 11 base32 characters of a hash of the
 * token's serial number, which the token keeps while it exists (its label and slot may change).
 * `trent hsm list-clusters` prints it for every token of the module.
 */
export function clusterIdOfToken(serialNumber: string): string {
  const digest = createHash("sha256").update(`trent/pkcs11-token/${serialNumber}`).digest();
  let id = "";
  for (let bit = 0; id.length < CLUSTER_ID_CHARACTERS; bit += 5) {
    const byte = bit >> 3;
    const word = ((digest[byte] as number) << 8) | (digest[byte + 1] as number);
    id += BASE32[(word >> (11 - (bit & 7))) & 31];
  }
  return `cluster-${id}`;
}

/** DescribeCustomKeyStores' entry: never the password. */
export function customKeyStoreEntry(store: CustomKeyStoreRecord): CustomKeyStoresListEntry {
  return {
    CustomKeyStoreId: store.customKeyStoreId,
    CustomKeyStoreName: store.name,
    CustomKeyStoreType: "AWS_CLOUDHSM",
    CloudHsmClusterId: store.cloudHsmClusterId,
    TrustAnchorCertificate: store.trustAnchorCertificate,
    ConnectionState: store.connectionState,
    ...(store.connectionState === "FAILED" && store.connectionErrorCode !== null
      ? { ConnectionErrorCode: store.connectionErrorCode }
      : {}),
    CreationDate: store.createdAt,
  };
}
