import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { AttestationVerifier, AWS_NITRO_ROOT_G1_PEM, loadTrustRoots } from "../attestation/nitro-attestation.js";
import { AuditFiles } from "../audit/audit-files.js";
import { AUDIT_CORRELATION_PURPOSE, AUDIT_SEAL_PURPOSE } from "../audit/audit-keys.js";
import { AuditLog, type AuditLogOptions, type FsyncPolicy } from "../audit/audit-log.js";
import type { AuditSink } from "../audit/audit-sink.js";
import { AuditTrail } from "../audit/audit-trail.js";
import { KeyUsageTracker } from "../audit/key-usage.js";
import { AccessKeys, type IssuedAccessKey } from "../auth/access-keys.js";
import { ClientKeys, ensureAdminClientKey } from "../auth/client-keys.js";
import { BackingKeys } from "../crypto/backing-keys.js";
import type { DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import { KeyPairPool } from "../crypto/key-pair-pool.js";
import { userArn } from "../domain/principal.js";
import { TokenClusters } from "../hsm/token-clusters.js";
import type { Services } from "../ops/context.js";
import { deleteDueKeys } from "../ops/delete-due-keys.js";
import { expireImportedKeyMaterial } from "../ops/expire-imported-key-material.js";
import { rotateDueKeys } from "../ops/rotate-due-keys.js";
import { PolicyAuthorizer } from "../policy/policy-authorizer.js";
import { DkmsEdge } from "../protocol/alibaba/dkms-edge.js";
import { AwsJsonEdge } from "../protocol/aws/aws-json-edge.js";
import { CloudTrailEdge } from "../protocol/aws/cloudtrail-edge.js";
import type { QuotaSettings } from "../quota/quota-settings.js";
import { requestQuotasFor } from "../quota/request-quotas.js";
import type { RootConfig } from "../root/available-roots.js";
import { RootKeyError } from "../root/key-file-root.js";
import { purposeKey } from "../root/purpose-keys.js";
import { rootCheckMatches } from "../root/root-check.js";
import type { RootOfTrust } from "../root/root-of-trust.js";
import { openStoreRoot, StoreRoot } from "../root/store-root.js";
import { writeFileAtomically } from "../store/atomic-file.js";
import { CachingKeyStore, DEFAULT_CACHE_OPTIONS } from "../store/caching-store.js";
import { measuredStore as measured } from "../store/measured-store.js";
import { PostgresKeyStore } from "../store/postgres/postgres-store.js";
import { SqliteKeyStore } from "../store/sqlite/sqlite-store.js";
import type { KeyStore } from "../store/store.js";
import { storeLocation } from "../store/store-location.js";
import { CONSOLE_PATH, ConsoleSite, DEFAULT_CONSOLE_DIR } from "./console-site.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, ListenerDrain } from "./graceful-stop.js";
import { createHttpServer, DEFAULT_HTTP_OPTIONS, type HttpServerOptions } from "./http-server.js";
import { type MetricsSnapshot, PrometheusMetrics } from "./metrics.js";
import { READY_CHECK_TIMEOUT_MS, Readiness, rootOfTrustRoundTrip } from "./readiness.js";
import { loadTlsMaterial } from "./tls.js";

export interface TrentConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** A postgres:// URL, or undefined for the embedded SQLite store in the data directory. */
  readonly storeUrl: string | undefined;
  /** Used only when the data directory is initialised; later starts keep the stored account. */
  readonly accountId: string | undefined;
  /** The region written into the admin's credentials file. */
  readonly region: string;
  /** A base64 root key from the environment instead of `<data>/root.key`. */
  readonly rootKey: string | undefined;
  /** Which root of trust (a key file, or a PKCS#11 token) and where; default: the key file, `rootKey` if given. */
  readonly root?: RootConfig;
  /** The PKCS#11 module whose tokens back custom key stores (--pkcs11-module); none without it. */
  readonly pkcs11Module?: string | undefined;
  readonly keyPairPoolDepth: Record<DataKeyPairSpec, number>;
  readonly keyPairWorkers: number;
  readonly allowSm2: boolean;
  readonly logLevel: string;
  readonly deletionSweepMs: number;
  /** How often the automatic-rotation scheduler looks for due keys. */
  readonly rotationSweepMs: number;
  /** PEM trust roots for Recipient attestation documents; undefined for the AWS Nitro Enclaves root alone. */
  readonly attestationRootsFile: string | undefined;
  /** How old a Recipient's attestation document may be. */
  readonly attestationMaxAgeMs: number;
  /** Alibaba instance-API requests allowed in flight at once; more are answered 429 Rejected.Throttling. */
  readonly alibabaMaxConcurrency: number;
  /** Limits on the listeners' connections and requests; DEFAULT_HTTP_OPTIONS when absent. */
  readonly http?: HttpServerOptions;
  /** Request-rate quotas (null: none), and the worker processes on this node that share each rate. */
  readonly quotas: { readonly settings: QuotaSettings | null; readonly processes: number };
  /** Where the audit trail goes: a chain file under `auditDir`, standard output, both, or nowhere. */
  readonly auditSinks: readonly AuditSinkKind[];
  /** Defaults to `<data>/audit`. */
  readonly auditDir: string | undefined;
  readonly auditFsync: FsyncPolicy;
  readonly auditSealIntervalMs: number;
  readonly auditMaxFileBytes: number;
  /** Fail a request whose record cannot be written (true), or answer it and log the failure. */
  readonly auditRequired: boolean;
  /** Serve the web console under /console/ (default true; `--no-console` turns it off). */
  readonly console?: boolean;
  /** How long close() lets requests in flight finish before closing their connections; default 10 s. */
  readonly drainTimeoutMs?: number;
  /** An HTTPS listener beside the HTTP one, serving the same edges. */
  readonly tls?: {
    readonly host: string;
    readonly port: number;
    readonly certFile: string | undefined;
    readonly keyFile: string | undefined;
    /** Names the self-issued certificate carries besides localhost and the loopback addresses. */
    readonly hostNames: readonly string[];
  };
}

export interface DataDirectory {
  readonly store: KeyStore;
  readonly root: RootOfTrust;
  readonly accountId: string;
  readonly accessKeys: AccessKeys;
}

const ADMIN_USER = "admin";

/**
 * Opens (or initialises) a data directory: the root key, the store, and a check that the root
 * key is the one the store was written under. Used by `serve` and the admin commands alike.
 */
export async function openDataDirectory(
  dataDir: string,
  rootKey: RootConfig | string | undefined,
  accountId?: string,
  storeUrl?: string,
): Promise<DataDirectory> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const rootConfig: RootConfig = typeof rootKey === "object" ? rootKey : { kind: "file", rootKey };
  const store = await openStore(dataDir, storeUrl);
  try {
    // A new store gets a root (and its root check) of the configured kind; an existing one, the root it is under.
    const root = await openStoreRoot(store, dataDir, rootConfig, { create: true });
    if (!(await rootCheckMatches(root, (await store.getMeta("root_check")) as string))) {
      root.roots.close();
      throw new RootKeyError(`the root key does not match the data in ${dataDir}`);
    }
    const account = await store.initMeta("account_id", accountId ?? randomAccountId());
    return { store, root, accountId: account, accessKeys: new AccessKeys(store, root) };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** SQLite under the data directory by default; PostgreSQL for `postgres://` URLs (several nodes). */
async function openStore(dataDir: string, storeUrl: string | undefined): Promise<KeyStore> {
  const location = storeLocation(dataDir, storeUrl);
  return location.kind === "sqlite" ? new SqliteKeyStore(location.file) : PostgresKeyStore.open(location.url);
}

function randomAccountId(): string {
  return String(randomInt(1, 10)) + Array.from({ length: 11 }, () => randomInt(0, 10)).join("");
}

/** The admin may do everything in KMS, as an IAM administrator may. */
const ADMIN_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Sid: "TrentAdministrator", Effect: "Allow", Action: "kms:*", Resource: "*" }],
});

/** The admin may also read the audit trail (the web console's audit view, `aws cloudtrail lookup-events`). */
const ADMIN_AUDIT_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Sid: "TrentAuditReader", Effect: "Allow", Action: "cloudtrail:LookupEvents", Resource: "*" }],
});

/**
 * Attaches one of the admin's policies once, as the meta entry `attached` records: an operator who
 * later detaches it is not overruled at the next start, and data directories made before the
 * policy existed (the audit reader came with the console) get it at their next start.
 */
async function ensureAdminIdentityPolicy(
  data: DataDirectory,
  policyName: string,
  document: string,
  attached: string,
): Promise<void> {
  const adminArn = userArn(data.accountId, ADMIN_USER);
  if ((await data.store.getMeta(attached)) !== undefined) return;
  if (!(await data.store.getPrincipal(adminArn))) return;
  await data.store.putIdentityPolicy({ principalArn: adminArn, policyName, document });
  await data.store.setMeta(attached, "true");
}

/** Creates the admin principal and its access key on first start; rewrites the credentials file if it is missing. */
async function ensureAdminCredentials(
  data: DataDirectory,
  file: string,
  region: string,
): Promise<IssuedAccessKey | null> {
  const existing = await data.store.getMeta("admin_access_key_id");
  if (existing !== undefined && existsSync(file)) return null;
  let issued: IssuedAccessKey;
  const found = existing === undefined ? undefined : await data.accessKeys.lookup(existing);
  if (found) {
    issued = {
      accessKeyId: existing as string,
      secretAccessKey: found.secret,
      principalArn: found.identity.principalArn,
    };
  } else {
    const admin = await data.accessKeys.ensurePrincipal(data.accountId, "user", ADMIN_USER);
    issued = await data.accessKeys.issue(admin);
    await data.store.setMeta("admin_access_key_id", issued.accessKeyId);
  }
  writeCredentialsFile(file, "trent", issued, region);
  return issued;
}

export function writeCredentialsFile(file: string, profile: string, key: IssuedAccessKey, region: string): void {
  const text = `[${profile}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\nregion = ${region}\n`;
  writeFileAtomically(file, text, { mode: 0o600 });
}

export interface RunningTrent {
  readonly url: string;
  /** The HTTPS listener's URL, when there is one. */
  readonly tlsUrl: string | undefined;
  readonly logger: Logger;
  /**
   * Stops gracefully: no new connections, every request in flight answered, then the store
   * closed. Resolves true, or false when the drain deadline cut requests off.
   */
  close(): Promise<boolean>;
}

/** How a worker process of a multi-process node talks to its siblings (see cluster.ts). */
export interface SiblingLink {
  /** Resolves once every sibling has dropped its caches. */
  dropSiblingCaches(): Promise<void>;
  /** Registers what to do when a sibling wrote. */
  onSiblingWrite(handler: () => void): void;
  /** The metrics of every sibling that answers in time, for a scrape of the whole node. */
  siblingMetrics(): Promise<MetricsSnapshot[]>;
  /** Registers how this worker answers a sibling's scrape. */
  onMetricsWanted(snapshot: () => Promise<MetricsSnapshot>): void;
}

export type AuditSinkKind = "file" | "stdout";

export function createLogger(config: TrentConfig, bindings: Record<string, unknown> = {}): Logger {
  const options = { level: config.logLevel, base: { service: "trent", ...bindings } };
  // Standard output then belongs to the audit trail alone.
  return config.auditSinks.includes("stdout") ? pino(options, pino.destination(2)) : pino(options);
}

/** The audit chain file of this process: one per process, so each chain has a single writer. */
export function auditFilePath(config: Pick<TrentConfig, "dataDir" | "auditDir">): string {
  const slot = process.env.TRENT_WORKER_SLOT;
  const dir = config.auditDir ?? join(config.dataDir, "audit");
  return join(dir, slot === undefined ? "audit.log" : `audit-worker-${slot}.log`);
}

async function openAuditTrail(
  config: TrentConfig,
  root: RootOfTrust,
  store: KeyStore,
  logger: Logger,
  now: () => Date,
): Promise<{ audit: AuditSink; keyUsage: KeyUsageTracker }> {
  const keyUsage = new KeyUsageTracker(store, now);
  await keyUsage.trackingSince();
  const logOptions: AuditLogOptions = {
    sealKey: await purposeKey(store, root, AUDIT_SEAL_PURPOSE),
    fsync: config.auditFsync,
    sealIntervalMs: config.auditSealIntervalMs,
    maxFileBytes: config.auditMaxFileBytes,
    now,
  };
  const logs: AuditLog[] = [];
  if (config.auditSinks.includes("file")) {
    const file = auditFilePath(config);
    const { log, repairedBytes } = AuditLog.openFile(file, logOptions);
    if (repairedBytes > 0) {
      logger.warn({ file, repairedBytes }, "cut an audit record left incomplete by an unclean stop");
    }
    logs.push(log);
  }
  if (config.auditSinks.includes("stdout")) logs.push(AuditLog.toDescriptor(1, logOptions));
  const audit = new AuditTrail({
    logs,
    correlationKey: await purposeKey(store, root, AUDIT_CORRELATION_PURPOSE),
    required: config.auditRequired,
    keyUsage,
    logger,
    now,
  });
  return { audit, keyUsage };
}

/**
 * Initialises the data directory for serving: the admin principal, its access key and policy,
 * and the credentials file. Run once per start, before any request is served.
 */
export async function prepareDataDirectory(config: TrentConfig): Promise<{ accountId: string; created: boolean }> {
  const data = await openDataDirectory(
    config.dataDir,
    config.root ?? config.rootKey,
    config.accountId,
    config.storeUrl,
  );
  try {
    const issued = await ensureAdminCredentials(data, credentialsPath(config), config.region);
    await ensureAdminIdentityPolicy(data, "TrentAdministrator", ADMIN_POLICY, "admin_policy_attached");
    await ensureAdminIdentityPolicy(data, "TrentAuditReader", ADMIN_AUDIT_POLICY, "admin_audit_policy_attached");
    await ensureAdminClientKey(data, config.dataDir);
    // Issued here, once, before any worker process reads it.
    if (config.tls) loadTlsMaterial(config.dataDir, config.tls);
    return { accountId: data.accountId, created: issued !== null };
  } finally {
    await data.store.close();
  }
}

function credentialsPath(config: TrentConfig): string {
  return join(config.dataDir, "credentials");
}

/** Starts serving in this process: alone (`siblings` undefined), or as one worker of a node. */
export async function startTrent(
  config: TrentConfig,
  options: { siblings?: SiblingLink; logger?: Logger } = {},
): Promise<RunningTrent> {
  const logger = options.logger ?? createLogger(config);
  const siblings = options.siblings;
  const prepared = siblings === undefined ? await prepareDataDirectory(config) : undefined;
  const data = await openDataDirectory(
    config.dataDir,
    config.root ?? config.rootKey,
    config.accountId,
    config.storeUrl,
  );

  const now = () => new Date();
  const metrics = new PrometheusMetrics();
  // Under the cache, so that it times only what reaches the database.
  const measuredStore = measured(data.store, metrics);
  const store = new CachingKeyStore(measuredStore, {
    ...DEFAULT_CACHE_OPTIONS,
    ...(siblings ? { afterWrite: () => siblings.dropSiblingCaches() } : {}),
  });
  siblings?.onSiblingWrite(() => store.dropAll());
  const depth = { ...config.keyPairPoolDepth, ...(config.allowSm2 ? {} : { SM2: 0 }) };
  const keyPairs = new KeyPairPool({ depth, workers: config.keyPairWorkers });
  keyPairs.start();
  metrics.trackKeyPairPool(keyPairs);
  metrics.trackCaches(store);
  siblings?.onMetricsWanted(() => metrics.snapshot());
  const { audit, keyUsage } = await openAuditTrail(config, data.root, store, logger, now);
  const services: Services = {
    store,
    root: data.root,
    backingKeys: new BackingKeys(store, data.root),
    authorizer: new PolicyAuthorizer(store, now),
    audit,
    keyUsage,
    quotas: requestQuotasFor(config.quotas.settings, config.quotas.processes),
    metrics,
    keyPairs,
    attestation: new AttestationVerifier({
      roots: loadTrustRoots(
        config.attestationRootsFile === undefined
          ? AWS_NITRO_ROOT_G1_PEM
          : readFileSync(config.attestationRootsFile, "utf8"),
      ),
      maxAgeMs: config.attestationMaxAgeMs,
      now,
    }),
    now,
    allowSm2: config.allowSm2,
    customKeyStores: new TokenClusters(config.pkcs11Module),
  };
  const edge = new AwsJsonEdge(services, new AccessKeys(store, data.root), logger);
  const dkmsEdge = new DkmsEdge(services, new ClientKeys(store), logger, {
    maxConcurrentRequests: config.alibabaMaxConcurrency,
    region: config.region,
  });
  const readiness = new Readiness(
    {
      store: () => measuredStore.getMeta("account_id"),
      rootOfTrust: () => rootOfTrustRoundTrip(data.root instanceof StoreRoot ? data.root.storeRoot() : data.root),
    },
    READY_CHECK_TIMEOUT_MS,
    logger,
  );
  const renderMetrics =
    siblings === undefined
      ? () => metrics.render()
      : async () => PrometheusMetrics.renderNode([await metrics.snapshot(), ...(await siblings.siblingMetrics())]);
  const http = config.http ?? DEFAULT_HTTP_OPTIONS;
  const auditFiles = new AuditFiles(
    config.auditDir ?? join(config.dataDir, "audit"),
    await purposeKey(store, data.root, AUDIT_SEAL_PURPOSE),
  );
  const hooks = {
    ready: () => readiness.check(),
    requests: metrics,
    connections: metrics,
    cloudTrail: new CloudTrailEdge(services, new AccessKeys(store, data.root), auditFiles, logger),
    ...(config.console === false
      ? {}
      : {
          console: new ConsoleSite(process.env.TRENT_CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR, {
            region: config.region,
            features: ["kms", "cloudtrail:LookupEvents", "VerifyAuditTrail", "metrics"],
          }),
        }),
  };
  const server = createHttpServer(edge, logger, http, renderMetrics, undefined, dkmsEdge, hooks);
  const tlsServer = config.tls
    ? createHttpServer(edge, logger, http, renderMetrics, loadTlsMaterial(config.dataDir, config.tls), dkmsEdge, hooks)
    : undefined;
  const drains = [server, tlsServer].flatMap((listener) => (listener ? [new ListenerDrain(listener)] : []));

  const sweep = async () => {
    try {
      const deleted = await deleteDueKeys(services);
      if (deleted > 0) logger.info({ deleted }, "deleted keys whose deletion window passed");
    } catch (error) {
      logger.error({ err: error }, "deleting due keys failed");
    }
    try {
      const expired = await expireImportedKeyMaterial(services);
      if (expired > 0) logger.info({ expired }, "deleted imported key material whose ValidTo passed");
    } catch (error) {
      logger.error({ err: error }, "deleting expired imported key material failed");
    }
  };
  await sweep();
  const sweeper = setInterval(sweep, config.deletionSweepMs);
  sweeper.unref();
  const rotateDue = async () => {
    try {
      const rotated = await rotateDueKeys(services);
      if (rotated > 0) logger.info({ rotated }, "rotated keys whose automatic rotation was due");
    } catch (error) {
      logger.error({ err: error }, "automatic key rotation failed");
    }
  };
  await rotateDue();
  const rotator = setInterval(rotateDue, config.rotationSweepMs);
  rotator.unref();

  const url = await listen(server, "http", config.host, config.port);
  const tlsUrl =
    tlsServer && config.tls ? await listen(tlsServer, "https", config.tls.host, config.tls.port) : undefined;
  if (prepared !== undefined) {
    const consoleUrl = config.console === false ? undefined : `${url}${CONSOLE_PATH}`;
    logger.info(
      { url, tlsUrl, consoleUrl, dataDir: config.dataDir, accountId: prepared.accountId },
      "Trent is listening",
    );
    printUsage(url, credentialsPath(config), prepared.created, httpsUsage(config, tlsUrl), consoleUrl);
  }

  let closing: Promise<boolean> | undefined;
  return {
    url,
    tlsUrl,
    logger,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        clearInterval(rotator);
        const inFlight = drains.reduce((sum, drain) => sum + drain.requestsInFlight, 0);
        const drainTimeoutMs = config.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
        const drained = (await Promise.all(drains.map((drain) => drain.drain(drainTimeoutMs)))).every(Boolean);
        if (drained) logger.info({ inFlight }, "every request in flight was answered");
        else logger.warn({ drainTimeoutMs }, "the drain deadline passed: closed the connections still open");
        await keyPairs.close();
        await services.audit.close();
        await services.customKeyStores?.closeAll();
        await data.store.close();
        return drained;
      })();
      return closing;
    },
  };
}

export function httpsUsage(
  config: TrentConfig,
  tlsUrl: string | undefined,
): { url: string; caFile: string | undefined } | undefined {
  if (tlsUrl === undefined || config.tls === undefined) return undefined;
  return { url: tlsUrl, caFile: config.tls.certFile === undefined ? join(config.dataDir, "ca.pem") : undefined };
}

async function listen(server: Server, scheme: "http" | "https", host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${scheme}://${shown}:${address.port}`;
}

export function printUsage(
  url: string,
  credentialsFile: string,
  created: boolean,
  https?: { readonly url: string; readonly caFile: string | undefined },
  consoleUrl?: string,
): void {
  const lines = [
    ...(consoleUrl === undefined
      ? []
      : ["", `Web console: ${consoleUrl} (sign in with the access key id and secret in the credentials file)`]),
    "",
    created
      ? `Admin credentials written to ${credentialsFile} (profile "trent").`
      : `Admin credentials: ${credentialsFile} (profile "trent").`,
    "Use them with the AWS CLI, boto3 or any AWS SDK:",
    `  export AWS_SHARED_CREDENTIALS_FILE=${credentialsFile} AWS_PROFILE=trent`,
    `  aws kms create-key --endpoint-url ${url}`,
    ...(https === undefined
      ? []
      : [
          `  aws kms list-keys --endpoint-url ${https.url}${https.caFile === undefined ? "" : ` --ca-bundle ${https.caFile}`}`,
        ]),
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
