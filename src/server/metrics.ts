import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";
import { DATA_KEY_PAIR_SPECS, type DataKeyPairSpec } from "../crypto/data-key-pair-spec.js";
import { ALIBABA_OPERATIONS } from "../ops/alibaba/index.js";
import { OPERATIONS } from "../protocol/aws/shapes.js";
import type { CacheStatistics } from "../store/caching-store.js";
import type { StoreCallObserver } from "../store/measured-store.js";

/** One answered request, as the metrics see it. */
export interface AnsweredRequestMetric {
  readonly edge: "aws" | "alibaba";
  /** The operation, or null when the request never named a valid one. */
  readonly operation: string | null;
  /** The error code answered, or null on success. */
  readonly errorCode: string | null;
  readonly status: number;
  readonly seconds: number;
}

/** Counts and times every answered request, whichever edge answered it. */
export interface RequestMetrics {
  answered(request: AnsweredRequestMetric): void;
}

export class NoRequestMetrics implements RequestMetrics {
  answered(): void {}
}

/** What the HTTP listener reports about its connections. */
export interface ConnectionMetrics {
  opened(): void;
  closed(): void;
  /** Refused on arrival because the listener had its maximum of connections open. */
  dropped(): void;
  /** Closed because its headers, or its body, did not arrive in time. */
  timedOut(phase: "headers" | "body"): void;
}

/** One process's metrics in prom-client's JSON form, as sent between the workers of a node. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const KNOWN_OPERATIONS = {
  aws: new Set(Object.keys(OPERATIONS)),
  alibaba: new Set(Object.keys(ALIBABA_OPERATIONS)),
};
/** Error codes are literals in Trent's code, but a label must stay bounded whatever the edges pass. */
const MAX_OUTCOMES = 100;
const THROTTLING_CODES = new Set(["ThrottlingException", "Rejected.Throttling"]);

const REQUEST_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// An SQLite read takes tens of microseconds; a PostgreSQL round trip a millisecond or more.
const STORE_CALL_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/**
 * The Prometheus metrics of one process: requests by edge, operation and outcome with their
 * latency, throttled requests, store calls with their latency, cache lookups, key-pair pool depth,
 * connections, and Node's default process metrics. The workers of one node each keep their own;
 * a scrape sums them (see `renderNode`).
 */
export class PrometheusMetrics implements RequestMetrics, StoreCallObserver, ConnectionMetrics {
  private readonly registry = new Registry();
  private readonly requests: Counter<"edge" | "operation" | "outcome">;
  private readonly requestSeconds: Histogram<"edge" | "operation">;
  private readonly throttled: Counter<"edge" | "operation">;
  private readonly storeCallSeconds: Histogram<"method">;
  private readonly storeCallFailures: Counter<"method">;
  private readonly connectionsOpen: Gauge;
  private readonly connectionsDropped: Counter;
  private readonly timeouts: Counter<"phase">;
  private readonly outcomes = new Set<string>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Summed over the workers of a node, this says how many answered the scrape in time.
    new Gauge({
      name: "trent_metrics_processes",
      help: "Processes whose metrics this scrape includes.",
      registers,
    }).set(1);
    this.requests = new Counter({
      name: "trent_requests_total",
      help: "Requests answered, by edge, operation and outcome (success or the error code).",
      labelNames: ["edge", "operation", "outcome"],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: "trent_request_duration_seconds",
      help: "Time Trent took to answer a request once it had arrived, by edge and operation.",
      labelNames: ["edge", "operation"],
      buckets: REQUEST_SECONDS,
      registers,
    });
    this.throttled = new Counter({
      name: "trent_requests_throttled_total",
      help: "Requests answered ThrottlingException (AWS edge) or Rejected.Throttling (Alibaba edge).",
      labelNames: ["edge", "operation"],
      registers,
    });
    this.storeCallSeconds = new Histogram({
      name: "trent_store_call_duration_seconds",
      help: "Time of each call to the database store, by store method.",
      labelNames: ["method"],
      buckets: STORE_CALL_SECONDS,
      registers,
    });
    this.storeCallFailures = new Counter({
      name: "trent_store_call_failures_total",
      help: "Calls to the database store that failed, by store method.",
      labelNames: ["method"],
      registers,
    });
    this.connectionsOpen = new Gauge({
      name: "trent_http_connections_open",
      help: "Connections open on the HTTP and HTTPS listeners.",
      registers,
    });
    this.connectionsDropped = new Counter({
      name: "trent_http_connections_dropped_total",
      help: "Connections closed on arrival because the listener had --max-connections open.",
      registers,
    });
    this.timeouts = new Counter({
      name: "trent_http_request_timeouts_total",
      help: "Requests whose headers or body did not arrive within --header-timeout or --body-timeout.",
      labelNames: ["phase"],
      registers,
    });
  }

  answered(request: AnsweredRequestMetric): void {
    const operation =
      request.operation !== null && KNOWN_OPERATIONS[request.edge].has(request.operation)
        ? request.operation
        : "unknown";
    const errorCode = request.errorCode ?? (request.status === 200 ? null : "error");
    this.requests.inc({
      edge: request.edge,
      operation,
      outcome: errorCode === null ? "success" : this.outcome(errorCode),
    });
    this.requestSeconds.observe({ edge: request.edge, operation }, request.seconds);
    if (errorCode !== null && THROTTLING_CODES.has(errorCode)) this.throttled.inc({ edge: request.edge, operation });
  }

  storeCall(method: string, seconds: number, failed: boolean): void {
    this.storeCallSeconds.observe({ method }, seconds);
    if (failed) this.storeCallFailures.inc({ method });
  }

  opened(): void {
    this.connectionsOpen.inc();
  }

  closed(): void {
    this.connectionsOpen.dec();
  }

  dropped(): void {
    this.connectionsDropped.inc();
  }

  timedOut(phase: "headers" | "body"): void {
    this.timeouts.inc({ phase });
  }

  /** Reports the pool's ready pairs per spec at each scrape. */
  trackKeyPairPool(pool: { available(spec: DataKeyPairSpec): number }): void {
    new Gauge({
      name: "trent_key_pair_pool_available",
      help: "Pre-generated data key pairs ready, per spec.",
      labelNames: ["spec"],
      registers: [this.registry],
      collect() {
        for (const spec of DATA_KEY_PAIR_SPECS) this.set({ spec }, pool.available(spec));
      },
    });
  }

  /** Reports the store cache's hits and misses at each scrape; their ratio is the hit ratio. */
  trackCaches(caches: { cacheStatistics(): readonly CacheStatistics[] }): void {
    new Counter({
      name: "trent_store_cache_lookups_total",
      help: "Reads served by the store cache (result=hit) or passed to the database (result=miss), per cache.",
      labelNames: ["cache", "result"],
      registers: [this.registry],
      collect() {
        // The cache counts by itself; a counter cannot be set, so it is rebuilt from those counts.
        this.reset();
        for (const { cache, hits, misses } of caches.cacheStatistics()) {
          this.inc({ cache, result: "hit" }, hits);
          this.inc({ cache, result: "miss" }, misses);
        }
      },
    });
  }

  /** This process's metrics in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON();
  }

  /** The metrics of a whole node from its workers' snapshots: counters and histograms summed. */
  static renderNode(snapshots: readonly MetricsSnapshot[]): Promise<string> {
    return AggregatorRegistry.aggregate([...snapshots]).metrics();
  }

  private outcome(errorCode: string): string {
    if (this.outcomes.has(errorCode)) return errorCode;
    if (this.outcomes.size >= MAX_OUTCOMES || !/^[A-Za-z][\w.]{0,63}$/.test(errorCode)) return "other";
    this.outcomes.add(errorCode);
    return errorCode;
  }
}
