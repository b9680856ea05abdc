/**
 * Profiles Trent's hot path: starts `trent serve` under `node --cpu-prof`, drives GenerateDataKey
 * and Decrypt from a separate load process, stops Trent so the profile is written, and prints
 * where the main thread's time went, by function and by package or source file.
 *
 *   npm run build && node dist/bench/profile.js [extra trent serve args...]
 *
 * The raw .cpuprofile stays in the printed directory, for Chrome DevTools or speedscope.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTrentProcess } from "../test/integration/trent-process.js";
import { sendSigned, signKmsRequest } from "./load.js";
import { runLoadInChildProcess } from "./load-process.js";

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const profileDir = mkdtempSync(join(tmpdir(), "trent-profile-"));
const trent = await startTrentProcess(process.argv.slice(2), {
  nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`],
});
try {
  const created = await sendSigned(trent.url, await signKmsRequest(trent, "CreateKey", {}));
  const keyId = (JSON.parse(created.body) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
  const encrypted = await sendSigned(
    trent.url,
    await signKmsRequest(trent, "Encrypt", { KeyId: keyId, Plaintext: Buffer.alloc(32).toString("base64") }),
  );
  const blob = (JSON.parse(encrypted.body) as { CiphertextBlob: string }).CiphertextBlob;
  for (const [name, input] of [
    ["GenerateDataKey", { KeyId: keyId, KeySpec: "AES_256" }],
    ["Decrypt", { CiphertextBlob: blob }],
  ] as const) {
    const result = await runLoadInChildProcess({
      url: trent.url,
      request: await signKmsRequest(trent, name, input),
      connections: CONNECTIONS,
      warmUpMs: 1_000,
      durationMs: SECONDS * 1_000,
      graceMs: 5_000,
    });
    console.log(
      `${name.padEnd(16)} ${result.perSecond.toFixed(0).padStart(6)} req/s  p50=${result.p50?.toFixed(2)} ms  p99=${result.p99?.toFixed(2)} ms  errors=${result.errors}`,
    );
  }
} finally {
  await trent.stop();
}

const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));
if (file === undefined) throw new Error(`no profile was written to ${profileDir}`);
const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, index) => {
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});
const total = [...selfMicros.values()].reduce((sum, micros) => sum + micros, 0);

function place(url: string): string {
  if (url === "") return "(native / VM)";
  const nodeModules = url.lastIndexOf("node_modules/");
  if (nodeModules >= 0) {
    const rest = url.slice(nodeModules + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return url;
  const dist = url.indexOf("/dist/");
  return dist >= 0 ? url.slice(dist + "/dist/".length) : url;
}

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const frame = (byId.get(id) as ProfileNode).callFrame;
  const where = place(frame.url);
  const name = `${frame.functionName || "(anonymous)"}  ${where}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  byPlace.set(where, (byPlace.get(where) ?? 0) + micros);
}

function top(title: string, table: Map<string, number>, count: number): void {
  console.log(`\n${title}`);
  for (const [name, micros] of [...table].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    console.log(`  ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
}

console.log(`\nprofile: ${join(profileDir, file)} (${(total / 1e6).toFixed(1)} s sampled)`);
top("self time by package or file", byPlace, 25);
top("self time by function", byFunction, 40);
