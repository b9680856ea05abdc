/**
 * The long fuzzing mode: at least a million mutated requests against one live `trent serve`
 * (both edges), every answer checked, every violation counted rather than stopping the run, a
 * crashed server restarted on the same data and counted. Prints totals by status and error code,
 * 5xx / crash / hang counts, the server's resident memory (start, peak, end, and at each tenth)
 * and requests per second; exits 1 on any violation or when memory kept growing.
 *
 *   npm run build && node dist/bench/fuzz.js [--requests 1000000] [--concurrency 4] [--seed N]
 *     [--timeout-ms 15000] [--alibaba-weight 10] [--max-rss-mb 1024] [-- extra trent serve args]
 *
 * TRENT_TEST_STORE=postgres with TRENT_TEST_POSTGRES_URL runs it on PostgreSQL.
 */
import { parseArgs } from "node:util";
import { Fuzzer, FuzzServer, formatReport, runFuzz } from "../test/support/fuzz-run.js";

const { values, positionals } = parseArgs({
  options: {
    requests: { type: "string", default: "1000000" },
    concurrency: { type: "string", default: "4" },
    seed: { type: "string" },
    "timeout-ms": { type: "string", default: "15000" },
    "alibaba-weight": { type: "string", default: "10" },
    "max-rss-mb": { type: "string", default: "1024" },
  },
  allowPositionals: true,
});

const MB = 1024 * 1024;
const requests = Number(values.requests);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const maxRssBytes = Number(values["max-rss-mb"]) * MB;

const server = await FuzzServer.start(positionals);
let failed = false;
try {
  const fuzzer = await Fuzzer.create(server, Number(values["alibaba-weight"]));
  process.stdout.write(
    `Fuzzing Trent (pid ${server.trent.process.pid}, ${server.trent.url} and ${server.trent.tlsUrl}): ` +
      `${requests} requests, concurrency ${values.concurrency}, seed ${seed}\n`,
  );
  const started = performance.now();
  const report = await runFuzz(server, fuzzer, {
    seed,
    requests,
    concurrency: Number(values.concurrency),
    timeoutMs: Number(values["timeout-ms"]),
    mode: "count",
    progressEveryMs: 30_000,
    onProgress: (stats, rss) => {
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `  ${stats.requests} requests in ${seconds.toFixed(0)} s (${(stats.requests / seconds).toFixed(0)}/s), ` +
          `violations ${stats.violationCount}, server RSS ${((rss ?? 0) / MB).toFixed(0)} MB\n`,
      );
    },
  });
  process.stdout.write(`${formatReport(report, server)}\n`);
  const { rss, stats } = report;
  // Growth that has not levelled off by the second half of the run is what "unbounded" looks like.
  const middle = rss.checkpoints[4] ?? rss.startBytes;
  const lateGrowth = rss.endBytes - middle;
  const growing = lateGrowth > Math.max(64 * MB, middle / 4);
  process.stdout.write(
    `RSS growth over the second half: ${(lateGrowth / MB).toFixed(1)} MB; ` +
      `peak ${(rss.peakBytes / MB).toFixed(0)} MB of the ${values["max-rss-mb"]} MB allowed\n`,
  );
  failed = stats.violationCount > 0 || growing || rss.peakBytes > maxRssBytes;
  process.stdout.write(failed ? "FAILED\n" : "PASSED: no 5xx, crash, hang or non-KMS error body; memory bounded\n");
} finally {
  await server.stop();
}
process.exitCode = failed ? 1 : 0;
