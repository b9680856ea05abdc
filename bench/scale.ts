/**
 * Trent with many keys: creates BENCH_SCALE_KEYS (100,000) keys through CreateKey, restarts on
 * that data directory, and compares GenerateDataKey over randomly chosen keys with GenerateDataKey
 * on one hot key, in the same run; reports start-up time and resident memory with and without
 * the keys.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startTrentProcess, type TrentProcess } from "../test/integration/trent-process.js";
import { type LoadJob, type LoadResult, sendSigned, signKmsRequest } from "./load.js";
import { runLoadInChildProcess } from "./load-process.js";

const KEYS = Number(process.env.BENCH_SCALE_KEYS ?? 100_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);

function residentMegabytes(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function call(trent: TrentProcess, operation: string, input: unknown): Promise<unknown> {
  const { status, body } = await sendSigned(trent.url, await signKmsRequest(trent, operation, input));
  if (status !== 200) throw new Error(`${operation} answered ${status}: ${body.slice(0, 300)}`);
  return JSON.parse(body);
}

async function listKeyIds(trent: TrentProcess): Promise<string[]> {
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const page = (await call(trent, "ListKeys", { Limit: 1000, ...(marker ? { Marker: marker } : {}) })) as {
      Keys: { KeyId: string }[];
      NextMarker?: string;
    };
    for (const key of page.Keys) ids.push(key.KeyId);
    marker = page.NextMarker;
  } while (marker !== undefined);
  return ids;
}

async function timedStart(dataDir: string): Promise<{ trent: TrentProcess; seconds: number }> {
  const start = performance.now();
  const trent = await startTrentProcess([], { dataDir });
  return { trent, seconds: (performance.now() - start) / 1000 };
}

function line(label: string, result: LoadResult): string {
  return `  ${label.padEnd(44)} ${result.perSecond.toFixed(0).padStart(6)} req/s  p50=${result.p50?.toFixed(2)} ms  p99=${result.p99?.toFixed(2)} ms  errors=${result.errors}\n`;
}

export async function scaleSection(): Promise<void> {
  process.stdout.write(`\nMany keys (SQLite, ${KEYS} keys, ${CONNECTIONS} connections, ${SECONDS} s per run)\n`);
  const dataDir = mkdtempSync(join(tmpdir(), "trent-scale-"));
  try {
    const empty = await timedStart(dataDir);
    const emptyRss = residentMegabytes(empty.trent.process.pid);
    let trent = empty.trent;
    const creating = performance.now();
    const created = await runLoadInChildProcess({
      url: trent.url,
      request: await signKmsRequest(trent, "CreateKey", {}),
      connections: CONNECTIONS,
      durationMs: 600_000,
      maxRequests: KEYS,
      graceMs: 10_000,
    });
    process.stdout.write(
      `  created ${created.requests} keys through CreateKey in ${((performance.now() - creating) / 1000).toFixed(0)} s (${created.perSecond.toFixed(0)}/s, errors=${created.errors})\n`,
    );
    await trent.stop();

    const full = await timedStart(dataDir);
    trent = full.trent;
    const fullRss = residentMegabytes(trent.process.pid);
    const keyIds = await listKeyIds(trent);
    const hotKey = keyIds[0] as string;
    const job = (extra: Partial<LoadJob>): LoadJob => ({
      url: trent.url,
      connections: CONNECTIONS,
      warmUpMs: 1_000,
      durationMs: SECONDS * 1_000,
      graceMs: 5_000,
      ...extra,
    });
    const hot = await runLoadInChildProcess(
      job({ request: await signKmsRequest(trent, "GenerateDataKey", { KeyId: hotKey, KeySpec: "AES_256" }) }),
    );
    const random = await runLoadInChildProcess(
      job({
        signEach: {
          target: trent,
          operation: "GenerateDataKey",
          inputs: keyIds.map((keyId) => ({ KeyId: keyId, KeySpec: "AES_256" })),
        },
      }),
    );
    const loadedRss = residentMegabytes(trent.process.pid);
    await trent.stop();

    process.stdout.write(line("GenerateDataKey, one hot key", hot));
    process.stdout.write(line(`GenerateDataKey, random key of ${keyIds.length}`, random));
    process.stdout.write(`  random / hot: ${((100 * random.perSecond) / hot.perSecond).toFixed(0)}%\n`);
    process.stdout.write(
      `  start-up to listening: ${empty.seconds.toFixed(2)} s empty, ${full.seconds.toFixed(2)} s with ${keyIds.length} keys\n`,
    );
    process.stdout.write(
      `  resident memory: ${emptyRss.toFixed(0)} MB empty after start, ${fullRss.toFixed(0)} MB with the keys after start, ${loadedRss.toFixed(0)} MB after the random-key run\n`,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
