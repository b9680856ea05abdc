/**
 * Trent against its two baselines, with the same load generator, connections and duration: the
 * ceiling (a bare node:http server answering a fixed JSON body as large as Trent's response) and
 * moto_server (the emulator users would otherwise pick). Each server runs in its own process and
 * the load comes from a separate load process per run; this process only orchestrates. The three
 * are measured one after the other for each operation, so that a change in what else the machine
 * is doing shows in all three columns of a row rather than between rows.
 */
import { performance } from "node:perf_hooks";
import { startTrentProcess, type TrentProcess } from "../test/integration/trent-process.js";
import { type BaselineServer, startCeilingServer, startMotoServer } from "./baseline-servers.js";
import { type LoadResult, sendSigned, signKmsRequest, type Target } from "./load.js";
import { runLoadInChildProcess } from "./load-process.js";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);
const WARM_UP_SECONDS = Number(process.env.BENCH_WARM_UP_SECONDS ?? 1);
const GRACE_MS = 5_000;
const KEY_PAIR_WORKERS = 2;
/** Trent's key pair pools for the run. ECC_NIST_P256 keeps Trent's default depth; it is named so the bench can wait for it. */
const POOL_DEPTH = {
  RSA_2048: Number(process.env.BENCH_POOL_RSA_2048 ?? 64),
  RSA_4096: Number(process.env.BENCH_POOL_RSA_4096 ?? 32),
  ECC_NIST_P256: 8,
} as const;

type PoolSpec = keyof typeof POOL_DEPTH;

/** A key and a ciphertext under it, on one server. */
interface Fixture {
  readonly keyId: string;
  readonly ciphertextBlob: string;
}

interface Operation {
  readonly label: string;
  readonly name: string;
  readonly input: (fixture: Fixture) => unknown;
  /** Trent serves these from a pool filled beforehand; its run stops at the pool's depth. */
  readonly fromPool?: PoolSpec;
}

const PLAINTEXT = Buffer.alloc(32, 7).toString("base64");

const OPERATIONS: readonly Operation[] = [
  { label: "GenerateDataKey AES_256", name: "GenerateDataKey", input: (f) => ({ KeyId: f.keyId, KeySpec: "AES_256" }) },
  { label: "Decrypt", name: "Decrypt", input: (f) => ({ CiphertextBlob: f.ciphertextBlob }) },
  { label: "Encrypt (32 bytes)", name: "Encrypt", input: (f) => ({ KeyId: f.keyId, Plaintext: PLAINTEXT }) },
  ...(["ECC_NIST_P256", "RSA_2048", "RSA_4096"] as const).map(
    (spec): Operation => ({
      label: `GenerateDataKeyPair ${spec}`,
      name: "GenerateDataKeyPair",
      input: (f) => ({ KeyId: f.keyId, KeyPairSpec: spec }),
      ...(spec === "ECC_NIST_P256" ? {} : { fromPool: spec }),
    }),
  ),
];

type Outcome = { result: LoadResult } | { skipped: string };

interface Row {
  readonly trent: Outcome;
  /** The same Trent configuration with `--workers 2`: one process per core. */
  readonly twoWorkers: Outcome;
  /** One process with the audit trail off (`--audit-sink none`): what the trail costs. */
  readonly unaudited: Outcome;
  readonly ceiling: Outcome;
  readonly moto: Outcome;
}

async function call(target: Target, operation: string, input: unknown): Promise<{ json: unknown; bytes: number }> {
  const { status, body } = await sendSigned(target.url, await signKmsRequest(target, operation, input));
  if (status !== 200) throw new Error(`${operation} on ${target.url} answered ${status}: ${body.slice(0, 300)}`);
  return { json: JSON.parse(body), bytes: Buffer.byteLength(body) };
}

async function createFixture(target: Target): Promise<Fixture> {
  const created = (await call(target, "CreateKey", {})).json as { KeyMetadata: { KeyId: string } };
  const keyId = created.KeyMetadata.KeyId;
  const encrypted = (await call(target, "Encrypt", { KeyId: keyId, Plaintext: PLAINTEXT })).json as {
    CiphertextBlob: string;
  };
  return { keyId, ciphertextBlob: encrypted.CiphertextBlob };
}

/** Signs just before the run, so the date is fresh, and runs it in a load process. */
async function measure(
  target: Target,
  operation: Operation,
  fixture: Fixture,
  limits: { warmUp: boolean; maxRequests?: number },
): Promise<Outcome> {
  const request = await signKmsRequest(target, operation.name, operation.input(fixture));
  const result = await runLoadInChildProcess({
    url: target.url,
    request,
    connections: CONNECTIONS,
    warmUpMs: limits.warmUp ? WARM_UP_SECONDS * 1000 : 0,
    durationMs: SECONDS * 1000,
    graceMs: GRACE_MS,
    ...(limits.maxRequests === undefined ? {} : { maxRequests: limits.maxRequests }),
  });
  return { result };
}

const ms = (value: number | null) => (value === null ? "-" : value.toFixed(2));

function detail(server: string, operation: Operation, outcome: Outcome): void {
  const label = `${server.padEnd(8)} ${operation.label}`.padEnd(44);
  if ("skipped" in outcome) {
    process.stdout.write(`  ${label} skipped: ${outcome.skipped}\n`);
    return;
  }
  const r = outcome.result;
  const extra = [
    r.cut > 0 ? `cut=${r.cut}` : "",
    r.connectionsOpened > CONNECTIONS ? `connections opened=${r.connectionsOpened}` : "",
    r.firstError ? `first error: ${r.firstError.slice(0, 160)}` : "",
  ].filter((part) => part !== "");
  process.stdout.write(
    `  ${label} ${r.perSecond.toFixed(0).padStart(6)} req/s  p50=${ms(r.p50).padStart(7)} ms  p99=${ms(r.p99).padStart(7)} ms  n=${r.requests}  errors=${r.errors}${extra.map((part) => `  ${part}`).join("")}\n`,
  );
}

async function poolAvailable(trent: TrentProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${trent.url}/metrics`)).text();
  const available = new Map<string, number>();
  for (const match of text.matchAll(/trent_key_pair_pool_available\{spec="(\w+)"\} (\d+)/g)) {
    available.set(match[1] as string, Number(match[2]));
  }
  return available;
}

/**
 * Waits until Trent's pools are full, so that no refill is running on the cores while anything is
 * measured; returns the seconds it took.
 */
async function waitForPools(trent: TrentProcess): Promise<number> {
  const start = performance.now();
  const specs = Object.keys(POOL_DEPTH) as PoolSpec[];
  for (;;) {
    const available = await poolAvailable(trent);
    if (specs.every((spec) => (available.get(spec) ?? 0) >= POOL_DEPTH[spec])) {
      return (performance.now() - start) / 1000;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** An HTML error page's title, or the start of a JSON error. */
function describeBody(body: string): string {
  return (/<title>([^<]*)<\/title>/i.exec(body)?.[1] ?? body).replace(/\s+/g, " ").slice(0, 120);
}

async function startMoto(): Promise<{ moto: BaselineServer; fixture: Fixture } | { skipped: string }> {
  let moto: BaselineServer;
  try {
    moto = await startMotoServer();
  } catch (error) {
    return { skipped: `moto_server did not start (${error instanceof Error ? error.message : String(error)})` };
  }
  try {
    return { moto, fixture: await createFixture(moto) };
  } catch (error) {
    await moto.stop();
    return { skipped: `moto_server refused the set-up (${error instanceof Error ? error.message : String(error)})` };
  }
}

async function measureCeiling(operation: Operation, responseBytes: number, fixture: Fixture): Promise<Outcome> {
  const ceiling = await startCeilingServer(responseBytes);
  try {
    // Trent's own request body, so requests are alike too; the ceiling reads it and ignores it.
    return await measure(ceiling, operation, fixture, { warmUp: true });
  } finally {
    await ceiling.stop();
  }
}

async function measureMoto(operation: Operation, moto: BaselineServer, fixture: Fixture): Promise<Outcome> {
  const probe = await sendSigned(moto.url, await signKmsRequest(moto, operation.name, operation.input(fixture)));
  if (probe.status !== 200) return { skipped: `moto answers HTTP ${probe.status} (${describeBody(probe.body)})` };
  return measure(moto, operation, fixture, { warmUp: true });
}

function perSecond(outcome: Outcome): number | null {
  return "result" in outcome ? outcome.result.perSecond : null;
}

function ratio(trent: Outcome, other: Outcome, format: (r: number) => string): string {
  const a = perSecond(trent);
  const b = perSecond(other);
  return a === null || b === null || b === 0 ? "-" : format(a / b);
}

function printTable(rows: Map<Operation, Row>): void {
  const header = `${"operation".padEnd(32)} ${"Trent req/s".padStart(11)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"errors".padStart(7)} ${"ceiling req/s".padStart(13)} ${"moto req/s".padStart(10)} ${"Trent/ceiling".padStart(13)} ${"Trent/moto".padStart(10)} ${"x2 req/s".padStart(9)} ${"x2/ceiling".padStart(10)} ${"no-audit req/s".padStart(14)}`;
  process.stdout.write(`\n${header}\n${"-".repeat(header.length)}\n`);
  const notes = new Set<string>();
  for (const [operation, row] of rows) {
    const trent = "result" in row.trent ? row.trent.result : undefined;
    const errors = trent ? `${trent.errors}${trent.cut > 0 ? `+${trent.cut}` : ""}` : "-";
    const rate = (outcome: Outcome) => perSecond(outcome)?.toFixed(0) ?? "-";
    process.stdout.write(
      `${`${operation.label}${operation.fromPool ? "*" : ""}`.padEnd(32)} ${rate(row.trent).padStart(11)} ${ms(trent?.p50 ?? null).padStart(8)} ${ms(trent?.p99 ?? null).padStart(8)} ${errors.padStart(7)} ${rate(row.ceiling).padStart(13)} ${rate(row.moto).padStart(10)} ${ratio(row.trent, row.ceiling, (r) => `${(r * 100).toFixed(0)}%`).padStart(13)} ${ratio(row.trent, row.moto, (r) => `${r.toFixed(1)}x`).padStart(10)} ${rate(row.twoWorkers).padStart(9)} ${ratio(row.twoWorkers, row.ceiling, (r) => `${(r * 100).toFixed(0)}%`).padStart(10)} ${rate(row.unaudited).padStart(14)}\n`,
    );
    for (const [server, outcome] of Object.entries(row)) {
      if ("skipped" in outcome && server !== "twoWorkers" && server !== "unaudited")
        notes.add(`${server}, ${operation.label}: skipped, ${outcome.skipped}`);
    }
  }
  const pools = (Object.keys(POOL_DEPTH) as PoolSpec[]).filter((spec) => OPERATIONS.some((o) => o.fromPool === spec));
  process.stdout.write(
    `\n* Trent served every request of these runs from a pool filled beforehand (${pools.map((spec) => `${spec}=${POOL_DEPTH[spec]}`).join(", ")}, ${KEY_PAIR_WORKERS} refill workers): each run stops after that many requests, so its req/s is a burst from a full pool, not a sustained rate. Past its depth a pool sustains only what generation does (the key pairs section times it).\n`,
  );
  process.stdout.write(
    `  GenerateDataKeyPair ECC_NIST_P256 is a plain ${SECONDS} s run: its pool (depth ${POOL_DEPTH.ECC_NIST_P256}) empties at once and the rest are generated on demand or by the refill workers.\n`,
  );
  for (const note of notes) process.stdout.write(`  ${note}\n`);
}

export async function baselineSection(): Promise<void> {
  process.stdout.write(
    `\nTrent against its baselines (${CONNECTIONS} connections, ${SECONDS} s per operation after ${WARM_UP_SECONDS} s of warm-up, pre-signed requests replayed from a separate load process, one server under load at a time)\n`,
  );
  const pool = (Object.keys(POOL_DEPTH) as PoolSpec[]).map((spec) => `${spec}=${POOL_DEPTH[spec]}`).join(",");
  const trent = await startTrentProcess(["--key-pair-pool", pool, "--key-pair-workers", String(KEY_PAIR_WORKERS)]);
  // Pools are per worker process; the two-worker node is measured on the operations that need none.
  const twoWorkers = await startTrentProcess(["--workers", "2", "--key-pair-pool", "0"]);
  const unaudited = await startTrentProcess(["--audit-sink", "none", "--key-pair-pool", "0"]);
  const moto = await startMoto();
  const rows = new Map<Operation, Row>();
  try {
    const fixture = await createFixture(trent);
    const twoWorkersFixture = await createFixture(twoWorkers);
    const unauditedFixture = await createFixture(unaudited);
    // One answer per operation, for the ceiling's body sizes (and to fail early if Trent refuses one).
    const responseBytes = new Map<Operation, number>();
    for (const operation of OPERATIONS) {
      responseBytes.set(operation, (await call(trent, operation.name, operation.input(fixture))).bytes);
    }
    process.stdout.write(`  Filling Trent's key pair pools (${pool}, ${KEY_PAIR_WORKERS} workers)...`);
    process.stdout.write(` full after ${(await waitForPools(trent)).toFixed(1)} s\n`);
    for (const operation of OPERATIONS) {
      const waited = await waitForPools(trent); // Trent's last run may have drawn from a pool.
      if (waited > 1) process.stdout.write(`  (waited ${waited.toFixed(1)} s for Trent's pools to refill)\n`);
      const ceiling = await measureCeiling(operation, responseBytes.get(operation) ?? 0, fixture);
      detail("ceiling", operation, ceiling);
      const motoOutcome = "skipped" in moto ? moto : await measureMoto(operation, moto.moto, moto.fixture);
      detail("moto", operation, motoOutcome);
      const trentOutcome = await measure(trent, operation, fixture, {
        // A warm-up would draw the pool down; Trent is warm from the runs before by then.
        warmUp: operation.fromPool === undefined,
        ...(operation.fromPool ? { maxRequests: POOL_DEPTH[operation.fromPool] } : {}),
      });
      detail("Trent", operation, trentOutcome);
      const twoWorkersOutcome: Outcome =
        operation.fromPool === undefined
          ? await measure(twoWorkers, operation, twoWorkersFixture, { warmUp: true })
          : { skipped: "pooled operations are measured on one worker" };
      detail("Trent x2", operation, twoWorkersOutcome);
      const unauditedOutcome: Outcome =
        operation.fromPool === undefined
          ? await measure(unaudited, operation, unauditedFixture, { warmUp: true })
          : { skipped: "pooled operations are measured with the audit trail on only" };
      detail("no audit", operation, unauditedOutcome);
      rows.set(operation, {
        trent: trentOutcome,
        twoWorkers: twoWorkersOutcome,
        unaudited: unauditedOutcome,
        ceiling,
        moto: motoOutcome,
      });
    }
  } finally {
    await trent.stop();
    await twoWorkers.stop();
    await unaudited.stop();
    if ("moto" in moto) await moto.moto.stop();
  }
  printTable(rows);
}
