import cluster, { type Worker } from "node:cluster";
import { CONSOLE_PATH } from "./console-site.js";
import { DEFAULT_DRAIN_TIMEOUT_MS } from "./graceful-stop.js";
import type { MetricsSnapshot } from "./metrics.js";
import {
  createLogger,
  httpsUsage,
  prepareDataDirectory,
  printUsage,
  type RunningTrent,
  type SiblingLink,
  startTrent,
  type TrentConfig,
} from "./trent.js";

/** Messages between the primary and its workers, over the cluster's IPC channel. */
type ClusterMessage =
  | { readonly type: "hello" }
  | { readonly type: "welcome" }
  | { readonly type: "listening"; readonly url: string; readonly tlsUrl?: string | undefined }
  | { readonly type: "wrote"; readonly id: string }
  | { readonly type: "drop-caches"; readonly id: string }
  | { readonly type: "dropped"; readonly id: string }
  | { readonly type: "synced"; readonly id: string }
  | { readonly type: "metrics-wanted"; readonly id: string }
  | { readonly type: "metrics-report"; readonly id: string }
  | { readonly type: "metrics-reported"; readonly id: string; readonly metrics: MetricsSnapshot }
  | { readonly type: "metrics-gathered"; readonly id: string; readonly reports: MetricsSnapshot[] };

function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === "object" && message !== null && typeof (message as { type?: unknown }).type === "string";
}

/**
 * One node on several cores: the primary initialises the data directory, then forks `workers`
 * processes that share the listening socket (Node's cluster hands out connections in turn).
 * Each worker has its own caches; a write in one is acknowledged to its client only after every
 * sibling has dropped its caches, so a disabled key or a changed policy is in force on the whole
 * node at once, as it is in a single process. The primary restarts a worker that dies.
 */
export async function startCluster(config: TrentConfig, workers: number): Promise<void> {
  const logger = createLogger(config, { role: "primary" });
  const prepared = await prepareDataDirectory(config);
  let stopping = false;
  let listeningUrl: string | null = null;
  const listening = new Set<number>();
  /**
   * Workers told of every write from now on. A worker opens its store only after it is in this
   * set (hello, welcome): a write the primary handled before it joined was committed before the
   * worker could read anything.
   */
  const joined = new Set<number>();
  /** Writes waiting for siblings: id → the writing worker and the siblings yet to drop their caches. */
  const pending = new Map<string, { origin: Worker; waiting: Set<number>; deadline: NodeJS.Timeout }>();

  const settle = (id: string) => {
    const entry = pending.get(id);
    if (entry === undefined || entry.waiting.size > 0) return;
    pending.delete(id);
    clearTimeout(entry.deadline);
    if (entry.origin.isConnected()) entry.origin.send({ type: "synced", id } satisfies ClusterMessage);
  };

  // Each worker writes its own audit chain; a replacement takes over the slot of the one it replaces.
  const slots = new Map<number, number>();
  /** Scrapes waiting for siblings: id → the scraped worker, the siblings yet to report, and the reports. */
  const gathering = new Map<
    string,
    { origin: Worker; waiting: Set<number>; reports: MetricsSnapshot[]; deadline: NodeJS.Timeout }
  >();
  // A scrape reports the workers that answered in time (trent_metrics_processes counts them).
  const gathered = (id: string, force = false) => {
    const entry = gathering.get(id);
    if (entry === undefined || (entry.waiting.size > 0 && !force)) return;
    gathering.delete(id);
    clearTimeout(entry.deadline);
    if (entry.origin.isConnected()) {
      entry.origin.send({ type: "metrics-gathered", id, reports: entry.reports } satisfies ClusterMessage);
    }
  };

  const fork = (slot: number) => {
    const worker = cluster.fork({ TRENT_CLUSTER_WORKER: "1", TRENT_WORKER_SLOT: String(slot) });
    slots.set(worker.id, slot);
  };

  cluster.on("message", (worker, message: unknown) => {
    if (!isClusterMessage(message)) return;
    if (message.type === "hello") {
      joined.add(worker.id);
      worker.send({ type: "welcome" } satisfies ClusterMessage);
    } else if (message.type === "wrote") {
      const siblings = Object.values(cluster.workers ?? {}).filter(
        (other): other is Worker => other !== undefined && other.id !== worker.id && joined.has(other.id),
      );
      // A sibling that is alive but cannot answer (a blocked event loop) must not hold writes
      // forever: it is stopped, and its exit settles the write; the primary starts another.
      const deadline = setTimeout(() => {
        const stuck = pending.get(message.id)?.waiting ?? new Set<number>();
        for (const id of stuck) {
          logger.error({ worker: id }, "a worker did not drop its caches in time; stopping it");
          cluster.workers?.[id]?.process.kill("SIGKILL");
        }
      }, SIBLING_DROP_TIMEOUT_MS);
      deadline.unref();
      pending.set(message.id, {
        origin: worker,
        waiting: new Set(siblings.map((sibling) => sibling.id)),
        deadline,
      });
      for (const sibling of siblings) sibling.send({ type: "drop-caches", id: message.id } satisfies ClusterMessage);
      settle(message.id);
    } else if (message.type === "dropped") {
      pending.get(message.id)?.waiting.delete(worker.id);
      settle(message.id);
    } else if (message.type === "metrics-wanted") {
      const siblings = [...listening].filter((id) => id !== worker.id && cluster.workers?.[id]?.isConnected());
      const deadline = setTimeout(() => gathered(message.id, true), METRICS_GATHER_TIMEOUT_MS);
      deadline.unref();
      gathering.set(message.id, { origin: worker, waiting: new Set(siblings), reports: [], deadline });
      for (const id of siblings)
        cluster.workers?.[id]?.send({ type: "metrics-report", id: message.id } satisfies ClusterMessage);
      gathered(message.id);
    } else if (message.type === "metrics-reported") {
      const entry = gathering.get(message.id);
      if (entry?.waiting.delete(worker.id)) entry.reports.push(message.metrics);
      gathered(message.id);
    } else if (message.type === "listening") {
      listening.add(worker.id);
      if (listeningUrl === null && listening.size === workers) {
        listeningUrl = message.url;
        logger.info(
          { url: message.url, tlsUrl: message.tlsUrl, dataDir: config.dataDir, accountId: prepared.accountId, workers },
          "Trent is listening",
        );
        printUsage(
          message.url,
          `${config.dataDir}/credentials`,
          prepared.created,
          httpsUsage(config, message.tlsUrl),
          config.console === false ? undefined : `${message.url}${CONSOLE_PATH}`,
        );
      }
    }
  });

  cluster.on("exit", (worker, code, signal) => {
    listening.delete(worker.id);
    joined.delete(worker.id);
    for (const [id, entry] of pending) {
      entry.waiting.delete(worker.id);
      settle(id);
    }
    for (const [id, entry] of gathering) {
      entry.waiting.delete(worker.id);
      gathered(id);
    }
    if (stopping) {
      // A worker killed by the forwarded SIGTERM itself was still starting and had served nothing;
      // one killed otherwise, or whose drain deadline cut requests off, makes the stop unclean.
      if (signal === null ? code !== 0 : signal !== "SIGTERM") process.exitCode = 1;
      exitOnceStopped();
      return;
    }
    if (listeningUrl === null) {
      // A worker that cannot start (port taken, store unreachable) would fail again: give up.
      logger.error({ worker: worker.id, code, signal }, "a worker failed to start; stopping");
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill("SIGTERM");
      process.exitCode = 1;
      return;
    }
    logger.error({ worker: worker.id, code, signal }, "a worker exited; starting another");
    const slot = slots.get(worker.id) ?? 0;
    slots.delete(worker.id);
    fork(slot);
  });

  /** Once stopping, the primary exits when its last worker has: 0 if every one drained cleanly. */
  const exitOnceStopped = () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
  };
  // Each worker drains its own requests in flight (see graceful-stop.ts); none is started again.
  const stop = (signal: string) => {
    if (stopping) {
      logger.info({ signal }, "already stopping");
      return;
    }
    stopping = true;
    logger.info({ signal }, "stopping: every worker answers its requests in flight");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    const workersExitBy = (config.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS) + WORKER_EXIT_GRACE_MS;
    const backstop = setTimeout(() => {
      logger.error("workers still running after their drain deadline; killing them");
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
    }, workersExitBy);
    backstop.unref();
    exitOnceStopped();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (let slot = 1; slot <= workers; slot++) fork(slot);
}

/** How long a stopping worker may take, after its drain deadline, to close its store and exit. */
const WORKER_EXIT_GRACE_MS = 5_000;
/** How long a write waits for its siblings to drop their caches before a silent one is stopped. */
const SIBLING_DROP_TIMEOUT_MS = 5_000;
/** How long a scrape waits for the siblings' metrics; it reports without those that did not answer. */
const METRICS_GATHER_TIMEOUT_MS = 2_000;

/** True in a process the cluster primary forked. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env.TRENT_CLUSTER_WORKER === "1";
}

/** Serves as one worker of the node, talking to its siblings through the primary. */
export async function startClusterWorker(config: TrentConfig): Promise<RunningTrent> {
  const waiting = new Map<string, () => void>();
  let dropCaches: () => void = () => undefined;
  const gatheringMetrics = new Map<string, (reports: MetricsSnapshot[]) => void>();
  let metricsSnapshot: () => Promise<MetricsSnapshot> = async () => [];
  let nextId = 0;
  const siblings: SiblingLink = {
    dropSiblingCaches: () =>
      new Promise<void>((resolve) => {
        if (!process.connected) return resolve();
        const id = `${process.pid}:${nextId++}`;
        waiting.set(id, resolve);
        process.send?.({ type: "wrote", id } satisfies ClusterMessage);
      }),
    onSiblingWrite: (handler) => {
      dropCaches = handler;
    },
    siblingMetrics: () =>
      new Promise<MetricsSnapshot[]>((resolve) => {
        if (!process.connected) return resolve([]);
        const id = `${process.pid}:${nextId++}`;
        gatheringMetrics.set(id, resolve);
        process.send?.({ type: "metrics-wanted", id } satisfies ClusterMessage);
      }),
    onMetricsWanted: (snapshot) => {
      metricsSnapshot = snapshot;
    },
  };
  process.on("message", (message: unknown) => {
    if (!isClusterMessage(message)) return;
    if (message.type === "drop-caches") {
      dropCaches();
      process.send?.({ type: "dropped", id: message.id } satisfies ClusterMessage);
    } else if (message.type === "synced") {
      waiting.get(message.id)?.();
      waiting.delete(message.id);
    } else if (message.type === "metrics-report") {
      metricsSnapshot().then(
        (metrics) => process.send?.({ type: "metrics-reported", id: message.id, metrics } satisfies ClusterMessage),
        () => process.send?.({ type: "metrics-reported", id: message.id, metrics: [] } satisfies ClusterMessage),
      );
    } else if (message.type === "metrics-gathered") {
      gatheringMetrics.get(message.id)?.(message.reports);
      gatheringMetrics.delete(message.id);
    }
  });
  await new Promise<void>((resolve) => {
    const welcome = (message: unknown) => {
      if (!isClusterMessage(message) || message.type !== "welcome") return;
      process.off("message", welcome);
      resolve();
    };
    process.on("message", welcome);
    process.send?.({ type: "hello" } satisfies ClusterMessage);
  });
  const logger = createLogger(config, { worker: cluster.worker?.id });
  const trent = await startTrent(config, { siblings, logger });
  process.send?.({ type: "listening", url: trent.url, tlsUrl: trent.tlsUrl } satisfies ClusterMessage);
  // Without the primary no sibling can be told of a write: stop rather than serve stale caches.
  process.once("disconnect", () => {
    logger.error("lost the cluster primary; stopping");
    for (const resolve of waiting.values()) resolve();
    for (const resolve of gatheringMetrics.values()) resolve([]);
    trent.close().finally(() => process.exit(1));
  });
  return trent;
}
