/**
 * The load process: reads one LoadJob as JSON on stdin, runs its warm-up and then the measured run,
 * and prints the measured run's LoadResult as JSON on stdout. The bench starts one per run, so the
 * load never shares an event loop with the orchestration or with a server under test.
 */
import { type LoadJob, prepareRequests, runLoad } from "./load.js";

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8")) as LoadJob;
const requests = await prepareRequests(job);
if (job.warmUpMs !== undefined && job.warmUpMs > 0) {
  const { url, connections, graceMs } = job;
  await runLoad({ url, connections, graceMs, durationMs: job.warmUpMs }, requests);
}
const result = await runLoad(job, requests);
process.stdout.write(`${JSON.stringify(result)}\n`);
