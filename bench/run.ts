/**
 * `npm run bench`: data key pair latency from a warm pool versus generation on demand,
 * GenerateDataKey latency with and without a burst of RSA_4096 requests in flight, and
 * GenerateDataKey / Decrypt throughput on PostgreSQL versus SQLite. Each figure is measured side
 * by side with its baseline in the same run, against real Trent processes; and Trent's throughput
 * per operation against a bare node:http ceiling and moto_server (baselines.ts).
 * GenerateDataKey over 100,000 keys against one hot key (scale.ts).
 * `BENCH_ONLY=keypairs`, `stores`, `baselines` or `scale` (or several, comma-separated) selects sections.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  CreateKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  KMSClient,
} from "@aws-sdk/client-kms";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { DATA_KEY_PAIR_SPECS } from "../src/crypto/data-key-pair-spec.js";
import { startTrentProcess, type TrentProcess } from "../test/integration/trent-process.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { baselineSection } from "./baselines.js";
import { type SignedRequest, signKmsRequest } from "./load.js";
import { runLoadInChildProcess } from "./load-process.js";
import { scaleSection } from "./scale.js";

const POOL_DEPTH = Number(process.env.BENCH_RSA4096_POOL ?? 24);
const ON_DEMAND_SAMPLES = Number(process.env.BENCH_RSA4096_ON_DEMAND ?? 8);
const GDK_SAMPLES = Number(process.env.BENCH_GDK_SAMPLES ?? 2000);
const BURST = Number(process.env.BENCH_RSA4096_BURST ?? 8);

function clientFor(trent: TrentProcess): KMSClient {
  return new KMSClient({
    endpoint: trent.url,
    region: trent.region,
    credentials: trent.credentials,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summary(samples: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] as number,
  };
}

function row(label: string, s: ReturnType<typeof summary>): string {
  return `${label.padEnd(58)} n=${String(s.n).padStart(5)}  p50=${s.p50.toFixed(2).padStart(8)} ms  p99=${s.p99.toFixed(2).padStart(8)} ms  max=${s.max.toFixed(2).padStart(8)} ms`;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function poolAvailable(trent: TrentProcess, spec: string): Promise<number> {
  const text = await (await fetch(`${trent.url}/metrics`)).text();
  return Number(new RegExp(`trent_key_pair_pool_available\\{spec="${spec}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

const SECTIONS = ["keypairs", "stores", "baselines", "scale"] as const;

/** The other processes on the machine compete for its cores: say how busy it was. */
function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(", ");
}

/**
 * Every Trent of the benchmark runs with request quotas on, at AWS's defaults but for the classes
 * the sections exceed on purpose: the scale section creates 100,000 keys (AWS allows 5 CreateKey
 * a second) and the key pair runs time Trent's own GenerateDataKeyPair (AWS allows 1 to 100 a
 * second by spec). A TRENT_TEST_QUOTAS the caller sets wins. Returns the file to remove.
 */
function turnQuotasOn(): string | undefined {
  if (process.env.TRENT_TEST_QUOTAS !== undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "trent-bench-quotas-"));
  const raised = ["CreateKey", ...DATA_KEY_PAIR_SPECS.map((spec) => `GenerateDataKeyPair (${spec})`)];
  writeFileSync(
    join(dir, "quotas.json"),
    JSON.stringify({ rates: Object.fromEntries(raised.map((c) => [c, 100_000])) }),
  );
  process.env.TRENT_TEST_QUOTAS = join(dir, "quotas.json");
  return dir;
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(",").map((section) => section.trim());
  const unknown = only?.filter((section) => !(SECTIONS as readonly string[]).includes(section)) ?? [];
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown section ${unknown.join(", ")}; expected ${SECTIONS}`);
  const selected = (section: (typeof SECTIONS)[number]) => only === undefined || only.includes(section);
  process.stdout.write(
    `Trent benchmark on ${process.platform}/${process.arch}, node ${process.version}; load average ${loadAverage()}\n\n`,
  );
  const start = performance.now();
  const quotaDir = turnQuotasOn();
  process.stdout.write(
    `Request quotas: ${quotaDir === undefined ? process.env.TRENT_TEST_QUOTAS : "AWS's defaults, CreateKey and GenerateDataKeyPair raised"}\n`,
  );
  try {
    if (selected("keypairs")) await keyPairSection();
    if (selected("stores")) await storeSection();
    if (selected("baselines")) await baselineSection();
    if (selected("scale")) await scaleSection();
  } finally {
    if (quotaDir !== undefined) rmSync(quotaDir, { recursive: true, force: true });
  }
  process.stdout.write(
    `\nDone in ${((performance.now() - start) / 1000).toFixed(0)} s; load average ${loadAverage()}\n`,
  );
}

const LOAD_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);

/** GenerateDataKey and Decrypt throughput with each store, one server at a time so they do not share the CPU. */
async function storeSection(): Promise<void> {
  const postgres = await startPostgres();
  const stores: [string, string[]][] = [
    ["SQLite", []],
    ["PostgreSQL", ["--store", postgres.url]],
  ];
  process.stdout.write(
    `\nThroughput by store (${LOAD_CONNECTIONS} connections, ${LOAD_SECONDS} s per operation, pre-signed requests from a separate load process)\n`,
  );
  try {
    for (const [label, args] of stores) {
      const trent = await startTrentProcess(args);
      try {
        const kms = clientFor(trent);
        const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
        const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(32, 1) })))
          .CiphertextBlob as Uint8Array;
        const requests: [string, SignedRequest][] = [
          ["GenerateDataKey", await signKmsRequest(trent, "GenerateDataKey", { KeyId: keyId, KeySpec: "AES_256" })],
          ["Decrypt", await signKmsRequest(trent, "Decrypt", { CiphertextBlob: Buffer.from(blob).toString("base64") })],
        ];
        for (const [operation, signed] of requests) {
          const result = await runLoadInChildProcess({
            url: trent.url,
            request: signed,
            connections: LOAD_CONNECTIONS,
            warmUpMs: 1_000,
            durationMs: LOAD_SECONDS * 1000,
            graceMs: 5_000,
          });
          const ms = (value: number | null) => (value === null ? "-" : value.toFixed(2)).padStart(6);
          process.stdout.write(
            `  ${`${label} ${operation}`.padEnd(30)} ${result.perSecond.toFixed(0).padStart(6)} req/s  p50=${ms(result.p50)} ms  p99=${ms(result.p99)} ms  errors=${result.errors + result.cut}\n`,
          );
        }
      } finally {
        await trent.stop();
      }
    }
  } finally {
    await postgres.stop();
  }
}

async function keyPairSection(): Promise<void> {
  const pooled = await startTrentProcess(["--key-pair-pool", `RSA_4096=${POOL_DEPTH}`, "--key-pair-workers", "2"]);
  const unpooled = await startTrentProcess(["--key-pair-pool", "0"]);
  try {
    const pooledKms = clientFor(pooled);
    const unpooledKms = clientFor(unpooled);
    const pooledKey = (await pooledKms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;
    const unpooledKey = (await unpooledKms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId as string;

    process.stdout.write(`Filling the RSA_4096 pool to ${POOL_DEPTH} (2 worker threads)...\n`);
    const fillStart = performance.now();
    while ((await poolAvailable(pooled, "RSA_4096")) < POOL_DEPTH) await new Promise((r) => setTimeout(r, 250));
    process.stdout.write(`  filled in ${((performance.now() - fillStart) / 1000).toFixed(1)} s\n\n`);

    const pair = (kms: KMSClient, keyId: string) => () =>
      kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: "RSA_4096" }));
    const warm: number[] = [];
    // Sequential takes, fewer than the pool holds, so every one is served from the pool.
    for (let i = 0; i < POOL_DEPTH - 1; i++) warm.push(await timed(pair(pooledKms, pooledKey)));
    // The pooled server now refills in the background on both cores; stop it so it does not
    // compete with the measurements below.
    await pooled.stop();
    const cold: number[] = [];
    for (let i = 0; i < ON_DEMAND_SAMPLES; i++) cold.push(await timed(pair(unpooledKms, unpooledKey)));

    const gdk = () => unpooledKms.send(new GenerateDataKeyCommand({ KeyId: unpooledKey, KeySpec: "AES_256" }));
    for (let i = 0; i < 200; i++) await gdk(); // warm-up
    const quiet: number[] = [];
    for (let i = 0; i < GDK_SAMPLES; i++) quiet.push(await timed(gdk));

    const busy: number[] = [];
    let inFlight = BURST;
    const burstStart = performance.now();
    const burst = Array.from({ length: BURST }, () => pair(unpooledKms, unpooledKey)().finally(() => inFlight--));
    while (inFlight > 0) busy.push(await timed(gdk));
    await Promise.all(burst);
    const burstSeconds = (performance.now() - burstStart) / 1000;

    process.stdout.write("GenerateDataKeyPair RSA_4096 (sequential, one client)\n");
    process.stdout.write(`${row("  warm pool", summary(warm))}\n`);
    process.stdout.write(`${row("  pool disabled (generated on demand)", summary(cold))}\n\n`);
    process.stdout.write("GenerateDataKey AES_256 (sequential, one client)\n");
    process.stdout.write(`${row("  no other load", summary(quiet))}\n`);
    process.stdout.write(`${row(`  while ${BURST} RSA_4096 pair requests are in flight`, summary(busy))}\n`);
    process.stdout.write(
      `  (the burst took ${burstSeconds.toFixed(2)} s; samples were taken only while it was in flight)\n`,
    );
  } finally {
    await pooled.stop();
    await unpooled.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
