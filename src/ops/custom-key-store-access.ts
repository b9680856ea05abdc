import { X509Certificate } from "node:crypto";
import { type CustomKeyStoreRecord, passwordWrapContext } from "../domain/custom-key-store.js";
import {
  CloudHsmClusterNotFoundException,
  CustomKeyStoreInvalidStateException,
  CustomKeyStoreNotFoundException,
  DependencyTimeoutException,
  IncorrectTrustAnchorException,
  KMSInternalException,
  UnsupportedOperationException,
  ValidationException,
} from "../domain/errors.js";
import { isSessionLost, type Pkcs11Token, Pkcs11TokenError } from "../hsm/pkcs11-token.js";
import { type ClusterToken, TokenClusters } from "../hsm/token-clusters.js";
import type { OperationContext, Services } from "./context.js";

/** Without a PKCS#11 module, no token is a cluster and every connection attempt fails. */
const NO_MODULE = new TokenClusters(undefined);

export function tokenClusters(services: Services): TokenClusters {
  return services.customKeyStores ?? NO_MODULE;
}

/** The caller's custom key store with this id; another account's or region's is not found, as in AWS. */
export async function findCustomKeyStore(
  context: OperationContext,
  customKeyStoreId: string,
): Promise<CustomKeyStoreRecord> {
  const store = await context.services.store.customKeyStores.getCustomKeyStore(customKeyStoreId);
  if (store === undefined || store.accountId !== context.caller.accountId || store.region !== context.caller.region) {
    throw new CustomKeyStoreNotFoundException(
      `Custom key store '${customKeyStoreId}' does not exist in this account and Region.`,
    );
  }
  return store;
}

/**
 * The token a CloudHsmClusterId names. Missing: CloudHsmClusterNotFoundException, telling how
 * Trent names its tokens (there is no DescribeClusters to ask).
 */
export function findCluster(services: Services, clusterId: string): ClusterToken {
  const clusters = tokenClusters(services);
  let found: ClusterToken | undefined;
  try {
    found = clusters.find(clusterId);
  } catch (error) {
    throw new KMSInternalException(`The PKCS#11 module cannot list its tokens: ${(error as Error).message}`);
  }
  if (found !== undefined) return found;
  const why =
    clusters.modulePath === undefined
      ? "Trent has no PKCS#11 module configured (trent serve --pkcs11-module)"
      : `no token of the PKCS#11 module ${clusters.modulePath} has this id (trent hsm list-clusters shows each token's id)`;
  throw new CloudHsmClusterNotFoundException(`Cluster '${clusterId}' was not found: ${why}.`);
}

/** AWS requires the cluster's trust anchor; Trent keeps it, and insists only that it is one PEM certificate. */
export function requireTrustAnchor(pem: string | undefined): string {
  if (pem === undefined) {
    throw new ValidationException("TrustAnchorCertificate is required for a custom key store of type AWS_CLOUDHSM.");
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length !== 1) throw new Error("not exactly one PEM certificate");
    new X509Certificate(blocks[0] as string);
  } catch {
    throw new IncorrectTrustAnchorException(
      "The TrustAnchorCertificate is not a PEM-encoded X.509 certificate (the content of customerCA.crt).",
    );
  }
  return pem;
}

/** Only AWS_CLOUDHSM stores: an external key store needs an external key store proxy Trent does not have. */
export function requireCloudHsmType(type: string | undefined): void {
  if (type === undefined || type === "AWS_CLOUDHSM") return;
  throw new UnsupportedOperationException(
    `Trent does not support custom key stores of type ${type}: an external key store needs an external key store proxy (XKS). Use AWS_CLOUDHSM, backed by a PKCS#11 token.`,
  );
}

/** The parameters of external key stores, which an AWS_CLOUDHSM store refuses. */
export function refuseXksParameters(input: object): void {
  const given = Object.entries(input).filter(([name, value]) => name.startsWith("XksProxy") && value !== undefined);
  if (given.length > 0) {
    throw new ValidationException(
      `${given.map(([name]) => name).join(", ")} applies only to custom key stores of type EXTERNAL_KEY_STORE.`,
    );
  }
}

export function wrapPassword(services: Services, customKeyStoreId: string, password: string): Promise<Buffer> {
  return services.root.wrap(Buffer.from(password, "utf8"), passwordWrapContext(customKeyStoreId));
}

export async function unwrapPassword(services: Services, store: CustomKeyStoreRecord): Promise<string> {
  const plaintext = await services.root.unwrap(store.wrappedPassword, passwordWrapContext(store.customKeyStoreId));
  try {
    return plaintext.toString("utf8");
  } finally {
    plaintext.fill(0);
  }
}

/**
 * This process's session on a connected store's token. CustomKeyStoreInvalidStateException when
 * the store is not CONNECTED (the key operations turn that into their own answer).
 */
export async function tokenOfStore(services: Services, store: CustomKeyStoreRecord): Promise<Pkcs11Token> {
  if (store.connectionState !== "CONNECTED") {
    throw new CustomKeyStoreInvalidStateException(
      `Custom key store '${store.customKeyStoreId}' is ${store.connectionState}; it must be CONNECTED.`,
    );
  }
  return tokenClusters(services).session(
    store.customKeyStoreId,
    store.connectionGeneration,
    store.cloudHsmClusterId,
    () => unwrapPassword(services, store),
  );
}

export function invalidState(store: CustomKeyStoreRecord, operation: string, wanted: string): never {
  throw new CustomKeyStoreInvalidStateException(
    `${operation} is not valid for custom key store '${store.customKeyStoreId}' while its ConnectionState is ${store.connectionState}; it must be ${wanted}.`,
  );
}

/** GenerateRandom with a CustomKeyStoreId: bytes from the token's generator; the store must be CONNECTED. */
export async function randomFromCustomKeyStore(
  context: OperationContext,
  customKeyStoreId: string,
  length: number,
): Promise<Buffer> {
  const store = await findCustomKeyStore(context, customKeyStoreId);
  if (store.connectionState !== "CONNECTED") invalidState(store, "GenerateRandom", "CONNECTED");
  const clusters = tokenClusters(context.services);
  for (let attempt = 1; ; attempt++) {
    try {
      return (await tokenOfStore(context.services, store)).random(length);
    } catch (error) {
      // A lost session (the token removed and put back) is replaced once; else the token is away for now.
      if (attempt === 1 && isSessionLost(error)) {
        await clusters.dropIfLost(customKeyStoreId);
        continue;
      }
      if (!(error instanceof Pkcs11TokenError)) throw error;
      throw new DependencyTimeoutException(
        `The token of custom key store '${customKeyStoreId}' cannot generate random bytes now; retry the request. (${(error as Error).message})`,
      );
    }
  }
}
