import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateRandomCommand,
  KMSClient,
  type KMSClientConfig,
} from "@aws-sdk/client-kms";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { parseExposition, type Sample, total } from "../support/prometheus-text.js";
import { createDatabase, dropDatabase, startTrentProcess, type TrentProcess, testStore } from "./trent-process.js";

/**
 * The listener's own endpoints (/metrics, /health, /ready) and its limits against slow and
 * oversized clients, on a real `trent serve` driven by the AWS SDK and by raw sockets.
 */

function kmsClient(trent: TrentProcess, agent: Agent): KMSClient {
  const config: KMSClientConfig = {
    endpoint: trent.url,
    region: trent.region,
    credentials: trent.credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, requestTimeout: 10_000 }),
  };
  return new KMSClient(config);
}

/** A GET or POST on a connection of its own (so that, with workers, it may land on any of them). */
function plainRequest(
  url: string,
  path: string,
  options: { method?: string; body?: Buffer } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(`${url}${path}`, { method: options.method ?? "GET", agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode as number, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

async function scrape(trent: TrentProcess): Promise<Sample[]> {
  const { status, body } = await plainRequest(trent.url, "/metrics");
  assert.equal(status, 200);
  return parseExposition(body);
}

/**
 * A slow client: sends the start of a request, then `drip` every TRICKLE_MS for as long as the
 * connection lasts. It never closes its side by itself (allowHalfOpen), and writes once more when
 * Trent closes its side, so `closed` resolves only when Trent has closed the connection for good
 * (a write to a closed socket is answered with a reset; one merely half-closed would take it).
 */
interface SlowClient {
  readonly received: () => string;
  readonly closed: Promise<number>;
}

const TRICKLE_MS = 300;

function slowClient(url: string, start: string, drip: string): Promise<SlowClient> {
  const { hostname, port } = new URL(url);
  const opened = performance.now();
  const socket: Socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true });
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  socket.once("end", () => socket.write("\r\n"));
  const dripping = setInterval(() => {
    if (socket.writable) socket.write(drip);
  }, TRICKLE_MS);
  const closed = new Promise<number>((resolve) =>
    socket.once("close", () => {
      clearInterval(dripping);
      resolve(performance.now() - opened);
    }),
  );
  return new Promise((resolve, reject) => {
    socket.once("connect", () => {
      if (start !== "") socket.write(start);
      resolve({ received: () => received, closed });
    });
    socket.once("error", reject);
  });
}

function errorBody(response: string): { __type: string; message: string } {
  return JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
}

const store = testStore();

/**
 * A TCP relay in front of PostgreSQL that can stop passing bytes: the database is then as
 * unreachable as behind a dead network link, without stopping the server other tests share.
 */
class Blackhole {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private swallowing = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      const upstream = connect(this.target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
        if (this.swallowing) socket.pause();
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, "127.0.0.1", () => resolve((this.server.address() as { port: number }).port)),
    );
  }

  swallow(swallowing: boolean): void {
    this.swallowing = swallowing;
    for (const socket of this.sockets) {
      if (swallowing) socket.pause();
      else socket.resume();
    }
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}

describe("one process with tight limits", () => {
  let trent: TrentProcess;
  let agent: Agent;
  let kms: KMSClient;
  /** On PostgreSQL, the database Trent reaches through `relay`. */
  let database: string | undefined;
  let relay: Blackhole | undefined;

  before(async () => {
    const storeArgs: string[] = [];
    if (store.kind === "postgres") {
      database = await createDatabase(store.serverUrl);
      const direct = new URL(database);
      relay = new Blackhole({ host: direct.hostname, port: Number(direct.port) });
      const relayed = new URL(database);
      relayed.port = String(await relay.listen());
      storeArgs.push("--store", relayed.href);
    }
    trent = await startTrentProcess([
      ...storeArgs,
      "--header-timeout",
      "1",
      "--body-timeout",
      "1",
      "--max-connections",
      "320",
      "--max-body-bytes",
      "65536",
    ]);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    kms = kmsClient(trent, agent);
  });

  after(async () => {
    kms?.destroy();
    agent?.destroy();
    await trent?.stop();
    relay?.close();
    if (database !== undefined) await dropDatabase(database);
  });

  test("/health and /ready answer 200 while the store and the root of trust do", async () => {
    assert.deepEqual(await plainRequest(trent.url, "/health"), { status: 200, body: '{"status":"ok"}' });
    const ready = await plainRequest(trent.url, "/ready");
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { status: "ready", checks: { store: "ok", rootOfTrust: "ok" } });
  });

  test("/metrics counts and times the SDK's requests, the store calls and the caches", async () => {
    const before = await scrape(trent);
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata?.KeyId as string;
    for (let i = 0; i < 3; i++) await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("hi") }));
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.alloc(40, 1) })), {
      name: "InvalidCiphertextException",
    });
    const oversized = await plainRequest(trent.url, "/", { method: "POST", body: Buffer.alloc(70_000) });
    assert.equal(oversized.status, 413);
    assert.equal(JSON.parse(oversized.body).__type, "RequestEntityTooLargeException");

    const after = await scrape(trent);
    const moved = (name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    const aws = { edge: "aws" };
    assert.equal(moved("trent_requests_total", { ...aws, operation: "CreateKey", outcome: "success" }), 1);
    assert.equal(moved("trent_requests_total", { ...aws, operation: "Encrypt", outcome: "success" }), 3);
    assert.equal(
      moved("trent_requests_total", { ...aws, operation: "Decrypt", outcome: "InvalidCiphertextException" }),
      1,
    );
    assert.equal(
      moved("trent_requests_total", { ...aws, operation: "unknown", outcome: "RequestEntityTooLargeException" }),
      1,
    );
    assert.equal(moved("trent_request_duration_seconds_count", { ...aws, operation: "Encrypt" }), 3);
    assert.ok(moved("trent_request_duration_seconds_sum", { ...aws, operation: "Encrypt" }) > 0);
    assert.equal(moved("trent_store_call_duration_seconds_count", { method: "createKey" }), 1);
    // Every request reads the caller's access key through the cache. On SQLite the first goes to the
    // database and the rest are served from memory; PostgreSQL's change notifications may drop it.
    const hits = moved("trent_store_cache_lookups_total", { cache: "access-keys", result: "hit" });
    const misses = moved("trent_store_cache_lookups_total", { cache: "access-keys", result: "miss" });
    assert.ok(hits + misses >= 5, `${hits} hits, ${misses} misses`);
    if (testStore().kind === "sqlite") assert.ok(hits >= 4, `${hits} hits, ${misses} misses`);
    assert.equal(total(after, "trent_key_pair_pool_available", { spec: "ECC_NIST_P256" }), 0);
    assert.ok(total(after, "process_resident_memory_bytes") > 0);
    assert.equal(total(after, "trent_metrics_processes"), 1);
  });

  test("hundreds of slow clients do not hold up a client already connected, and are cut off by the timeouts", async () => {
    // The well-behaved client's connection is open before the flood and stays open.
    await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }));
    const before = await scrape(trent);
    const headerCreepers = await Promise.all(
      Array.from({ length: 200 }, () => slowClient(trent.url, "POST / HTTP/1.1\r\nHost: trent\r\n", "x-slow: 1\r\n")),
    );
    const bodyDrippers = await Promise.all(
      Array.from({ length: 100 }, () =>
        slowClient(
          trent.url,
          "POST / HTTP/1.1\r\nHost: trent\r\nX-Amz-Target: TrentService.GenerateRandom\r\n" +
            "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 1000\r\n\r\n",
          "{",
        ),
      ),
    );
    // 1 + 300 connections are open; of these 40 more, those past --max-connections 320 are refused.
    const latecomers = await Promise.all(Array.from({ length: 40 }, () => slowClient(trent.url, "", "")));

    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const { Plaintext } = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }));
      latencies.push(performance.now() - started);
      assert.equal(Plaintext?.length, 16);
    }
    assert.ok(Math.max(...latencies) < 1_000, `served in ${latencies.map((ms) => ms.toFixed(0)).join(", ")} ms`);

    const lifetimes = await Promise.all([...headerCreepers, ...bodyDrippers].map((client) => client.closed));
    const latecomerLifetimes = await Promise.all(latecomers.map((client) => client.closed));
    // Timeouts of 1 s, checked every 250 ms: each slow connection is gone well within 3 s.
    assert.ok(Math.max(...lifetimes, ...latecomerLifetimes) < 3_000, `longest ${Math.max(...lifetimes)} ms`);
    for (const client of headerCreepers) {
      assert.match(client.received(), /^HTTP\/1\.1 408 /);
      assert.equal(errorBody(client.received()).__type, "RequestTimeoutException");
    }
    for (const client of bodyDrippers) {
      assert.match(client.received(), /^HTTP\/1\.1 408 /);
      assert.deepEqual(errorBody(client.received()), {
        __type: "RequestTimeoutException",
        message: "The request body did not arrive within 1000 ms.",
      });
    }
    const refused = latecomers.filter((client) => client.received() === "").length;
    assert.ok(refused >= 1, "some latecomers were past the connection limit");

    // New connections are served again, and the metrics saw all of it.
    const after = await scrape(trent);
    const moved = (name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);
    assert.equal(moved("trent_http_connections_dropped_total"), refused);
    assert.equal(moved("trent_http_request_timeouts_total", { phase: "headers" }), 200 + 40 - refused);
    assert.equal(moved("trent_http_request_timeouts_total", { phase: "body" }), 100);
    assert.equal(moved("trent_requests_total", { operation: "unknown", outcome: "RequestTimeoutException" }), 100);
    assert.ok(total(after, "trent_http_connections_open") <= 2, "only the SDK's and this scrape's connections");
  });

  // Last: it takes the database away for a moment. SQLite runs inside the process and cannot be cut off so.
  test("/ready answers 503 naming the store while the database does not answer, and 200 once it does", {
    skip: store.kind !== "postgres" && "runs with TRENT_TEST_STORE=postgres",
  }, async () => {
    assert.equal((await plainRequest(trent.url, "/ready")).status, 200);
    relay?.swallow(true);
    try {
      const started = performance.now();
      const notReady = await plainRequest(trent.url, "/ready");
      const seconds = (performance.now() - started) / 1000;
      assert.equal(notReady.status, 503);
      assert.deepEqual(JSON.parse(notReady.body), {
        status: "not ready",
        checks: { store: "timed out", rootOfTrust: "ok" },
      });
      assert.ok(seconds < 3.5, `answered in ${seconds.toFixed(2)} s`);
      assert.equal((await plainRequest(trent.url, "/health")).status, 200, "the process itself is alive");
    } finally {
      // Even when an assertion fails: a store left unreachable would hang the server's stop.
      relay?.swallow(false);
    }
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
      status = (await plainRequest(trent.url, "/ready")).status;
      if (status !== 200) await sleep(250);
    }
    assert.equal(status, 200);
  });
});

// The workers share nothing here that depends on the store: this runs once, in the SQLite run.
describe("a node of two worker processes", { skip: store.kind !== "sqlite" && "runs on SQLite" }, () => {
  let trent: TrentProcess;
  let kms: KMSClient;

  before(async () => {
    trent = await startTrentProcess(["--workers", "2"]);
    kms = kmsClient(trent, new Agent({ keepAlive: false }));
  });

  after(async () => {
    kms?.destroy();
    await trent?.stop();
  });

  test("every scrape, whichever worker answers it, reports the whole node", async () => {
    // Each request on a new connection: the cluster deals connections to the workers in turn.
    for (let i = 0; i < 10; i++) await kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }));
    for (let i = 0; i < 4; i++) {
      const samples = await scrape(trent);
      const generateRandom = { edge: "aws", operation: "GenerateRandom" };
      assert.equal(total(samples, "trent_requests_total", { ...generateRandom, outcome: "success" }), 10);
      assert.equal(total(samples, "trent_request_duration_seconds_count", generateRandom), 10);
      assert.equal(total(samples, "trent_metrics_processes"), 2);
    }
  });
});
