import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { KeyFileRoot } from "../../src/root/key-file-root.js";
import { PrometheusMetrics } from "../../src/server/metrics.js";
import { Readiness, rootOfTrustRoundTrip } from "../../src/server/readiness.js";
import { CachingKeyStore } from "../../src/store/caching-store.js";
import { measuredStore } from "../../src/store/measured-store.js";
import { SqliteKeyStore } from "../../src/store/sqlite/sqlite-store.js";
import { matching, parseExposition, total } from "../support/prometheus-text.js";
import { testKey } from "../support/services.js";

let dir: string;
let sqlite: SqliteKeyStore;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "trent-metrics-"));
  sqlite = new SqliteKeyStore(join(dir, "trent.db"));
});

after(async () => {
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("PrometheusMetrics", () => {
  test("counts answered requests by edge, known operation and outcome, and times them", async () => {
    const metrics = new PrometheusMetrics();
    const answer = (edge: "aws" | "alibaba", operation: string | null, errorCode: string | null, status = 200) =>
      metrics.answered({ edge, operation, errorCode, status, seconds: 0.003 });
    answer("aws", "Encrypt", null);
    answer("aws", "Encrypt", null);
    answer("aws", "Encrypt", "NotFoundException", 400);
    answer("aws", 'ThrottledOp{evil="1"}', "ThrottlingException", 400);
    answer("aws", null, "UnknownOperationException", 400);
    answer("alibaba", "Encrypt", "Rejected.Throttling", 429);
    answer("alibaba", "NotAnAlibabaApi", "Rejected.UnsupportedOperation", 400);

    const samples = parseExposition(await metrics.render());
    const requests = (labels: Record<string, string>) => total(samples, "trent_requests_total", labels);
    assert.equal(requests({ edge: "aws", operation: "Encrypt", outcome: "success" }), 2);
    assert.equal(requests({ edge: "aws", operation: "Encrypt", outcome: "NotFoundException" }), 1);
    // Operation names come only from the edges' known operations: anything else is "unknown".
    assert.equal(requests({ edge: "aws", operation: "unknown" }), 2);
    assert.equal(requests({ edge: "alibaba", operation: "unknown", outcome: "Rejected.UnsupportedOperation" }), 1);
    assert.equal(requests({}), 7);
    assert.equal(total(samples, "trent_requests_throttled_total", { edge: "aws" }), 1);
    assert.equal(total(samples, "trent_requests_throttled_total", { edge: "alibaba", operation: "Encrypt" }), 1);
    const encryptLatency = { edge: "aws", operation: "Encrypt" };
    assert.equal(total(samples, "trent_request_duration_seconds_count", encryptLatency), 3);
    assert.equal(total(samples, "trent_request_duration_seconds_bucket", { ...encryptLatency, le: "0.0025" }), 0);
    assert.equal(total(samples, "trent_request_duration_seconds_bucket", { ...encryptLatency, le: "0.005" }), 3);
    assert.ok(samples.some((sample) => sample.name === "process_cpu_user_seconds_total"));
    assert.ok(samples.some((sample) => sample.name === "nodejs_eventloop_lag_seconds"));
    assert.equal(total(samples, "trent_metrics_processes"), 1);
  });

  test("keeps the outcome label bounded whatever error codes it is given", async () => {
    const metrics = new PrometheusMetrics();
    for (let i = 0; i < 150; i++) {
      metrics.answered({ edge: "aws", operation: "Decrypt", errorCode: `Code${i}`, status: 400, seconds: 0 });
    }
    metrics.answered({ edge: "aws", operation: "Decrypt", errorCode: 'bad"code\n', status: 400, seconds: 0 });
    const outcomes = matching(parseExposition(await metrics.render()), "trent_requests_total").map(
      (sample) => sample.labels.outcome,
    );
    assert.equal(outcomes.length, 101);
    assert.ok(outcomes.includes("other"));
  });

  test("reports store calls, cache hits and misses, and the key-pair pool at each scrape", async () => {
    const metrics = new PrometheusMetrics();
    const store = new CachingKeyStore(measuredStore(sqlite, metrics), { ttlMs: 60_000, maxEntries: 100 });
    metrics.trackCaches(store);
    const pool = { ready: 3, available: (spec: string) => (spec === "ECC_NIST_P256" ? pool.ready : 0) };
    metrics.trackKeyPairPool(pool);
    await store.createKey(testKey({ keyId: "metrics-key" }), Buffer.alloc(1), []);
    await store.getKey("metrics-key");
    await store.getKey("metrics-key");
    await store.getKey("metrics-key");
    await assert.rejects(
      measuredStore(sqlite, metrics).createKey(testKey({ keyId: "metrics-key" }), Buffer.alloc(1), []),
    );

    let samples = parseExposition(await metrics.render());
    assert.equal(total(samples, "trent_store_cache_lookups_total", { cache: "keys", result: "miss" }), 1);
    assert.equal(total(samples, "trent_store_cache_lookups_total", { cache: "keys", result: "hit" }), 2);
    assert.equal(total(samples, "trent_store_call_duration_seconds_count", { method: "getKey" }), 1);
    assert.equal(total(samples, "trent_store_call_duration_seconds_count", { method: "createKey" }), 2);
    assert.equal(total(samples, "trent_store_call_failures_total", { method: "createKey" }), 1);
    assert.equal(total(samples, "trent_key_pair_pool_available", { spec: "ECC_NIST_P256" }), 3);
    assert.equal(total(samples, "trent_key_pair_pool_available", { spec: "RSA_2048" }), 0);

    // Values are read at the scrape, not when tracking began.
    pool.ready = 5;
    await store.getKey("metrics-key");
    samples = parseExposition(await metrics.render());
    assert.equal(total(samples, "trent_key_pair_pool_available", { spec: "ECC_NIST_P256" }), 5);
    assert.equal(total(samples, "trent_store_cache_lookups_total", { cache: "keys", result: "hit" }), 3);
  });

  test("times the methods the cache passes through and those of the sub-stores, by their own names", async () => {
    const metrics = new PrometheusMetrics();
    const store = new CachingKeyStore(measuredStore(sqlite, metrics), { ttlMs: 60_000, maxEntries: 100 });
    await store.listKeys("111122223333", "us-east-1", null, 10);
    await store.customKeyStores.listCustomKeyStores(null, null, null, 10);
    await store.importedMaterial.listImportedKeyMaterial("no-such-key");
    await store.importedMaterial.listImportedKeyMaterial("no-such-key");
    const samples = parseExposition(await metrics.render());
    const calls = (method: string) => total(samples, "trent_store_call_duration_seconds_count", { method });
    assert.equal(calls("listKeys"), 1);
    assert.equal(calls("listCustomKeyStores"), 1);
    assert.equal(calls("listImportedKeyMaterial"), 2);
  });

  test("a node's scrape sums its workers' counters and histograms", async () => {
    const workers = [new PrometheusMetrics(), new PrometheusMetrics()];
    workers.forEach((metrics, index) => {
      for (let i = 0; i <= index; i++) {
        metrics.answered({ edge: "aws", operation: "GenerateRandom", errorCode: null, status: 200, seconds: 0.02 });
      }
      metrics.opened();
    });
    const samples = parseExposition(
      await PrometheusMetrics.renderNode(await Promise.all(workers.map((metrics) => metrics.snapshot()))),
    );
    const generateRandom = { edge: "aws", operation: "GenerateRandom" };
    assert.equal(total(samples, "trent_requests_total", { ...generateRandom, outcome: "success" }), 3);
    assert.equal(total(samples, "trent_request_duration_seconds_count", generateRandom), 3);
    assert.equal(total(samples, "trent_request_duration_seconds_bucket", { ...generateRandom, le: "0.025" }), 3);
    assert.equal(total(samples, "trent_http_connections_open"), 2);
    assert.equal(total(samples, "trent_metrics_processes"), 2);
  });
});

describe("Readiness", () => {
  const silent = pino({ level: "silent" });

  test("is ready when every check answers, and names each check that failed or hung", async () => {
    const root = KeyFileRoot.fromBase64(Buffer.alloc(32, 7).toString("base64"));
    const healthy = new Readiness(
      { store: () => sqlite.getMeta("anything"), rootOfTrust: () => rootOfTrustRoundTrip(root) },
      500,
      silent,
    );
    assert.deepEqual(await healthy.check(), { ready: true, checks: { store: "ok", rootOfTrust: "ok" } });

    const started = performance.now();
    const broken = new Readiness(
      {
        store: () => new Promise(() => {}),
        rootOfTrust: () => Promise.reject(new Error("HSM unplugged")),
      },
      200,
      silent,
    );
    const [first, second] = await Promise.all([broken.check(), broken.check()]);
    assert.deepEqual(first, { ready: false, checks: { store: "timed out", rootOfTrust: "failed" } });
    assert.equal(second, first, "probes asked for together share one run");
    assert.ok(performance.now() - started < 1_000);
  });
});
