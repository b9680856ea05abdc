import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CancelKeyDeletionCommand, EnableKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import fc from "fast-check";
import {
  createDatabase,
  dropDatabase,
  startTrentProcess,
  type TrentProcess,
  testStore,
} from "../integration/trent-process.js";
import { createTestAttestationCa, mintAttestationDocument, type TestAttestationCa } from "./attestation-documents.js";
import { DkmsClient, loadClientKey } from "./dkms-client.js";
import {
  type AlibabaCase,
  AlibabaRequestBuilder,
  alibabaCase,
  alibabaErrorCode,
  alibabaMutationContext,
  checkAlibabaResponse,
  createAlibabaFixtures,
} from "./fuzz-alibaba.js";
import {
  type AwsCase,
  type AwsFixtures,
  AwsRequestBuilder,
  awsCase,
  awsErrorCode,
  awsMutationContext,
  checkAwsResponse,
  createAwsFixtures,
} from "./fuzz-aws.js";
import {
  describeRequest,
  endpointOf,
  FuzzConnection,
  NoResponse,
  ResponseTimeout,
  type WireRequest,
  type WireResponse,
} from "./fuzz-http.js";

/**
 * The fuzzing harness shared by the CI test (test/integration/fuzz.test.ts) and the long run
 * (bench/fuzz.ts): a real `trent serve` with both listeners, fixtures made by real clients,
 * fast-check generating mutated requests from valid ones, and the properties every answer must
 * have — no 5xx, a KMS error body in the edge's own form, an answer within the timeout, a server
 * that stays up — with the server's resident memory sampled throughout.
 */

/**
 * The server runs as deployed, with AWS's default request quotas: a throttled request is a valid
 * answer too, and hostile regions and accounts exercise the quota buckets' bounds.
 */
const QUOTAS = "default";

/** A Trent process the fuzzer can restart on the same data (and database) after a crash. */
export class FuzzServer {
  private current: TrentProcess;
  /** Bumped on every restart: requests in flight across one are not counted against the new process. */
  generation = 0;
  readonly exits: string[] = [];
  /** Log lines at level error or above (pino: 50), which mean an unexpected exception. */
  readonly errorLogs: string[] = [];
  errorLogCount = 0;

  private constructor(
    trent: TrentProcess,
    private readonly args: readonly string[],
    readonly dataDir: string,
    private readonly database: string | undefined,
    private readonly nodeArgs: readonly string[],
    readonly attestationCa: TestAttestationCa,
  ) {
    this.current = trent;
    this.watch(trent);
  }

  /** `nodeArgs` go to node itself, e.g. --cpu-prof to see where the server spends a run. */
  static async start(extraArgs: readonly string[] = [], nodeArgs: readonly string[] = []): Promise<FuzzServer> {
    const dataDir = mkdtempSync(join(tmpdir(), "trent-fuzz-"));
    const store = testStore();
    const database = store.kind === "postgres" ? await createDatabase(store.serverUrl) : undefined;
    // Recipient requests carry documents from a throwaway attestation CA, valid for the whole run.
    const attestationCa = await createTestAttestationCa();
    const roots = join(dataDir, "fuzz-attestation-roots.pem");
    writeFileSync(roots, attestationCa.rootPem);
    const args = [
      "--listen-tls",
      "127.0.0.1:0",
      "--attestation-roots",
      roots,
      "--attestation-max-age",
      String(7 * 24 * 3600),
      ...(database === undefined ? [] : ["--store", database]),
      ...extraArgs,
    ];
    try {
      const trent = await startTrentProcess(args, { dataDir, nodeArgs, quotas: QUOTAS });
      return new FuzzServer(trent, args, dataDir, database, nodeArgs, attestationCa);
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true });
      if (database !== undefined) await dropDatabase(database);
      throw error;
    }
  }

  get trent(): TrentProcess {
    return this.current;
  }

  get alive(): boolean {
    return this.current.process.exitCode === null && this.current.process.signalCode === null;
  }

  /** The server's resident set size in bytes, from /proc (Linux). */
  rssBytes(): number | null {
    try {
      const status = readFileSync(`/proc/${this.current.process.pid}/status`, "utf8");
      const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      return kilobytes === undefined ? null : Number(kilobytes) * 1024;
    } catch {
      return null;
    }
  }

  async restart(): Promise<void> {
    await this.current.stop();
    this.current = await startTrentProcess([...this.args], {
      dataDir: this.dataDir,
      nodeArgs: this.nodeArgs,
      quotas: QUOTAS,
    });
    this.watch(this.current);
    this.generation++;
  }

  async stop(): Promise<void> {
    await this.current.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
    if (this.database !== undefined) await dropDatabase(this.database);
  }

  private watch(trent: TrentProcess): void {
    trent.process.once("exit", (code, signal) => {
      this.exits.push(`pid ${trent.process.pid} exited with ${signal ?? `code ${code}`}`);
    });
    const lines = createInterface({ input: trent.process.stdout as NonNullable<typeof trent.process.stdout> });
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      try {
        const entry = JSON.parse(line) as { level?: number };
        if ((entry.level ?? 0) < 50) return;
      } catch {
        return;
      }
      this.errorLogCount++;
      if (this.errorLogs.length < 10) this.errorLogs.push(line.slice(0, 2000));
    });
  }
}

export type FuzzCase =
  | { readonly edge: "aws"; readonly aws: AwsCase }
  | { readonly edge: "alibaba"; readonly alibaba: AlibabaCase };

/** Fixtures on a running server, and the cases and requests made from them. */
export class Fuzzer {
  private constructor(
    private readonly fixtures: AwsFixtures,
    readonly arbitrary: fc.Arbitrary<FuzzCase>,
    private aws: AwsRequestBuilder,
    private alibaba: AlibabaRequestBuilder,
    private readonly server: FuzzServer,
    private readonly ca: string,
  ) {}

  static async create(server: FuzzServer, alibabaWeight = 10): Promise<Fuzzer> {
    const trent = server.trent;
    const target = { url: trent.url, region: trent.region, accountId: trent.accountId, credentials: trent.credentials };
    const attestation = await mintAttestationDocument({ ca: server.attestationCa });
    const awsFixtures = await createAwsFixtures(target, attestation.document);
    const ca = readFileSync(join(server.dataDir, "ca.pem"), "utf8");
    const clientKeyFile = join(server.dataDir, "alibaba-client-key.json");
    const password = readFileSync(join(server.dataDir, "alibaba-client-key.password"), "utf8").trim();
    const dkms = new DkmsClient(trent.tlsUrl as string, ca, clientKeyFile, password);
    const alibabaFixtures = await createAlibabaFixtures(dkms, awsFixtures);
    const awsContext = awsMutationContext(awsFixtures);
    const arbitrary = fc.oneof(
      { weight: 100 - alibabaWeight, arbitrary: awsCase(awsFixtures).map((aws): FuzzCase => ({ edge: "aws", aws })) },
      {
        weight: alibabaWeight,
        arbitrary: alibabaCase(alibabaFixtures).map((alibaba): FuzzCase => ({ edge: "alibaba", alibaba })),
      },
    );
    return new Fuzzer(
      awsFixtures,
      arbitrary,
      new AwsRequestBuilder(target, awsContext),
      new AlibabaRequestBuilder(
        trent.tlsUrl as string,
        loadClientKey(clientKeyFile, password),
        alibabaMutationContext(awsContext, alibabaFixtures),
      ),
      server,
      ca,
    );
  }

  /**
   * A mutated X-Amz-Target can send a fixture's own request to DisableKey or
   * ScheduleKeyDeletion: put the fixture keys back in service, so the rest of a long run still
   * reaches the operations behind the key-state checks.
   */
  async restoreFixtures(): Promise<void> {
    const trent = this.server.trent;
    const kms = new KMSClient({
      endpoint: trent.url,
      region: trent.region,
      credentials: trent.credentials,
      maxAttempts: 20,
    });
    const f = this.fixtures;
    try {
      for (const key of [f.symmetric, f.secondSymmetric, f.rsaEncrypt, f.rsaSign, f.eccSign, f.hmac, f.eccAgreement]) {
        // Best effort: a key already in service refuses CancelKeyDeletion, and a crash is found elsewhere.
        await kms.send(new CancelKeyDeletionCommand({ KeyId: key.id })).catch(() => undefined);
        await kms.send(new EnableKeyCommand({ KeyId: key.id })).catch(() => undefined);
      }
    } finally {
      kms.destroy();
    }
  }

  /** Follows the server to its new address after a restart. */
  retarget(): void {
    const trent = this.server.trent;
    this.aws = this.aws.withTarget({
      url: trent.url,
      region: trent.region,
      accountId: trent.accountId,
      credentials: trent.credentials,
    });
    this.alibaba = this.alibaba.withUrl(trent.tlsUrl as string);
  }

  async build(testCase: FuzzCase, now: number): Promise<WireRequest> {
    return testCase.edge === "aws" ? this.aws.build(testCase.aws, now) : this.alibaba.build(testCase.alibaba, now);
  }

  connections(): { aws: FuzzConnection; alibaba: FuzzConnection } {
    const trent = this.server.trent;
    return {
      aws: new FuzzConnection(endpointOf(trent.url)),
      alibaba: new FuzzConnection(endpointOf(trent.tlsUrl as string, this.ca)),
    };
  }
}

/** node:http builds `request.headers`, which the listener routes by, from the first 1000 headers only. */
const MAX_HEADERS = 1000;

/** Requests carrying x-kms-apiname go to the Alibaba edge, whichever listener they reach. */
export function routedToAlibaba(request: WireRequest): boolean {
  return request.headers.slice(0, MAX_HEADERS).some(([name]) => name.toLowerCase() === "x-kms-apiname");
}

/** node:http's limit on the request line and headers (431 above it). */
const HEADER_LIMIT = 16 * 1024;
/** A body this large is still being written when the listener answers a request early. */
const LARGE_BODY = 64 * 1024;

/**
 * The listener answers some requests before reading their bodies (400 for one the HTTP parser
 * refuses, 413 for a body over the limit, 417 for an Expect it does not support, 431 for headers
 * over 16 KiB) and then closes without reading the rest, so a client still writing a large request
 * may get a reset instead of the answer. Counted apart: a known issue of the listener, not something the edges or operations do.
 */
function resetWhileWritingLargeRequest(request: WireRequest, error: NoResponse): boolean {
  const headerBytes = request.headers.reduce((total, [name, value]) => total + name.length + value.length + 4, 0);
  return error.reset && (request.body.length >= LARGE_BODY || headerBytes > HEADER_LIMIT);
}

export function checkResponse(request: WireRequest, response: WireResponse): string | null {
  return routedToAlibaba(request) ? checkAlibabaResponse(request, response) : checkAwsResponse(request, response);
}

export interface Violation {
  readonly problem: string;
  readonly request: string;
  readonly response: string;
}

export interface RssFigures {
  readonly startBytes: number;
  readonly peakBytes: number;
  readonly endBytes: number;
  /** At each tenth of the run, to tell a plateau from growth. */
  readonly checkpoints: readonly number[];
}

export class FuzzStats {
  requests = 0;
  readonly byStatus = new Map<number, number>();
  readonly byCode = new Map<string, number>();
  /** 200s by operation: evidence that the valid requests reach the operations. */
  readonly successes = new Map<string, number>();
  serverErrors = 0;
  hangs = 0;
  noResponse = 0;
  badBodies = 0;
  crashes = 0;
  /** Requests in flight when the server was restarted after a crash: not counted either way. */
  lostToRestart = 0;
  /** Large requests whose early answer a connection reset swallowed (see resetWhileWritingLargeRequest). */
  resetWhileWriting = 0;
  readonly violations: Violation[] = [];
  /** The slowest answers: milliseconds and the request's first bytes. */
  readonly slowest: { ms: number; request: string }[] = [];

  count(map: Map<string | number, number>, key: string | number): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  get violationCount(): number {
    return this.serverErrors + this.hangs + this.noResponse + this.badBodies + this.crashes;
  }

  timed(ms: number, request: WireRequest): void {
    if (this.slowest.length >= 5 && ms <= (this.slowest.at(-1) as { ms: number }).ms) return;
    this.slowest.push({ ms, request: describeRequest(request).slice(0, 300) });
    this.slowest.sort((a, b) => b.ms - a.ms);
    this.slowest.length = Math.min(this.slowest.length, 5);
  }

  keep(violation: Violation): void {
    if (this.violations.length < 20) this.violations.push(violation);
  }
}

export interface FuzzOptions {
  readonly seed: number;
  readonly requests: number;
  /** Independent fast-check runs in parallel, seeds seed, seed+1, ...; one request in flight each. */
  readonly concurrency: number;
  readonly timeoutMs: number;
  /**
   * "assert": the first violation stops its run and fast-check shrinks it against the live server.
   * "count": every request is checked and counted, the run goes on, a crashed server is restarted.
   */
  readonly mode: "assert" | "count";
  /** Stop generating after this long (assert mode; counts what ran). */
  readonly timeLimitMs?: number;
  /** Replays one counterexample: `seed:path` as a failure printed it. */
  readonly replay?: string;
  readonly onProgress?: (stats: FuzzStats, rssBytes: number | null) => void;
  readonly progressEveryMs?: number;
}

export interface FuzzReport {
  readonly stats: FuzzStats;
  readonly rss: RssFigures;
  readonly elapsedMs: number;
  /** fast-check's failures, with seed, path and the shrunk request, in assert mode. */
  readonly failures: readonly string[];
}

function describeResponse(response: WireResponse | null): string {
  if (response === null) return "none";
  const body =
    response.body.length > 600 ? `${response.body.toString("latin1", 0, 600)} …` : response.body.toString("latin1");
  return `HTTP ${response.status} ${JSON.stringify([...response.headers])} ${JSON.stringify(body)}`;
}

function operationOf(testCase: FuzzCase): string {
  return testCase.edge === "aws" ? `aws:${testCase.aws.call.operation}` : `alibaba:${testCase.alibaba.call.api}`;
}

const RESTORE_EVERY_MS = 15_000;

export async function runFuzz(server: FuzzServer, fuzzer: Fuzzer, options: FuzzOptions): Promise<FuzzReport> {
  const stats = new FuzzStats();
  const started = performance.now();
  const startBytes = server.rssBytes() ?? 0;
  let peakBytes = startBytes;
  const checkpoints: number[] = [];
  const sampler = setInterval(() => {
    const rss = server.rssBytes();
    if (rss !== null) peakBytes = Math.max(peakBytes, rss);
  }, 250);
  let lastProgress = performance.now();
  let lastRestore = performance.now();
  let restoring: Promise<void> | null = null;
  let restarting: Promise<void> | null = null;
  let stoppedBy: number | null = null;

  const handleCrash = async () => {
    if (restarting === null) {
      stats.crashes++;
      stats.keep({ problem: `crash: ${server.exits.at(-1) ?? "exited"}`, request: "", response: "" });
      restarting = server.restart().then(() => {
        fuzzer.retarget();
        restarting = null;
      });
    }
    await restarting;
  };

  const loop = async (index: number, seed: number, numRuns: number, path?: string) => {
    let generation = server.generation;
    let connections = fuzzer.connections();
    const property = fc.asyncProperty(fuzzer.arbitrary, async (testCase) => {
      if (stoppedBy !== null && stoppedBy !== index) return;
      if (generation !== server.generation) {
        connections.aws.close();
        connections.alibaba.close();
        generation = server.generation;
        connections = fuzzer.connections();
      }
      const request = await fuzzer.build(testCase, Date.now());
      const connection = testCase.edge === "aws" ? connections.aws : connections.alibaba;
      let response: WireResponse | null = null;
      let problem: string | null;
      const sent = performance.now();
      try {
        response = await connection.send(request, options.timeoutMs);
        stats.timed(performance.now() - sent, request);
        problem = checkResponse(request, response);
      } catch (error) {
        if (!(error instanceof ResponseTimeout || error instanceof NoResponse)) throw error;
        if (error instanceof NoResponse && resetWhileWritingLargeRequest(request, error) && server.alive) {
          stats.requests++;
          stats.resetWhileWriting++;
          return;
        }
        if (options.mode === "count" && (!server.alive || generation !== server.generation)) {
          if (!server.alive) await handleCrash();
          else stats.lostToRestart++;
          return;
        }
        problem = error instanceof ResponseTimeout ? `hang: ${error.message}` : `no response: ${error.message}`;
        if (!server.alive) problem = `crash (${server.exits.at(-1) ?? "exited"}) after ${problem}`;
      }
      stats.requests++;
      if (response !== null) {
        stats.count(stats.byStatus, response.status);
        const code = routedToAlibaba(request) ? alibabaErrorCode(request, response) : awsErrorCode(response);
        if (code !== null) stats.count(stats.byCode, code);
        if (response.status === 200) stats.count(stats.successes, operationOf(testCase));
      }
      if (problem !== null) {
        if (problem.startsWith("HTTP 5")) stats.serverErrors++;
        else if (problem.startsWith("hang")) stats.hangs++;
        else if (problem.startsWith("no response")) stats.noResponse++;
        else if (problem.startsWith("crash")) stats.crashes++;
        else stats.badBodies++;
        const violation = { problem, request: describeRequest(request), response: describeResponse(response) };
        stats.keep(violation);
        if (options.mode === "assert") {
          stoppedBy ??= index;
          throw new Error(`${problem}\n  request: ${violation.request}\n  response: ${violation.response}`);
        }
      }
      if (restoring === null && restarting === null && performance.now() - lastRestore >= RESTORE_EVERY_MS) {
        lastRestore = performance.now();
        restoring = fuzzer.restoreFixtures().finally(() => {
          restoring = null;
        });
        await restoring;
      }
      if (options.onProgress !== undefined && performance.now() - lastProgress >= (options.progressEveryMs ?? 10_000)) {
        lastProgress = performance.now();
        options.onProgress(stats, server.rssBytes());
      }
      const tenth = Math.floor((stats.requests * 10) / options.requests);
      while (checkpoints.length < Math.min(tenth, 10)) checkpoints.push(server.rssBytes() ?? 0);
    });
    const details = await fc.check(property, {
      seed,
      numRuns,
      ...(path === undefined ? {} : { path }),
      ...(options.timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: options.timeLimitMs }),
      markInterruptAsFailure: false,
    });
    connections.aws.close();
    connections.alibaba.close();
    if (!details.failed) return null;
    const error =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    return (
      `fast-check run with seed ${details.seed} failed (run ${details.numRuns}, ${details.numShrinks} shrinks) ` +
      `(replay: TRENT_FUZZ_REPLAY=${details.seed}:${details.counterexamplePath}):\n${error}`
    );
  };

  let failures: (string | null)[];
  try {
    if (options.replay !== undefined) {
      const [seed, path] = options.replay.split(":") as [string, string];
      failures = [await loop(0, Number(seed), 1, path)];
    } else {
      const perLoop = Math.ceil(options.requests / options.concurrency);
      failures = await Promise.all(
        Array.from({ length: options.concurrency }, (_, index) => loop(index, options.seed + index, perLoop)),
      );
    }
  } finally {
    clearInterval(sampler);
  }
  const endBytes = server.rssBytes() ?? 0;
  peakBytes = Math.max(peakBytes, endBytes);
  return {
    stats,
    rss: { startBytes, peakBytes, endBytes, checkpoints },
    elapsedMs: performance.now() - started,
    failures: failures.filter((failure): failure is string => failure !== null),
  };
}

const MB = 1024 * 1024;

/** The figures a run prints: totals by status and error code, violations, memory, rate. */
export function formatReport(report: FuzzReport, server: FuzzServer): string {
  const { stats, rss } = report;
  const sorted = <K>(map: Map<K, number>) => [...map].sort((a, b) => b[1] - a[1]);
  const lines = [
    `requests: ${stats.requests} in ${(report.elapsedMs / 1000).toFixed(1)} s (${(stats.requests / (report.elapsedMs / 1000)).toFixed(0)} requests/s)`,
    `by status: ${sorted(stats.byStatus)
      .map(([status, count]) => `${status}=${count}`)
      .join(" ")}`,
    `by error code: ${sorted(stats.byCode)
      .map(([code, count]) => `${code}=${count}`)
      .join(" ")}`,
    `200s by the operation the request was made for: ${sorted(stats.successes)
      .map(([operation, count]) => `${operation}=${count}`)
      .join(" ")}`,
    `5xx: ${stats.serverErrors}  crashes: ${stats.crashes}  hangs: ${stats.hangs}  no response: ${stats.noResponse}  bad error bodies: ${stats.badBodies}  lost to restarts: ${stats.lostToRestart}`,
    `large requests whose early answer (400/413/417/431) was lost to a connection reset (the listener closes without draining): ${stats.resetWhileWriting}`,
    `server error log lines: ${server.errorLogCount}`,
    `server RSS: start ${(rss.startBytes / MB).toFixed(1)} MB, peak ${(rss.peakBytes / MB).toFixed(1)} MB, end ${(rss.endBytes / MB).toFixed(1)} MB; ` +
      `at each tenth: ${rss.checkpoints.map((bytes) => (bytes / MB).toFixed(0)).join(", ")} MB`,
  ];
  for (const violation of stats.violations.slice(0, 5)) {
    lines.push(`violation: ${violation.problem}\n  request: ${violation.request}\n  response: ${violation.response}`);
  }
  for (const slow of stats.slowest) lines.push(`slow: ${slow.ms.toFixed(0)} ms: ${slow.request}`);
  for (const line of server.errorLogs.slice(0, 3)) lines.push(`server error log: ${line}`);
  return lines.join("\n");
}
